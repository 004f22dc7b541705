//! Healing after node crashes: what happened to the nodes and their tasks (`NodeDown`,
//! `TasksRescheduled`, `TasksPending`, `NodeReady`, `NodeDrained`) and to the volumes
//! (`VolumeDegraded`, `HealStarted`, `HealProgress`, `Healed`, `HealStalled`). Pure: the
//! controller feeds it observations and acts on what it returns.

pub mod capacity;
pub mod nodes;
pub mod rebalance;
pub mod storage;
pub mod tasks;
