//! The storage dependency gate: a service that bind-mounts from a GlusterVolume is not
//! created or updated until the volume is started and mounted on every node its tasks
//! may land on (its candidate nodes), as the agents on those nodes report. Also the
//! per-node mount state every plan shows. Pure.

use serde::Serialize;

use super::Blocked;
use crate::gluster::xml::VolumeStatus;
use crate::observe::agents::AgentReports;
use crate::observe::live::Live;
use crate::resources::constraint::{Constraint, NodeFacts};
use crate::resources::service::MountKind;
use crate::resources::{Desired, ServiceSpec};

/// The state of one volume's mount on one node, from that node's agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeMount {
    pub volume: String,
    pub node: String,
    /// `None` when the agent could not be read.
    pub mounted: Option<bool>,
    /// `mounted from node1, 9.1 GiB free`, `not mounted: ...`, `agent unreachable: ...`.
    pub detail: String,
}

/// The mount of every desired volume on every node an agent was asked on.
pub fn node_mounts(desired: &Desired, agents: &AgentReports) -> Vec<NodeMount> {
    let mut mounts = Vec::new();
    for (resource, _) in desired.gluster_volumes() {
        for (node, report) in agents {
            let (mounted, detail) = match report {
                Err(error) => (None, error.clone()),
                Ok(status) => match status.volumes.iter().find(|v| v.volume == resource.name()) {
                    Some(v) if v.mounted => {
                        let server = v.server.as_deref().unwrap_or("?");
                        let free = v
                            .free_bytes
                            .map(|b| format!(", {:.1} GiB free", b as f64 / (1u64 << 30) as f64))
                            .unwrap_or_default();
                        (Some(true), format!("mounted from {server}{free}"))
                    }
                    Some(v) => (
                        Some(false),
                        format!(
                            "not mounted: {}",
                            v.last_error.as_deref().unwrap_or("no error reported")
                        ),
                    ),
                    None => (
                        Some(false),
                        match &status.desired_error {
                            Some(error) => format!("not mounted: {error}"),
                            None => {
                                "not mounted: the agent does not know the volume yet".to_string()
                            }
                        },
                    ),
                },
            };
            mounts.push(NodeMount {
                volume: resource.name().to_string(),
                node: node.clone(),
                mounted,
                detail,
            });
        }
    }
    mounts
}

/// Why `spec` must wait for its storage, if it must. Only when GlusterFS was observed:
/// elsewhere nothing is known, and nothing is held back. Without agents' reports (agents
/// not asked) the gate is "started" only.
pub fn storage_gate(desired: &Desired, live: &Live, spec: &ServiceSpec) -> Option<Blocked> {
    let Some(Ok(pool)) = &live.gluster else {
        return None;
    };
    for (volume, source) in volume_mounts(desired, spec) {
        let started = pool
            .volume(volume.name())
            .is_some_and(|v| v.status == VolumeStatus::Started);
        if !started {
            return Some(Blocked::VolumeNotStarted {
                volume: volume.id(),
                source: source.to_string(),
            });
        }
        let Some(agents) = &live.agents else {
            continue;
        };
        let unmounted: Vec<String> = candidate_nodes(desired, live, spec)
            .into_iter()
            .filter_map(|node| match agents.get(&node) {
                Some(Ok(status))
                    if status
                        .volumes
                        .iter()
                        .any(|v| v.volume == volume.name() && v.mounted) =>
                {
                    None
                }
                Some(Ok(_)) => Some(format!("{node} (not mounted)")),
                Some(Err(_)) | None => Some(format!("{node} (agent unreachable)")),
            })
            .collect();
        if !unmounted.is_empty() {
            return Some(Blocked::VolumeNotMounted {
                volume: volume.id(),
                nodes: unmounted,
                source: source.to_string(),
            });
        }
    }
    None
}

/// The hostnames of the nodes the scheduler may put `spec`'s tasks on: ready, active,
/// and meeting every constraint, with node labels as desired-state sets them (node labels
/// are applied before services). Sorted: engines list nodes in no fixed order (Engine 28
/// and 20.10 differ), and a message naming them must not change with it.
pub fn candidate_nodes(desired: &Desired, live: &Live, spec: &ServiceSpec) -> Vec<String> {
    candidate_facts(desired, live, spec)
        .into_iter()
        .map(|node| node.hostname)
        .collect()
}

/// The candidate nodes of `spec` as constraints see them, sorted by hostname.
pub fn candidate_facts(desired: &Desired, live: &Live, spec: &ServiceSpec) -> Vec<NodeFacts> {
    let constraints: Vec<Constraint> = spec
        .placement
        .as_ref()
        .map(|p| p.constraints.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|text| Constraint::parse(text).ok())
        .collect();
    let mut facts: Vec<NodeFacts> = node_facts(desired, live)
        .into_iter()
        .filter(|node| constraints.iter().all(|c| c.matches(node)))
        .collect();
    facts.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    facts.dedup_by(|a, b| a.hostname == b.hostname);
    facts
}

/// The GlusterVolumes `spec` bind-mounts from, with each mount's source.
pub fn volume_mounts<'a>(
    desired: &'a Desired,
    spec: &'a ServiceSpec,
) -> impl Iterator<Item = (&'a crate::resources::Resource, &'a str)> {
    spec.mounts
        .iter()
        .filter(|m| m.kind == MountKind::Bind)
        .filter_map(|m| m.source.as_deref())
        .filter_map(|source| {
            let (volume, _) = desired
                .gluster_volumes()
                .find(|(_, v)| std::path::Path::new(source).starts_with(&v.mount_point))?;
            Some((volume, source))
        })
}

/// Every ready and active node, as constraints see it.
fn node_facts(desired: &Desired, live: &Live) -> Vec<NodeFacts> {
    use bollard::models::{NodeSpecAvailabilityEnum, NodeSpecRoleEnum, NodeState};
    let mut facts = Vec::new();
    for node in &live.nodes {
        let (Some(spec), Some(description)) = (&node.spec, &node.description) else {
            continue;
        };
        let hostname = description.hostname.clone().unwrap_or_default();
        let desired_node = desired.node_with_hostname(&hostname).map(|(_, n)| n);
        let ready = node.status.as_ref().and_then(|s| s.state) == Some(NodeState::READY);
        let active = match desired_node {
            Some(n) => n.availability == crate::resources::node::Availability::Active,
            None => spec.availability == Some(NodeSpecAvailabilityEnum::ACTIVE),
        };
        if !ready || !active {
            continue;
        }
        let mut labels: std::collections::BTreeMap<String, String> = spec
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        if let Some(n) = desired_node {
            labels.extend(n.labels.clone());
        }
        let platform = description.platform.as_ref();
        facts.push(NodeFacts {
            id: node.id.clone().unwrap_or_default(),
            hostname,
            role: match spec.role {
                Some(NodeSpecRoleEnum::MANAGER) => "manager".into(),
                _ => "worker".into(),
            },
            os: platform.and_then(|p| p.os.clone()).unwrap_or_default(),
            arch: platform
                .and_then(|p| p.architecture.clone())
                .unwrap_or_default(),
            labels,
            engine_labels: description
                .engine
                .as_ref()
                .and_then(|e| e.labels.clone())
                .unwrap_or_default()
                .into_iter()
                .collect(),
        });
    }
    facts
}
