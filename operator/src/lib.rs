//! shoal: a GitOps operator for Docker Swarm hosts with GlusterFS storage.
//!
//! The data flows one way: `source` loads the desired-state directory into typed
//! `resources`, which are validated; later stages observe the live swarm, diff, plan and
//! apply. `commands` holds what each CLI subcommand does; `main.rs` only parses arguments.

pub mod agent;
pub mod commands;
pub mod controller;
pub mod diagnostics;
pub mod diff;
pub mod gluster;
pub mod observe;
pub mod plan;
pub mod resources;
pub mod schema;
pub mod server;
pub mod source;
pub mod swarm;
