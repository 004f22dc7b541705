//! The Docker Engine side: connecting (as the docker CLI does), shoal's labels, rollout
//! states, rendering desired resources as engine specs, applying changes and waiting for
//! them, and which engine versions shoal talks to. Reading the swarm is `observe::swarm`.

pub mod apply;
pub mod data;
pub mod engine;
pub mod force;
pub mod keep;
pub mod labels;
pub mod render;
pub mod rollout;
pub mod version;
pub mod wait;
