//! What happened to the nodes between two observations of the swarm: a node gone down
//! (with the managed tasks it ran), back, drained; and where swarm put the tasks of a
//! node that went down, since swarm itself says nothing when it reschedules. Pure: it
//! reads two `Live`s and returns what changed.

use std::collections::{BTreeMap, BTreeSet};

use bollard::models::{NodeSpecAvailabilityEnum, NodeState, Task, TaskState};

use crate::observe::live::Live;
use crate::swarm::labels;

/// One change worth telling a person, in the order it was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeChange {
    /// A node stopped answering; `tasks` are the managed tasks it ran (`web.2`).
    Down { node: String, tasks: Vec<String> },
    /// A node answers again (or joined).
    Ready { node: String },
    /// A node was set to drain: swarm moves its tasks away.
    Drained { node: String },
    /// The task of a node that went down runs again, elsewhere.
    Rescheduled {
        service: String,
        task: String,
        from: String,
        to: String,
    },
    /// The task of a node that went down cannot be placed: swarm's own reason.
    Pending {
        service: String,
        task: String,
        from: String,
        reason: String,
    },
}

/// A managed task that ran on a node when it went down, until it runs elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Displaced {
    service: String,
    slot: u64,
    from: String,
    /// The pending reason already told, so that it is told once.
    told: Option<String>,
}

/// A node as the last observation saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    state: Option<NodeState>,
    drained: bool,
    /// `web.2` of every managed replicated task running there.
    tasks: BTreeSet<(String, u64)>,
}

/// The memory between observations: the nodes as last seen, and the displaced tasks.
#[derive(Debug, Default)]
pub struct NodeWatch {
    nodes: Option<BTreeMap<String, Seen>>,
    displaced: Vec<Displaced>,
}

impl NodeWatch {
    /// Compares `live` with the last observation; the first one only sets the baseline.
    pub fn observe(&mut self, live: &Live) -> Vec<NodeChange> {
        let now = seen(live, self.nodes.as_ref());
        let mut changes = Vec::new();
        if let Some(before) = &self.nodes {
            for (node, was) in before {
                let Some(is) = now.get(node) else { continue };
                if !is_down(was.state) && is_down(is.state) {
                    changes.push(NodeChange::Down {
                        node: node.clone(),
                        tasks: was.tasks.iter().map(|(s, n)| format!("{s}.{n}")).collect(),
                    });
                    self.displaced
                        .extend(was.tasks.iter().map(|(service, slot)| Displaced {
                            service: service.clone(),
                            slot: *slot,
                            from: node.clone(),
                            told: None,
                        }));
                }
                if is_down(was.state) && is.state == Some(NodeState::READY) {
                    changes.push(NodeChange::Ready { node: node.clone() });
                }
                if !was.drained && is.drained {
                    changes.push(NodeChange::Drained { node: node.clone() });
                }
            }
            for node in now.keys().filter(|n| !before.contains_key(*n)) {
                if now[node].state == Some(NodeState::READY) {
                    changes.push(NodeChange::Ready { node: node.clone() });
                }
            }
        }
        changes.extend(self.follow_displaced(live));
        self.nodes = Some(now);
        changes
    }

    /// Where the displaced tasks are now: running elsewhere, or pending with a reason.
    fn follow_displaced(&mut self, live: &Live) -> Vec<NodeChange> {
        let hostnames = hostnames(live);
        let names = managed_replicated(live);
        let mut changes = Vec::new();
        self.displaced.retain_mut(|d| {
            let task = format!("{}.{}", d.service, d.slot);
            let current = live.tasks.iter().filter(|t| {
                wanted_running(t)
                    && t.slot == Some(d.slot as i64)
                    && t.service_id
                        .as_deref()
                        .and_then(|id| names.get(id))
                        .is_some_and(|name| *name == d.service)
            });
            let mut pending = None;
            for t in current {
                let node = t.node_id.as_deref().and_then(|id| hostnames.get(id));
                let state = t.status.as_ref().and_then(|s| s.state);
                match node {
                    Some(node) if state == Some(TaskState::RUNNING) && *node != d.from => {
                        changes.push(NodeChange::Rescheduled {
                            service: d.service.clone(),
                            task,
                            from: d.from.clone(),
                            to: node.clone(),
                        });
                        return false;
                    }
                    _ => pending = pending.or_else(|| pending_reason(t)),
                }
            }
            if let Some(reason) = pending
                && d.told.as_ref() != Some(&reason)
            {
                changes.push(NodeChange::Pending {
                    service: d.service.clone(),
                    task,
                    from: d.from.clone(),
                    reason: reason.clone(),
                });
                d.told = Some(reason);
            }
            // Followed while its slot is wanted (not scaled away, its service not removed)
            // and until it runs on its own node again (the node returned first).
            slot_wanted(live, d, &names) && !back_home(live, d, &hostnames, &names)
        });
        changes
    }
}

/// Swarm's reason a task waits: `no suitable node (insufficient resources on 2 nodes)`.
fn pending_reason(task: &Task) -> Option<String> {
    let status = task.status.as_ref()?;
    let waiting = matches!(
        status.state,
        Some(TaskState::PENDING | TaskState::ASSIGNED | TaskState::ACCEPTED)
    );
    let reason = status.err.clone().or_else(|| status.message.clone())?;
    (waiting && !reason.is_empty() && reason != "pending task scheduling").then_some(reason)
}

/// Down as swarm sees it: not heard from (an unknown node, as during a change of leader,
/// is neither down nor back).
fn is_down(state: Option<NodeState>) -> bool {
    matches!(state, Some(NodeState::DOWN | NodeState::DISCONNECTED))
}

/// Some task of the displaced one's slot is still meant to run: running, or ready to
/// (swarm creates a replacement as `ready` and lets it run after the restart delay).
fn slot_wanted(live: &Live, d: &Displaced, names: &BTreeMap<String, String>) -> bool {
    live.tasks.iter().any(|t| {
        matches!(t.desired_state, Some(TaskState::RUNNING | TaskState::READY))
            && t.slot == Some(d.slot as i64)
            && t.service_id.as_deref().and_then(|id| names.get(id)) == Some(&d.service)
    })
}

/// A displaced task's slot runs again on the node it came from, and that node is ready
/// (while it is down, swarm may not have marked its old task shut down yet).
fn back_home(
    live: &Live,
    d: &Displaced,
    hostnames: &BTreeMap<String, String>,
    names: &BTreeMap<String, String>,
) -> bool {
    let home_ready = live.nodes.iter().any(|n| {
        n.description.as_ref().and_then(|d| d.hostname.as_deref()) == Some(d.from.as_str())
            && n.status.as_ref().and_then(|s| s.state) == Some(NodeState::READY)
    });
    home_ready
        && live.tasks.iter().any(|t| {
            wanted_running(t)
                && t.slot == Some(d.slot as i64)
                && t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
                && t.node_id.as_deref().and_then(|id| hostnames.get(id)) == Some(&d.from)
                && t.service_id.as_deref().and_then(|id| names.get(id)) == Some(&d.service)
        })
}

fn wanted_running(task: &Task) -> bool {
    task.desired_state == Some(TaskState::RUNNING)
}

/// Node IDs to hostnames.
fn hostnames(live: &Live) -> BTreeMap<String, String> {
    live.nodes
        .iter()
        .filter_map(|n| Some((n.id.clone()?, n.description.as_ref()?.hostname.clone()?)))
        .collect()
}

/// Service IDs to names, of the managed replicated services (a global service's task
/// belongs to its node and is not rescheduled).
fn managed_replicated(live: &Live) -> BTreeMap<String, String> {
    live.services
        .iter()
        .filter_map(|s| {
            let spec = s.spec.as_ref()?;
            let replicated = spec.mode.as_ref().is_some_and(|m| m.replicated.is_some());
            (replicated && labels::is_managed(spec.labels.as_ref()))
                .then(|| Some((s.id.clone()?, spec.name.clone()?)))?
        })
        .collect()
}

/// Every node by hostname: ready or not, drained or not, its running managed tasks. A
/// node not ready (unknown, as every node is for a moment when the swarm's leader changes,
/// or down) keeps the tasks it ran `before`, while it answered.
fn seen(live: &Live, before: Option<&BTreeMap<String, Seen>>) -> BTreeMap<String, Seen> {
    let names = managed_replicated(live);
    let by_id = hostnames(live);
    let mut nodes: BTreeMap<String, Seen> = live
        .nodes
        .iter()
        .filter_map(|node| {
            let hostname = by_id.get(node.id.as_deref()?)?;
            let seen = Seen {
                state: node.status.as_ref().and_then(|s| s.state),
                drained: node.spec.as_ref().and_then(|s| s.availability)
                    == Some(NodeSpecAvailabilityEnum::DRAIN),
                tasks: BTreeSet::new(),
            };
            Some((hostname.clone(), seen))
        })
        .collect();
    for task in live.tasks.iter().filter(|t| wanted_running(t)) {
        let running = task.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING);
        let node = task.node_id.as_deref().and_then(|id| by_id.get(id));
        let service = task.service_id.as_deref().and_then(|id| names.get(id));
        if let (true, Some(node), Some(service), Some(slot)) = (running, node, service, task.slot)
            && let Some(seen) = nodes.get_mut(node)
        {
            seen.tasks.insert((service.clone(), slot as u64));
        }
    }
    for (node, is) in nodes.iter_mut() {
        if let Some(was) = before.and_then(|b| b.get(node))
            && is.state != Some(NodeState::READY)
            && is.tasks.is_empty()
        {
            is.tasks = was.tasks.clone();
        }
    }
    nodes
}

#[cfg(test)]
mod tests;
