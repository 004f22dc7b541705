//! Where a service's rollout stands, read once from the engine's update status, so that
//! `shoal apply`'s wait and `shoal run`'s health agree on what a rollout in each state
//! means.

use bollard::models::{Service, ServiceUpdateStatusStateEnum as State};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// No rollout, or the last one completed.
    Settled,
    /// Tasks are being replaced with the new spec.
    Updating,
    /// The update paused on failed tasks (`failureAction: pause`).
    Paused,
    /// Swarm gave up on the update and restores the previous spec (started, paused or
    /// completed): the spec asked for is not the one running.
    RolledBack,
}

impl Rollout {
    pub fn of(service: &Service) -> Rollout {
        match service.update_status.as_ref().and_then(|u| u.state) {
            Some(State::UPDATING) => Rollout::Updating,
            Some(State::PAUSED) => Rollout::Paused,
            Some(State::ROLLBACK_STARTED | State::ROLLBACK_PAUSED | State::ROLLBACK_COMPLETED) => {
                Rollout::RolledBack
            }
            _ => Rollout::Settled,
        }
    }
}

/// The message of a rollback started by hand (`docker service rollback`), while it runs.
pub const MANUAL_ROLLBACK: &str = "manually requested rollback";

/// The engine's message about the last rollout, if it gave one.
pub fn message(service: &Service) -> Option<&str> {
    service.update_status.as_ref()?.message.as_deref()
}
