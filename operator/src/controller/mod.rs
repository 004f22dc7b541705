//! `shoal run`: the plan/apply pipeline driven by triggers through a per-resource work
//! queue, in the manner of kube-runtime's controller.

pub mod dashboard;
pub mod decide;
pub mod doctor;
pub mod engine;
pub mod engine_events;
pub mod events;
#[cfg(test)]
pub mod fake;
pub mod heal;
pub mod lease;
pub mod metrics;
pub mod notify;
pub mod observation;
pub mod queue;
pub mod reconcile;
pub mod run;
pub mod server;
pub mod shared;
pub mod source;
pub mod status;
pub mod views;
pub mod webhook;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use status::ResourceKey;

/// Now as time since the Unix epoch (zero for a clock set before 1970).
pub fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Why the queue should look at resources.
#[derive(Debug)]
pub enum Trigger {
    /// Something about this resource changed.
    Key(ResourceKey, Why),
    /// Anything may have changed.
    All(Why),
}

/// What caused a reconcile: shown in its tracing span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A new desired-state revision.
    Revision,
    /// An engine event about the resource.
    EngineEvent,
    /// The events stream was open again: what happened meanwhile is unknown.
    Reconnected,
    /// The periodic look at everything.
    Resync,
    /// This instance took the lease.
    LeaseAcquired,
    /// A managed object desired-state no longer has (to prune).
    Leftover,
    /// A reconcile asked to look again later (waiting, converging, backing off).
    Requeue,
    /// The watch of nodes and volumes saw the resource's health change.
    Health,
}
