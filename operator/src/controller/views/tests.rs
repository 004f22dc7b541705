//! The dashboard's views of recorded engine and gluster answers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bollard::models::{NodeState, TaskState, TaskStatus};

use super::*;
use crate::controller::fake::{lab_desired, recorded, snapshot};
use crate::controller::observation::Observed;
use crate::observe::live::Live;
use crate::resources::Desired;
use crate::source::validate::{ValidateOptions, validate_dir};

fn observed(desired: Desired, live: Live) -> Observed {
    Observed::new(Arc::new(snapshot(desired, None)), live)
}

/// When the recorded web tasks last changed (2026-12-02T12:02:14Z), plus `after`.
fn recorded_time(after: Duration) -> SystemTime {
    humantime::parse_rfc3339("2026-12-02T12:02:14Z").unwrap() + after
}

fn node_id(live: &Live, hostname: &str) -> String {
    live.node_by_hostname(hostname).unwrap().id.clone().unwrap()
}

fn task_names(node: &NodeView) -> Vec<String> {
    node.tasks
        .iter()
        .map(|t| match t.slot {
            Some(slot) => format!("{}.{slot} {}/{}", t.service, t.state, t.desired_state),
            None => format!("{} {}/{}", t.service, t.state, t.desired_state),
        })
        .collect()
}

#[test]
fn the_node_map_shows_every_node_with_its_tasks_and_memory() {
    let live = recorded("applied");
    let view = nodes(
        Some(&observed(lab_desired(), live)),
        recorded_time(Duration::ZERO),
    );
    let names: Vec<&str> = view.nodes.iter().map(|n| n.hostname.as_str()).collect();
    assert_eq!(names, ["node1", "node2", "node3"]);
    let node1 = &view.nodes[0];
    assert_eq!(
        (
            node1.role.as_str(),
            node1.leader,
            node1.state.as_str(),
            node1.availability.as_str()
        ),
        ("manager", true, "ready", "active")
    );
    assert_eq!(node1.address.as_deref(), Some("10.213.0.11"));
    assert_eq!(node1.engine.as_deref(), Some("28.5.2+dfsg4"));
    assert_eq!(node1.memory_bytes, Some(25275990016));
    assert!(!node1.memory_declared);
    // web's limit (32M) and worker's (16M): what the lab's desired-state sets.
    assert_eq!(node1.limited_bytes, Some(48 << 20));
    assert_eq!(node1.reserved_bytes, Some(16 << 20));
    // web runs at most one task per node: two nodes left could not hold both.
    assert_eq!(
        node1.at_risk.as_deref(),
        Some("if node1 fails, no node may take web.1 (max 1 per node)")
    );
    assert_eq!(
        task_names(node1),
        ["web.1 running/running", "worker running/running"]
    );
    assert_eq!(task_names(&view.nodes[1]), ["worker running/running"]);
    assert_eq!(view.nodes[1].role, "worker");
    assert_eq!(
        view.nodes[0].tasks[0].since.as_deref(),
        Some("2026-12-02T12:02:14Z")
    );
    assert!(view.unassigned.is_empty());
}

#[test]
fn a_down_node_keeps_no_moved_task_and_a_recent_failure_shows_for_ten_minutes() {
    let applied = recorded("applied");
    let mut live = applied.clone();
    let node3 = node_id(&live, "node3");
    let down = live
        .nodes
        .iter_mut()
        .find(|n| n.id.as_deref() == Some(&node3));
    down.unwrap().status.as_mut().unwrap().state = Some(NodeState::DOWN);
    // Swarm shuts web's task on node3 down and starts its replacement elsewhere; the
    // replacement on node2 failed once first, and is pending again with no node.
    let index = live
        .tasks
        .iter()
        .position(|t| t.node_id.as_deref() == Some(&node3) && t.slot == Some(2))
        .unwrap();
    live.tasks[index].desired_state = Some(TaskState::SHUTDOWN);
    let mut failed = live.tasks[index].clone();
    failed.id = Some("failed".into());
    failed.node_id = Some(node_id(&live, "node2"));
    failed.status = Some(TaskStatus {
        state: Some(TaskState::FAILED),
        err: Some("task: non-zero exit (1)".into()),
        timestamp: Some("2026-12-02T12:03:00.5Z".into()),
        ..Default::default()
    });
    failed.desired_state = Some(TaskState::SHUTDOWN);
    let mut pending = failed.clone();
    pending.id = Some("pending".into());
    pending.node_id = None;
    pending.desired_state = Some(TaskState::RUNNING);
    pending.status = Some(TaskStatus {
        state: Some(TaskState::PENDING),
        err: Some("no suitable node (max replicas per node limit exceed)".into()),
        ..Default::default()
    });
    live.tasks.extend([failed, pending]);
    let soon = nodes(
        Some(&observed(lab_desired(), live.clone())),
        recorded_time(Duration::from_secs(120)),
    );
    let node3 = &soon.nodes[2];
    assert_eq!(node3.state, "down");
    // The global task stays where it was; web's left.
    assert_eq!(task_names(node3), ["worker running/running"]);
    assert_eq!(
        task_names(&soon.nodes[1]),
        ["web.2 failed/shutdown", "worker running/running"]
    );
    assert_eq!(
        soon.nodes[1].tasks[0].message.as_deref(),
        Some("task: non-zero exit (1)")
    );
    // A down node counts for no capacity.
    assert_eq!(
        (node3.reserved_bytes, node3.memory_bytes),
        (None, Some(25275990016))
    );
    assert_eq!(soon.unassigned.len(), 1);
    assert_eq!(
        (
            soon.unassigned[0].service.as_str(),
            soon.unassigned[0].state.as_str()
        ),
        ("web", "pending")
    );
    let later = nodes(
        Some(&observed(lab_desired(), live)),
        recorded_time(Duration::from_secs(15 * 60)),
    );
    assert_eq!(task_names(&later.nodes[1]), ["worker running/running"]);
}

#[test]
fn before_any_observation_the_views_are_empty() {
    let view = nodes(None, SystemTime::now());
    assert_eq!((view.observed_at, view.nodes.len()), (None, 0));
    let view = volumes(None);
    assert_eq!((view.observed_at, view.volumes.len()), (None, 0));
}

fn example() -> Desired {
    validate_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../desired-state"),
        &ValidateOptions::default(),
    )
    .unwrap()
    .desired
}

#[test]
fn the_storage_panel_names_the_offline_brick_and_what_waits_to_heal() {
    use crate::gluster::{recorded as answer, xml};
    use crate::observe::gluster::BrickState;
    // As observe reads it when node3 is gone: heal info names the brick it cannot reach.
    let mut pool = crate::observe::gluster::recorded_pool("healthy");
    let heal = xml::heal_summary(&answer("degraded/heal-info-summary.xml")).unwrap();
    pool.volumes[0].brick_states = heal.iter().map(BrickState::from).collect();
    pool.volumes[0].bricks_online = Some(2);
    let mut live = recorded("applied");
    live.gluster = Some(Ok(pool.clone()));
    let view = volumes(Some(&observed(example(), live.clone())));
    assert_eq!(view.error, None);
    assert_eq!(view.volumes.len(), 1);
    let volume = &view.volumes[0];
    assert_eq!(
        (volume.name.as_str(), volume.state),
        ("storage", VolumeState::Degraded)
    );
    let bricks: Vec<(&str, Option<bool>, Option<u64>)> = volume
        .bricks
        .iter()
        .map(|b| (b.node.as_str(), b.online, b.heal_pending))
        .collect();
    assert_eq!(
        bricks,
        [
            ("node1", Some(true), Some(0)),
            ("node2", Some(true), Some(0)),
            ("node3", Some(false), None),
        ]
    );
    assert_eq!(
        volume.bricks[2].status.as_deref(),
        Some("Failed to process entries completely. (Transport endpoint is not connected)")
    );
    assert_eq!(volume.bricks[2].brick, "node3:/data/bricks/storage");

    // When heal info does not answer, `volume status` says which are online, not what
    // they hold to heal.
    let status = xml::volume_status(&answer("degraded/volume-status.xml")).unwrap();
    pool.volumes[0].brick_states = status.iter().map(BrickState::from).collect();
    live.gluster = Some(Ok(pool));
    let view = volumes(Some(&observed(example(), live)));
    let bricks: Vec<String> = view.volumes[0]
        .bricks
        .iter()
        .map(|b| {
            format!(
                "{} {:?} {:?} {:?}",
                b.node, b.online, b.status, b.heal_pending
            )
        })
        .collect();
    assert_eq!(
        bricks,
        [
            "node1 Some(true) Some(\"Online\") None",
            "node2 Some(true) Some(\"Online\") None",
            "node3 Some(false) Some(\"not listed by gluster\") None",
        ]
    );
}

#[test]
fn a_pool_that_cannot_be_read_is_said_and_a_volume_not_made_is_missing() {
    let mut live = recorded("applied");
    live.gluster = Some(Err("gluster: no answer within 10s".into()));
    let view = volumes(Some(&observed(example(), live)));
    assert_eq!(view.error.as_deref(), Some("gluster: no answer within 10s"));
    assert_eq!(view.volumes[0].state, VolumeState::Unknown);
    assert!(view.volumes[0].bricks.is_empty());
    // Read, and without the volume: not made yet.
    let mut live = recorded("applied");
    live.gluster = Some(Ok(crate::observe::gluster::GlusterLive::default()));
    let view = volumes(Some(&observed(example(), live)));
    assert_eq!(view.volumes[0].state, VolumeState::Missing);
    // As the page reads it.
    assert_eq!(
        serde_json::to_value(VolumeState::NotStarted).unwrap(),
        "not started"
    );
}

#[test]
fn the_plan_served_hides_every_env_value() {
    // `drifted`: EXTRA=1 added to web by hand, replicas 3.
    let served = plan(&observed(lab_desired(), recorded("drifted")));
    let json: serde_json::Value = serde_json::from_str(&served).unwrap();
    let web = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "web")
        .unwrap();
    let fields: Vec<String> = web["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {} {}", f["path"], f["from"], f["to"]))
        .collect();
    assert_eq!(
        fields,
        [
            "\"env.EXTRA\" \"(hidden)\" null",
            "\"replicas\" \"3\" \"2\""
        ]
    );
    assert!(json["observed_at"].is_string());
}
