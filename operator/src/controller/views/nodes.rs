//! `/api/v1/nodes`: every node of the swarm as the node map shows it (state,
//! availability, role, engine, memory and what its tasks reserve and may use, the risk of
//! losing it) with the tasks on it, and the tasks no node holds yet.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bollard::models::{Node, NodeSpecRoleEnum, Task, TaskState};
use serde::Serialize;

use super::rfc3339;
use crate::controller::observation::Observed;
use crate::heal::capacity::Capacity;
use crate::observe::live::Live;
use crate::resources::Desired;
use crate::resources::quantity::MemorySize;

/// A failed task is listed this long after it failed: the map shows what just went wrong,
/// not the swarm's whole task history.
const RECENT_FAILURE: Duration = Duration::from_secs(600);

#[derive(Debug, Serialize)]
pub struct NodesView {
    /// When the observation was made; `None` (and no nodes) before the first.
    pub observed_at: Option<String>,
    pub nodes: Vec<NodeView>,
    /// Tasks the swarm has not placed on a node (pending: no room, no node allowed).
    pub unassigned: Vec<TaskView>,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct NodeView {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    pub leader: bool,
    /// As swarm says: `ready`, `down`, `unknown`, `disconnected`.
    pub state: String,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    pub address: Option<String>,
    pub engine: Option<String>,
    /// The engine's figure, or the memory its Node resource declares.
    pub memory_bytes: Option<u64>,
    pub memory_declared: bool,
    /// What its tasks reserve and the sum of their limits (ready and active nodes only).
    pub reserved_bytes: Option<u64>,
    pub limited_bytes: Option<u64>,
    /// What its loss would leave without a place (the N-1 capacity check), if anything.
    pub at_risk: Option<String>,
    pub tasks: Vec<TaskView>,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct TaskView {
    pub id: String,
    pub service: String,
    /// The replica's number; `None` for a global service's task.
    pub slot: Option<i64>,
    /// What the task is: `running`, `pending`, `failed`, ...
    pub state: String,
    /// What swarm wants of it: `running`, or `shutdown` on its way out.
    pub desired_state: String,
    pub since: Option<String>,
    /// Why it failed or waits, as swarm says.
    pub message: Option<String>,
}

/// The node map of `observed`; `None` observed gives an empty map.
pub fn nodes(observed: Option<&Observed>, now: SystemTime) -> NodesView {
    let Some(observed) = observed else {
        return NodesView {
            observed_at: None,
            nodes: Vec::new(),
            unassigned: Vec::new(),
        };
    };
    let live = &observed.live;
    let capacity = &observed.plan().capacity;
    let desired = &observed.snapshot.desired;
    let mut tasks = shown_tasks(live, now);
    let mut nodes: Vec<NodeView> = live
        .nodes
        .iter()
        .map(|node| {
            let tasks = tasks.remove(node.id.as_deref().unwrap_or(""));
            node_view(node, desired, capacity, tasks)
        })
        .collect();
    nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    NodesView {
        observed_at: Some(rfc3339(observed.at)),
        nodes,
        unassigned: tasks.remove("").unwrap_or_default(),
    }
}

fn node_view(
    node: &Node,
    desired: &Desired,
    capacity: &Capacity,
    tasks: Option<Vec<TaskView>>,
) -> NodeView {
    let description = node.description.as_ref();
    let hostname = description
        .and_then(|d| d.hostname.clone())
        .unwrap_or_default();
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    let manager = node.manager_status.as_ref();
    let counted = capacity.nodes.iter().find(|n| n.node == hostname);
    // A node capacity does not count (down, drained) still has the memory it declares.
    let declared = desired
        .node_with_hostname(&hostname)
        .and_then(|(_, spec)| spec.memory.as_ref())
        .map(MemorySize::bytes);
    let engine_memory = description
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.memory_bytes)
        .and_then(|m| u64::try_from(m).ok());
    NodeView {
        id: node.id.clone().unwrap_or_default(),
        role: match spec.and_then(|s| s.role) {
            Some(NodeSpecRoleEnum::MANAGER) => "manager",
            _ => "worker",
        }
        .into(),
        leader: manager.and_then(|m| m.leader).unwrap_or(false),
        state: status
            .and_then(|s| s.state)
            .map_or("unknown".into(), |s| s.to_string()),
        availability: spec
            .and_then(|s| s.availability)
            .map_or("active".into(), |a| a.to_string()),
        address: status
            .and_then(|s| s.addr.clone())
            .filter(|a| a != "0.0.0.0")
            .or_else(|| Some(manager?.addr.as_deref()?.rsplit_once(':')?.0.to_string())),
        engine: description
            .and_then(|d| d.engine.as_ref())
            .and_then(|e| e.engine_version.clone()),
        memory_bytes: counted
            .map(|c| c.memory_bytes)
            .or(declared)
            .or(engine_memory),
        memory_declared: counted.map_or(declared.is_some(), |c| c.declared),
        reserved_bytes: counted.map(|c| c.reserved_bytes),
        limited_bytes: counted.map(|c| c.limited_bytes),
        at_risk: capacity.risk(&hostname),
        tasks: tasks.unwrap_or_default(),
        hostname,
    }
}

/// The tasks worth showing, by node ID (`""`: not placed): those swarm wants running,
/// and those that failed within [`RECENT_FAILURE`]. Sorted by service, then slot.
fn shown_tasks(live: &Live, now: SystemTime) -> HashMap<String, Vec<TaskView>> {
    let services: HashMap<&str, &str> = live
        .services
        .iter()
        .filter_map(|s| Some((s.id.as_deref()?, s.spec.as_ref()?.name.as_deref()?)))
        .collect();
    let mut by_node: HashMap<String, Vec<TaskView>> = HashMap::new();
    for task in live.tasks.iter().filter(|t| shown(t, now)) {
        let service = task.service_id.as_deref().and_then(|id| services.get(id));
        let node = task.node_id.clone().unwrap_or_default();
        by_node
            .entry(node)
            .or_default()
            .push(task_view(task, service));
    }
    for tasks in by_node.values_mut() {
        tasks.sort_by(|a, b| (&a.service, a.slot, &a.id).cmp(&(&b.service, b.slot, &b.id)));
    }
    by_node
}

fn shown(task: &Task, now: SystemTime) -> bool {
    use bollard::models::TaskState as S;
    let state = task.status.as_ref().and_then(|s| s.state);
    let wanted = matches!(
        task.desired_state,
        Some(S::RUNNING | S::READY | S::ACCEPTED | S::NEW)
    );
    let failed = matches!(state, Some(S::FAILED | S::REJECTED));
    wanted
        || (failed
            && since(task)
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() < RECENT_FAILURE))
}

fn since(task: &Task) -> Option<SystemTime> {
    let stamp = task.status.as_ref()?.timestamp.as_deref()?;
    humantime::parse_rfc3339_weak(stamp).ok()
}

fn task_view(task: &Task, service: Option<&&str>) -> TaskView {
    let status = task.status.as_ref();
    let state = status.and_then(|s| s.state).unwrap_or(TaskState::NEW);
    let message = status
        .and_then(|s| s.err.clone().or_else(|| s.message.clone()))
        .filter(|m| !m.is_empty());
    TaskView {
        id: task.id.clone().unwrap_or_default(),
        service: service.map_or("(unknown service)".into(), |s| s.to_string()),
        slot: task.slot,
        state: state.to_string(),
        desired_state: task
            .desired_state
            .map_or("unknown".into(), |s| s.to_string()),
        since: since(task).map(rfc3339),
        message,
    }
}
