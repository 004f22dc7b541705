//! A crash of node3 played on the swarms recorded from both lab engines (web has one of
//! its two tasks there, worker is global): what the watch tells, observation by
//! observation.

use bollard::models::{TaskState, TaskStatus};

use super::*;
use crate::observe::recorded::{ENGINES, live};

fn node_id(live: &Live, hostname: &str) -> String {
    live.node_by_hostname(hostname).unwrap().id.clone().unwrap()
}

fn set_node_state(live: &mut Live, hostname: &str, state: NodeState) {
    let id = node_id(live, hostname);
    let node = live.nodes.iter_mut().find(|n| n.id.as_ref() == Some(&id));
    node.unwrap().status.as_mut().unwrap().state = Some(state);
}

/// web's task on node3: its index in `live.tasks` and its slot.
fn web_task_on_node3(live: &Live) -> (usize, u64) {
    let node3 = node_id(live, "node3");
    let web = live.service("web").unwrap().id.clone();
    let index = live
        .tasks
        .iter()
        .position(|t| t.service_id == web && t.node_id.as_deref() == Some(&node3))
        .unwrap();
    (index, live.tasks[index].slot.unwrap() as u64)
}

/// node3 down: its web task is to shut down, and its replacement is `state` on `node`
/// (None: not assigned yet) with swarm's `err`.
fn crashed(applied: &Live, state: TaskState, node: Option<&str>, err: Option<&str>) -> Live {
    let mut live = applied.clone();
    set_node_state(&mut live, "node3", NodeState::DOWN);
    let (index, _) = web_task_on_node3(applied);
    let mut replacement = live.tasks[index].clone();
    live.tasks[index].desired_state = Some(TaskState::SHUTDOWN);
    replacement.id = Some("replacement".into());
    replacement.node_id = node.map(|n| node_id(applied, n));
    replacement.status = Some(TaskStatus {
        state: Some(state),
        err: err.map(str::to_string),
        ..Default::default()
    });
    live.tasks.push(replacement);
    live
}

#[test]
fn a_crash_is_told_as_down_then_pending_then_rescheduled_then_ready() {
    for engine in ENGINES {
        let applied = live(engine, "applied");
        let (_, slot) = web_task_on_node3(&applied);
        let task = format!("web.{slot}");
        let mut watch = NodeWatch::default();
        assert_eq!(watch.observe(&applied), [], "engine {engine}: a baseline");
        assert_eq!(
            watch.observe(&applied),
            [],
            "engine {engine}: nothing changed"
        );

        // The old task shut down, its replacement not yet allowed to run (swarm's restart
        // delay): still followed.
        let mut delayed = crashed(&applied, TaskState::NEW, None, None);
        delayed.tasks.last_mut().unwrap().desired_state = Some(TaskState::READY);
        let reason = "no suitable node (insufficient resources on 2 nodes)";
        assert_eq!(
            watch.observe(&delayed),
            [NodeChange::Down {
                node: "node3".into(),
                tasks: vec![task.clone()]
            }],
            "engine {engine}"
        );
        let pending = crashed(&applied, TaskState::PENDING, None, Some(reason));
        assert_eq!(
            watch.observe(&pending),
            [NodeChange::Pending {
                service: "web".into(),
                task: task.clone(),
                from: "node3".into(),
                reason: reason.into()
            }],
            "engine {engine}"
        );
        assert_eq!(watch.observe(&pending), [], "engine {engine}: told once");

        let moved = crashed(&applied, TaskState::RUNNING, Some("node2"), None);
        assert_eq!(
            watch.observe(&moved),
            [NodeChange::Rescheduled {
                service: "web".into(),
                task: task.clone(),
                from: "node3".into(),
                to: "node2".into()
            }],
            "engine {engine}"
        );
        let mut back = moved.clone();
        set_node_state(&mut back, "node3", NodeState::READY);
        assert_eq!(
            watch.observe(&back),
            [NodeChange::Ready {
                node: "node3".into()
            }],
            "engine {engine}"
        );
        assert_eq!(watch.observe(&back), [], "engine {engine}");
    }
}

#[test]
fn a_node_back_before_its_tasks_moved_ends_the_watch_on_them() {
    let applied = live(ENGINES[1], "applied");
    let mut watch = NodeWatch::default();
    watch.observe(&applied);
    let mut down = applied.clone();
    set_node_state(&mut down, "node3", NodeState::DOWN);
    assert!(matches!(
        watch.observe(&down).as_slice(),
        [NodeChange::Down { .. }]
    ));
    // Seen down before swarm shut its task down: still followed.
    assert_eq!(watch.displaced.len(), 1);
    // Back at once, its task still running there: nothing was rescheduled, and nothing
    // is waited for any more.
    assert_eq!(
        watch.observe(&applied),
        [NodeChange::Ready {
            node: "node3".into()
        }]
    );
    assert_eq!(watch.displaced, []);
}

#[test]
fn a_global_service_and_a_drained_node_are_told_apart() {
    let applied = live(ENGINES[0], "applied");
    let mut watch = NodeWatch::default();
    watch.observe(&applied);
    let mut drained = applied.clone();
    let id = node_id(&applied, "node2");
    let node = drained
        .nodes
        .iter_mut()
        .find(|n| n.id.as_ref() == Some(&id));
    node.unwrap().spec.as_mut().unwrap().availability = Some(NodeSpecAvailabilityEnum::DRAIN);
    // node2 runs only worker's (global) task: drained, and no task of it is followed.
    assert_eq!(
        watch.observe(&drained),
        [NodeChange::Drained {
            node: "node2".into()
        }]
    );
    set_node_state(&mut drained, "node2", NodeState::DOWN);
    assert_eq!(
        watch.observe(&drained),
        [NodeChange::Down {
            node: "node2".into(),
            tasks: vec![]
        }]
    );
}

#[test]
fn a_change_of_leader_is_no_crash_but_unknown_then_down_is() {
    for engine in ENGINES {
        let applied = live(engine, "applied");
        let mut watch = NodeWatch::default();
        watch.observe(&applied);
        // Swarm marks every node unknown while a new leader takes over.
        let mut unknown = applied.clone();
        for node in ["node1", "node2", "node3"] {
            set_node_state(&mut unknown, node, NodeState::UNKNOWN);
        }
        assert_eq!(watch.observe(&unknown), [], "engine {engine}");
        assert_eq!(watch.observe(&applied), [], "engine {engine}");
        // A crashed manager goes unknown, then down: told once it is down, with its tasks.
        let mut node3_unknown = applied.clone();
        set_node_state(&mut node3_unknown, "node3", NodeState::UNKNOWN);
        assert_eq!(watch.observe(&node3_unknown), [], "engine {engine}");
        let pending = crashed(&applied, TaskState::PENDING, None, None);
        let (_, slot) = web_task_on_node3(&applied);
        assert_eq!(
            watch.observe(&pending),
            [NodeChange::Down {
                node: "node3".into(),
                tasks: vec![format!("web.{slot}")]
            }],
            "engine {engine}"
        );
    }
}

#[test]
fn a_slot_scaled_away_is_no_longer_followed() {
    let applied = live(ENGINES[1], "applied");
    let mut watch = NodeWatch::default();
    watch.observe(&applied);
    let mut scaled = crashed(&applied, TaskState::PENDING, None, None);
    // web scaled down meanwhile: swarm shuts the slot's replacement down too.
    for task in scaled.tasks.iter_mut() {
        if task.id.as_deref() == Some("replacement") {
            task.desired_state = Some(TaskState::SHUTDOWN);
        }
    }
    assert!(matches!(
        watch.observe(&scaled).as_slice(),
        [NodeChange::Down { .. }]
    ));
    assert_eq!(watch.displaced, []);
    // Scaled up again later, the slot on node2: not a move of node3's task.
    assert_eq!(
        watch.observe(&crashed(&applied, TaskState::RUNNING, Some("node2"), None)),
        []
    );
}
