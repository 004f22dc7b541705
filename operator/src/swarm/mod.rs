//! The Docker Engine side: connecting (as the docker CLI does), observing a swarm with a
//! few list calls, rendering desired resources as engine specs, and applying changes.

pub mod apply;
pub mod engine;
pub mod labels;
pub mod render;
pub mod rollout;
pub mod wait;
