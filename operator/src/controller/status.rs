//! The status of every resource as `shoal run` last saw it, in the vocabulary of Argo CD
//! and Flux: sync (Synced / OutOfSync: does live match desired-state?) and health
//! (Healthy / Progressing / Degraded / Missing: does it work?), with conditions saying
//! why. Health is computed from observed state only. Pure.

use std::fmt;
use std::time::SystemTime;

use bollard::models::NodeState;
use serde::Serialize;

use crate::heal::capacity::{Capacity, size};
use crate::observe::live::Live;
use crate::plan::Plan;
use crate::plan::gluster::StorageState;
use crate::resources::{Desired, Kind, Resource};
use crate::swarm::rollout::Rollout;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Sync {
    Synced,
    OutOfSync,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Health {
    Healthy,
    Progressing,
    Degraded,
    Missing,
    Unknown,
}

/// What a resource's drift policy (annotation `shoal.io/drift`) says to do with a live
/// change nobody made in desired-state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftPolicy {
    /// Set it back (the default).
    #[default]
    Enforce,
    /// Only say so.
    Report,
}

/// The annotation that sets a resource's drift policy.
pub const DRIFT_ANNOTATION: &str = "shoal.io/drift";

impl DriftPolicy {
    /// The policy of `resource` (validation refuses any value but the two).
    pub fn of(resource: Option<&Resource>) -> DriftPolicy {
        match resource
            .and_then(|r| r.metadata.annotations.get(DRIFT_ANNOTATION))
            .map(String::as_str)
        {
            Some("report") => DriftPolicy::Report,
            _ => DriftPolicy::Enforce,
        }
    }
}

/// Why a resource is not Synced, as a condition's `reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ConditionReason {
    /// Waits for another resource to get ready (clears by itself).
    Waiting,
    /// Cannot be changed until someone acts.
    Blocked,
    /// Drift found and left as it is (policy report).
    DriftReported,
    /// The write failed.
    ApplyFailed,
    /// Swarm rolled the update back; not written again until desired-state changes.
    RolloutFailed,
    /// Desired-state changed since the last reconcile.
    NewRevision,
    /// A GlusterVolume has bricks offline, peers disconnected or entries in split-brain.
    StorageDegraded,
    /// A GlusterVolume has entries waiting to be healed.
    HealPending,
    /// If the node failed, the others could not hold its tasks (or its tasks' limits
    /// exceed its memory now).
    CapacityAtRisk,
    /// A task of the service was killed at its memory limit within the last 5 minutes.
    TaskOOMKilled,
    /// Swarm killed a task of the service for its failing health check, within the last 5
    /// minutes.
    TaskUnhealthy,
    /// The service's tasks keep failing.
    CrashLooping,
    /// A check of the doctor fails on it (a pair of nodes and a port, DNS, storage).
    NetworkDegraded,
}

/// One condition: a named fact with why. Shoal sets conditions that say what is wrong:
/// `Synced` or `Healthy` false (why the resource is not in sync, or does not work as it
/// should), and `CapacityAtRisk` true on a Node (what its loss would leave pending).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: bool,
    pub reason: ConditionReason,
    pub message: String,
}

impl Condition {
    /// The resource does not work as it should, for `reason`.
    pub fn unhealthy(reason: ConditionReason, message: impl Into<String>) -> Condition {
        Condition {
            kind: "Healthy",
            status: false,
            reason,
            message: message.into(),
        }
    }

    /// A node whose loss the others could not absorb, or whose tasks' limits exceed it.
    pub fn capacity_at_risk(message: impl Into<String>) -> Condition {
        Condition {
            kind: "CapacityAtRisk",
            status: true,
            reason: ConditionReason::CapacityAtRisk,
            message: message.into(),
        }
    }

    /// The resource is not in sync, for `reason`.
    pub fn not_synced(reason: ConditionReason, message: impl Into<String>) -> Condition {
        Condition {
            kind: "Synced",
            status: false,
            reason,
            message: message.into(),
        }
    }
}

/// What `/api/v1/status` says of one resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceStatus {
    pub kind: Kind,
    pub name: String,
    pub sync: Sync,
    pub health: Health,
    pub drift: DriftPolicy,
    pub conditions: Vec<Condition>,
    /// The revision (git commit) last applied to the object by this instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::events::rfc3339::optional"
    )]
    pub last_applied: Option<SystemTime>,
    /// The desired spec's hash this status was computed against: a new revision that
    /// changes the spec makes the status Unknown until the resource is reconciled again.
    #[serde(skip)]
    pub desired_hash: String,
}

/// The health of `key` in what was observed.
pub fn health(key: &ResourceKey, live: &Live, plan: &Plan, desired: &Desired) -> Health {
    match key.kind {
        Kind::Service => {
            let Some(service) = live.service(&key.name) else {
                return Health::Missing;
            };
            let rollout = Rollout::of(service);
            let counts = service.service_status.as_ref();
            let running = counts.and_then(|c| c.running_tasks).unwrap_or(0);
            let wanted = counts.and_then(|c| c.desired_tasks).unwrap_or(0);
            // A rollout that paused did not do what was asked; nor did one rolled back,
            // while desired-state still asks for what was rolled back.
            let pending = plan
                .changes
                .iter()
                .any(|c| c.kind == Kind::Service && c.name == key.name);
            if rollout == Rollout::Paused || (rollout == Rollout::RolledBack && pending) {
                Health::Degraded
            } else if rollout == Rollout::Updating {
                Health::Progressing
            } else if running >= wanted {
                Health::Healthy
            } else {
                Health::Degraded
            }
        }
        Kind::Secret | Kind::Config => data_health(key.kind, &key.name, live, desired),
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
            Some(storage) => match storage.state() {
                StorageState::Degraded => Health::Degraded,
                StorageState::Healing => Health::Progressing,
                StorageState::Healthy => Health::Healthy,
            },
            None if matches!(&live.gluster, Some(Ok(pool)) if pool.volume(&key.name).is_none()) => {
                Health::Missing
            }
            None => Health::Unknown,
        },
    }
}

/// How a Secret or Config resource (or an old version of one) stands: the version
/// desired-state wants exists, or only an older one does (its data cannot be read).
fn data_health(kind: Kind, name: &str, live: &Live, desired: &Desired) -> Health {
    use crate::plan::data::{exists, newest_version};
    let object = desired
        .data_object(kind, name)
        .unwrap_or_else(|| name.to_string());
    if exists(live, kind, &object) {
        Health::Healthy
    } else if newest_version(live, kind, name).is_some() {
        Health::Degraded
    } else {
        Health::Missing
    }
}

/// Why `key` is not healthy, where health alone does not say: a GlusterVolume degraded
/// (which bricks, which peers) or healing (how much); a Node whose capacity is at risk.
pub fn health_condition(key: &ResourceKey, plan: &Plan, desired: &Desired) -> Option<Condition> {
    if key.kind == Kind::Node {
        let hostname = desired
            .find(Kind::Node, &key.name)
            .and_then(|r| match &r.spec {
                crate::resources::Spec::Node(spec) => spec.hostname.clone(),
                _ => None,
            })
            .unwrap_or_else(|| key.name.clone());
        return capacity_risk(&plan.capacity, &hostname).map(Condition::capacity_at_risk);
    }
    if key.kind != Kind::GlusterVolume {
        return None;
    }
    let storage = plan.storage.iter().find(|s| s.name == key.name)?;
    if storage.is_degraded() {
        return Some(Condition::unhealthy(
            ConditionReason::StorageDegraded,
            crate::heal::storage::degraded_why(storage),
        ));
    }
    (storage.heal_pending > 0).then(|| {
        Condition::unhealthy(
            ConditionReason::HealPending,
            format!(
                "{} entries pending heal; all {} bricks online",
                storage.heal_pending, storage.bricks_total
            ),
        )
    })
}

/// What `hostname`'s capacity risks: its loss, and its tasks' limits beyond its memory.
pub fn capacity_risk(capacity: &Capacity, hostname: &str) -> Option<String> {
    let overcommitted = capacity
        .overcommitted()
        .find(|n| n.node == hostname)
        .map(|n| {
            format!(
                "the limits of its tasks add up to {}, more than its {}",
                size(n.limited_bytes),
                size(n.memory_bytes)
            )
        });
    let risks: Vec<String> = capacity
        .risk(hostname)
        .into_iter()
        .chain(overcommitted)
        .collect();
    (!risks.is_empty()).then(|| risks.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::validate::{ValidateOptions, validate_dir};
    use std::path::PathBuf;

    use crate::observe::recorded::{self, ENGINES};

    #[test]
    fn health_comes_from_task_counts_and_node_states() {
        for engine in ENGINES {
            let desired = validate_dir(
                &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lab-desired"),
                &ValidateOptions::default(),
            )
            .unwrap()
            .desired;
            let mut live = recorded::live(engine, "applied");
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
                .find(|n| {
                    n.description.as_ref().and_then(|d| d.hostname.as_deref()) == Some("node2")
                })
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
}

#[cfg(test)]
mod storage_tests {
    use super::*;
    use crate::plan::gluster::StorageHealth;

    fn storage(online: usize, pending: u64, split: u64, disconnected: &[&str]) -> Plan {
        Plan {
            storage: vec![StorageHealth {
                name: "storage".into(),
                bricks_online: online,
                bricks_total: 3,
                heal_pending: pending,
                split_brain: split,
                disconnected_peers: disconnected.iter().map(|p| p.to_string()).collect(),
                ..StorageHealth::default()
            }],
            ..Plan::default()
        }
    }

    fn health_condition_of(key: &ResourceKey, plan: &Plan) -> Option<Condition> {
        health_condition(key, plan, &Desired::default())
    }

    #[test]
    fn a_volume_says_why_it_is_degraded_or_healing() {
        let key = ResourceKey::new(Kind::GlusterVolume, "storage");
        assert_eq!(health_condition_of(&key, &storage(3, 0, 0, &[])), None);
        assert_eq!(
            health_condition_of(&key, &storage(3, 21, 0, &[])),
            Some(Condition::unhealthy(
                ConditionReason::HealPending,
                "21 entries pending heal; all 3 bricks online"
            ))
        );
        assert_eq!(
            health_condition_of(&key, &storage(2, 1250, 0, &["node3"])),
            Some(Condition::unhealthy(
                ConditionReason::StorageDegraded,
                "2/3 bricks online, peers disconnected: node3, 1250 entries pending heal"
            ))
        );
        assert_eq!(
            health_condition_of(&key, &storage(3, 0, 4, &[])),
            Some(Condition::unhealthy(
                ConditionReason::StorageDegraded,
                "3/3 bricks online, 4 entries in split-brain: shoal never picks a copy; resolve \
                 each with `gluster volume heal storage split-brain latest-mtime FILE` (or \
                 `bigger-file FILE`, or `source-brick HOST:BRICK FILE`), or set \
                 cluster.favorite-child-policy"
            ))
        );
        let web = ResourceKey::new(Kind::Service, "storage");
        assert_eq!(health_condition_of(&web, &storage(2, 0, 0, &[])), None);
    }
}
