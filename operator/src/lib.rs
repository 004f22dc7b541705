//! shoal: a GitOps operator for Docker Swarm hosts with GlusterFS storage.
//!
//! The data flows one way, and the modules follow it, upper layers calling lower ones
//! only (tests/layers.rs checks it):
//!
//! ```text
//! commands      what each subcommand does (main.rs only parses arguments)
//! controller    `shoal run`: triggers, work queue, decide (pure) -> act, lease, server
//! agent         `shoal agent`: host mounts and directories, its status endpoint
//! apply         swarm::apply, swarm::wait, gluster::apply: the writes, and waiting
//! plan          ordered changes, the gates that block them, rendered as text or JSON;
//!               heal: what happened to nodes and their tasks between observations
//! diff          normalise both sides, compare field by field; swarm::render (desired
//!               resources as engine specs)
//! observe       everything that reads the live world into one `Live`: swarm lists,
//!               gluster pool, agents' reports
//! adapters      swarm::{engine, labels, rollout}, gluster::{cli, xml, ops},
//!               agent::report, host: the engines' vocabulary, no decisions
//! source        loading and validating a directory (with file:line:col), watch, git
//! resources     the kinds (serde + schemars), validation rules, quantities
//! diagnostics   problems with their places in the files
//! ```
//!
//! diff and plan (and the controller's `decide`) are pure: no I/O, tested on engine
//! answers recorded in the lab (tests/fixtures).

pub mod agent;
pub mod commands;
pub mod controller;
pub mod diagnostics;
pub mod diff;
pub mod doctor;
pub mod gluster;
pub mod heal;
pub mod host;
pub mod import;
pub mod observe;
pub mod plan;
pub mod resources;
pub mod schema;
pub mod source;
pub mod swarm;
