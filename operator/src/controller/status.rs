//! The status of every resource as `shoal run` last saw it, in the vocabulary of Argo CD
//! and Flux: sync (Synced / OutOfSync: does live match desired-state?) and health
//! (Healthy / Progressing / Degraded / Missing: does it work?), with conditions saying
//! why. Health is computed from observed state only. Pure.

use std::fmt;
use std::time::SystemTime;

use bollard::models::{NodeState, ServiceUpdateStatusStateEnum};
use serde::Serialize;

use crate::plan::Plan;
use crate::resources::{Desired, Kind};
use crate::swarm::live::Live;

/// A resource's identity in the queue, the status and events: `Service/web`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ResourceKey {
    pub kind: Kind,
    pub name: String,
}

impl ResourceKey {
    pub fn new(kind: Kind, name: impl Into<String>) -> ResourceKey {
        ResourceKey {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Sync {
    Synced,
    OutOfSync,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Health {
    Healthy,
    Progressing,
    Degraded,
    Missing,
    Unknown,
}

/// One condition: a named fact with why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

/// What `/api/v1/status` says of one resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceStatus {
    pub kind: Kind,
    pub name: String,
    pub sync: Sync,
    pub health: Health,
    /// `enforce` or `report`.
    pub drift: &'static str,
    pub conditions: Vec<Condition>,
    /// The revision (git commit) last applied to the object by this instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_time"
    )]
    pub last_applied: Option<SystemTime>,
    /// The desired spec's hash this status was computed against: a new revision that
    /// changes the spec makes the status Unknown until the resource is reconciled again.
    #[serde(skip)]
    pub desired_hash: String,
}

fn optional_time<S: serde::Serializer>(time: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => super::events::rfc3339::serialize(time, s),
        None => s.serialize_none(),
    }
}

/// The health of `key` in what was observed.
pub fn health(key: &ResourceKey, live: &Live, plan: &Plan, desired: &Desired) -> Health {
    match key.kind {
        Kind::Service => {
            let Some(service) = live.service(&key.name) else {
                return Health::Missing;
            };
            let updating = service
                .update_status
                .as_ref()
                .and_then(|u| u.state)
                .is_some_and(|s| {
                    matches!(
                        s,
                        ServiceUpdateStatusStateEnum::UPDATING
                            | ServiceUpdateStatusStateEnum::ROLLBACK_STARTED
                    )
                });
            let failed = service
                .update_status
                .as_ref()
                .and_then(|u| u.state)
                .is_some_and(|s| {
                    matches!(
                        s,
                        ServiceUpdateStatusStateEnum::PAUSED
                            | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED
                            | ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED
                    )
                });
            let counts = service.service_status.as_ref();
            let running = counts.and_then(|c| c.running_tasks).unwrap_or(0);
            let wanted = counts.and_then(|c| c.desired_tasks).unwrap_or(0);
            if failed {
                // A rollout that paused or was rolled back did not do what was asked.
                Health::Degraded
            } else if updating {
                Health::Progressing
            } else if running >= wanted {
                Health::Healthy
            } else {
                Health::Degraded
            }
        }
        Kind::Network => match live.network(&key.name) {
            Some(_) => Health::Healthy,
            None => Health::Missing,
        },
        Kind::Node => {
            let hostname = desired
                .nodes()
                .find(|(r, _)| r.name() == key.name)
                .and_then(|(_, spec)| spec.hostname.clone())
                .unwrap_or_else(|| key.name.clone());
            match live.node_by_hostname(&hostname) {
                None => Health::Missing,
                Some(node)
                    if node.status.as_ref().and_then(|s| s.state) == Some(NodeState::READY) =>
                {
                    Health::Healthy
                }
                Some(_) => Health::Degraded,
            }
        }
        Kind::GlusterVolume => match plan.storage.iter().find(|s| s.name == key.name) {
            Some(storage) if storage.is_degraded() => Health::Degraded,
            Some(storage) if storage.heal_pending > 0 => Health::Progressing,
            Some(_) => Health::Healthy,
            None if matches!(&live.gluster, Some(Ok(pool)) if pool.volume(&key.name).is_none()) => {
                Health::Missing
            }
            None => Health::Unknown,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::validate::{ValidateOptions, validate_dir};
    use std::path::PathBuf;

    fn recorded(name: &str) -> Live {
        Live::from_recorded(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures/engine")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn health_comes_from_task_counts_and_node_states() {
        let desired = validate_dir(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lab-desired"),
            &ValidateOptions::default(),
        )
        .unwrap()
        .desired;
        let mut live = recorded("applied");
        let plan = crate::plan::plan(&desired, &live);
        let web = ResourceKey::new(Kind::Service, "web");
        assert_eq!(health(&web, &live, &plan, &desired), Health::Healthy);
        assert_eq!(
            health(
                &ResourceKey::new(Kind::Service, "gone"),
                &live,
                &plan,
                &desired
            ),
            Health::Missing
        );
        assert_eq!(
            health(
                &ResourceKey::new(Kind::Network, "appnet"),
                &live,
                &plan,
                &desired
            ),
            Health::Healthy
        );
        // One task of web stopped running.
        let service = live
            .services
            .iter_mut()
            .find(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) == Some("web"))
            .unwrap();
        let status = service.service_status.as_mut().unwrap();
        status.running_tasks = Some(status.desired_tasks.unwrap() - 1);
        assert_eq!(health(&web, &live, &plan, &desired), Health::Degraded);
        // node2 went down.
        let node = live
            .nodes
            .iter_mut()
            .find(|n| n.description.as_ref().and_then(|d| d.hostname.as_deref()) == Some("node2"))
            .unwrap();
        node.status.as_mut().unwrap().state = Some(NodeState::DOWN);
        assert_eq!(
            health(
                &ResourceKey::new(Kind::Node, "node2"),
                &live,
                &plan,
                &desired
            ),
            Health::Degraded
        );
        assert_eq!(
            ResourceKey::new(Kind::Service, "web").to_string(),
            "Service/web"
        );
    }
}
