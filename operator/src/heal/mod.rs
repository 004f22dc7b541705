//! Healing after node crashes: what happened to the nodes and their tasks, told as events
//! (`NodeDown`, `TasksRescheduled`, `TasksPending`, `NodeReady`, `NodeDrained`). Pure:
//! the controller feeds it observations and records what it returns.

pub mod nodes;
