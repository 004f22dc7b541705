//! `shoal run`: the plan/apply pipeline driven by triggers through a per-resource work
//! queue, in the manner of kube-runtime's controller.

pub mod engine_events;
pub mod events;
pub mod lease;
pub mod metrics;
pub mod observation;
pub mod queue;
pub mod reconcile;
pub mod run;
pub mod shared;
pub mod status;

use status::ResourceKey;

/// Why the queue should look at resources.
#[derive(Debug)]
pub enum Trigger {
    /// Something about this resource changed.
    Key(ResourceKey),
    /// Anything may have changed (a new revision, a reconnect, the resync timer).
    All,
}
