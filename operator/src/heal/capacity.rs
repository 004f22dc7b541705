//! Capacity, including the loss of one node. Per node: its memory, and the memory the
//! tasks it runs reserve (what swarm's scheduler counts) and may use (their limits, what
//! the kernel enforces). Then, for each node, whether the tasks that would move if it died
//! fit on the others (N-1): swarm places a task only on a node with room for its
//! reservation, within its constraints and maxReplicasPerNode, and otherwise leaves it
//! pending. A node's memory is the engine's figure, or the `memory` its Node resource
//! declares (to plan for the hosts production has, e.g. 1 GB, from a lab with more). Pure.

use std::collections::BTreeMap;

use bollard::models::TaskState;
use serde::Serialize;

use crate::observe::live::Live;
use crate::plan::storage_gate::candidate_nodes;
use crate::resources::Desired;
use crate::resources::quantity::MemorySize;
pub use crate::resources::quantity::approximate as size;

/// One node's memory and what its tasks reserve and may use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeCapacity {
    pub node: String,
    pub memory_bytes: u64,
    /// The memory is the one its Node resource declares, not the engine's.
    pub declared: bool,
    pub reserved_bytes: u64,
    /// The sum of the limits of the tasks that have one.
    pub limited_bytes: u64,
    pub tasks: usize,
    /// Tasks without a memory limit: each may use all of the node's memory.
    pub unlimited: usize,
}

/// A task that would find no node if `node` died.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unplaced {
    /// `php-fpm.2`
    pub task: String,
    pub reservation_bytes: u64,
    pub why: NoRoom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoRoom {
    /// No surviving node has room for its reservation.
    Memory,
    /// Every surviving node it may run on already runs `maxReplicasPerNode` of it.
    MaxReplicasPerNode(u64),
    /// Its constraints allow no other node (pinned, by choice).
    NoOtherNode,
}

/// What the loss of one node would leave without a place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeLoss {
    pub node: String,
    pub unplaced: Vec<Unplaced>,
}

/// The capacity of the swarm's ready and active nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub nodes: Vec<NodeCapacity>,
    /// Per node, the tasks its loss would leave pending (nodes whose loss is absorbed are
    /// not listed).
    pub losses: Vec<NodeLoss>,
}

/// A running task as capacity sees it.
#[derive(Clone, Debug)]
struct Placed {
    task: String,
    service: String,
    node: String,
    reservation: u64,
    /// None: no limit (it may use all of its node's memory).
    limit: Option<u64>,
    /// A replicated task moves when its node dies; a global one dies with it.
    moves: bool,
    /// The nodes it may run on (all, for a service desired-state does not have).
    candidates: Option<Vec<String>>,
    max_per_node: Option<u64>,
}

impl Capacity {
    /// Why the loss of `node` is a risk, if it is: the memory its tasks need and cannot
    /// find, and the tasks capped per node (pinned tasks are a choice, not a risk).
    pub fn risk(&self, node: &str) -> Option<String> {
        let loss = self.losses.iter().find(|l| l.node == node)?;
        let survivors: Vec<&str> = self
            .nodes
            .iter()
            .map(|n| n.node.as_str())
            .filter(|n| *n != node)
            .collect();
        let memory: Vec<&Unplaced> = loss
            .unplaced
            .iter()
            .filter(|u| u.why == NoRoom::Memory)
            .collect();
        let capped: Vec<String> = loss
            .unplaced
            .iter()
            .filter_map(|u| match u.why {
                NoRoom::MaxReplicasPerNode(max) => Some(format!("{} (max {max} per node)", u.task)),
                _ => None,
            })
            .collect();
        let mut parts = Vec::new();
        if !memory.is_empty() {
            let total: u64 = memory.iter().map(|u| u.reservation_bytes).sum();
            let tasks: Vec<String> = memory
                .iter()
                .map(|u| format!("{} {}", u.task, size(u.reservation_bytes)))
                .collect();
            parts.push(format!(
                "{} of reservations ({}) do not fit on {}",
                size(total),
                tasks.join(", "),
                survivors.join(", ")
            ));
        }
        if !capped.is_empty() {
            parts.push(format!("no node may take {}", capped.join(", ")));
        }
        (!parts.is_empty()).then(|| format!("if {node} fails, {}", parts.join("; ")))
    }

    /// The nodes whose tasks' limits add up to more than their memory: the kernel kills
    /// tasks there before any reaches its own limit.
    pub fn overcommitted(&self) -> impl Iterator<Item = &NodeCapacity> {
        self.nodes
            .iter()
            .filter(|n| n.limited_bytes > n.memory_bytes)
    }
}

/// The capacity of `live`'s ready and active nodes, with the memory desired-state
/// declares for them.
pub fn assess(desired: &Desired, live: &Live) -> Capacity {
    let nodes = node_memory(desired, live);
    let placed = placed_tasks(desired, live, &nodes);
    let capacity = nodes
        .iter()
        .map(|(node, (memory, declared))| {
            let here: Vec<&Placed> = placed.iter().filter(|p| &p.node == node).collect();
            NodeCapacity {
                node: node.clone(),
                memory_bytes: *memory,
                declared: *declared,
                reserved_bytes: here.iter().map(|p| p.reservation).sum(),
                limited_bytes: here.iter().filter_map(|p| p.limit).sum(),
                tasks: here.len(),
                unlimited: here.iter().filter(|p| p.limit.is_none()).count(),
            }
        })
        .collect::<Vec<_>>();
    let losses = nodes
        .keys()
        .map(|node| NodeLoss {
            node: node.clone(),
            unplaced: lose(node, &capacity, &placed),
        })
        .filter(|loss| !loss.unplaced.is_empty())
        .collect();
    Capacity {
        nodes: capacity,
        losses,
    }
}

/// The tasks of `lost` that find no other node: placed largest reservation first, each
/// as swarm's scheduler would, on the candidate survivor with room for it that runs the
/// fewest tasks of its service, then has the most memory free.
fn lose(lost: &str, nodes: &[NodeCapacity], placed: &[Placed]) -> Vec<Unplaced> {
    let mut free: BTreeMap<&str, u64> = nodes
        .iter()
        .filter(|n| n.node != lost)
        .map(|n| {
            (
                n.node.as_str(),
                n.memory_bytes.saturating_sub(n.reserved_bytes),
            )
        })
        .collect();
    let mut per_node: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for p in placed {
        *per_node
            .entry((p.service.as_str(), p.node.as_str()))
            .or_default() += 1;
    }
    let mut moving: Vec<&Placed> = placed
        .iter()
        .filter(|p| p.node == lost && p.moves)
        .collect();
    moving.sort_by(|a, b| b.reservation.cmp(&a.reservation).then(a.task.cmp(&b.task)));
    let mut unplaced = Vec::new();
    for task in moving {
        let allowed: Vec<&str> = free
            .keys()
            .copied()
            .filter(|n| {
                task.candidates
                    .as_ref()
                    .is_none_or(|c| c.iter().any(|c| c == n))
            })
            .collect();
        let under_cap: Vec<&str> = allowed
            .iter()
            .copied()
            .filter(|n| {
                let count = per_node
                    .get(&(task.service.as_str(), *n))
                    .copied()
                    .unwrap_or(0);
                task.max_per_node.is_none_or(|max| count < max)
            })
            .collect();
        let count = |n: &str| {
            per_node
                .get(&(task.service.as_str(), n))
                .copied()
                .unwrap_or(0)
        };
        let best = under_cap
            .iter()
            .copied()
            .filter(|n| free[n] >= task.reservation)
            .max_by_key(|n| (std::cmp::Reverse(count(n)), free[n], std::cmp::Reverse(*n)));
        let why = match best {
            Some(node) => {
                *free.get_mut(node).expect("a survivor") -= task.reservation;
                *per_node.entry((task.service.as_str(), node)).or_default() += 1;
                continue;
            }
            None if allowed.is_empty() => NoRoom::NoOtherNode,
            None if under_cap.is_empty() => {
                NoRoom::MaxReplicasPerNode(task.max_per_node.unwrap_or_default())
            }
            None => NoRoom::Memory,
        };
        unplaced.push(Unplaced {
            task: task.task.clone(),
            reservation_bytes: task.reservation,
            why,
        });
    }
    unplaced
}

/// Ready and active nodes by hostname: their memory, and whether desired-state declared it.
fn node_memory(desired: &Desired, live: &Live) -> BTreeMap<String, (u64, bool)> {
    live.available_nodes()
        .into_iter()
        .filter_map(|hostname| {
            let declared = desired
                .node_with_hostname(&hostname)
                .and_then(|(_, spec)| spec.memory.as_ref())
                .map(MemorySize::bytes);
            let engine = live
                .node_by_hostname(&hostname)
                .and_then(|n| n.description.as_ref()?.resources.as_ref()?.memory_bytes)
                .map(|bytes| bytes.max(0) as u64);
            let memory = declared.or(engine)?;
            Some((hostname, (memory, declared.is_some())))
        })
        .collect()
}

/// Every task meant to run on one of `nodes`, with what it reserves and may use.
fn placed_tasks(
    desired: &Desired,
    live: &Live,
    nodes: &BTreeMap<String, (u64, bool)>,
) -> Vec<Placed> {
    let hostnames: BTreeMap<&str, &str> = live
        .nodes
        .iter()
        .filter_map(|n| {
            Some((
                n.id.as_deref()?,
                n.description.as_ref()?.hostname.as_deref()?,
            ))
        })
        .collect();
    let mut candidates: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    let mut placed = Vec::new();
    for task in live.tasks.iter().filter(|t| {
        t.desired_state == Some(TaskState::RUNNING)
            && matches!(
                t.status.as_ref().and_then(|s| s.state),
                Some(TaskState::RUNNING | TaskState::STARTING | TaskState::PREPARING)
            )
    }) {
        let Some(node) = task.node_id.as_deref().and_then(|id| hostnames.get(id)) else {
            continue;
        };
        let Some(service) = live.services.iter().find(|s| s.id == task.service_id) else {
            continue;
        };
        let Some(spec) = service.spec.as_ref() else {
            continue;
        };
        if !nodes.contains_key(*node) {
            continue;
        }
        let name = spec.name.clone().unwrap_or_default();
        let resources = task.spec.as_ref().and_then(|s| s.resources.as_ref());
        let bytes = |b: Option<i64>| b.unwrap_or(0).max(0) as u64;
        let moves = spec.mode.as_ref().is_none_or(|m| m.global.is_none());
        let candidates = candidates
            .entry(name.clone())
            .or_insert_with(|| {
                let desired_spec = desired.services().find(|(r, _)| r.name() == name);
                desired_spec.map(|(_, s)| candidate_nodes(desired, live, s))
            })
            .clone();
        placed.push(Placed {
            task: match (moves, task.slot) {
                (true, Some(slot)) => format!("{name}.{slot}"),
                _ => format!("{name} on {node}"),
            },
            service: name,
            node: node.to_string(),
            reservation: bytes(
                resources
                    .and_then(|r| r.reservations.as_ref())
                    .and_then(|r| r.memory_bytes),
            ),
            limit: resources
                .and_then(|r| r.limits.as_ref())
                .and_then(|r| r.memory_bytes)
                .filter(|b| *b > 0)
                .map(|b| b as u64),
            moves,
            candidates,
            max_per_node: spec
                .task_template
                .as_ref()
                .and_then(|t| t.placement.as_ref())
                .and_then(|p| p.max_replicas)
                .filter(|max| *max > 0)
                .map(|max| max as u64),
        });
    }
    placed
}

#[cfg(test)]
mod tests;
