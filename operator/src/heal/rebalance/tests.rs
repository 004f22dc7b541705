//! Rebalancing decided on the swarms recorded from both lab engines: lab-desired's `web`
//! (2 replicas, one on node1 and one on node3, spread over `tier`) and `worker` (global).

use std::path::Path;

use bollard::models::{NodeState, ServiceUpdateStatus, TaskState, TaskStatus};

use super::*;
use crate::agent::report::{AgentStatus, VolumeStatus};
use crate::controller::fake::lab_desired;
use crate::observe::recorded::{ENGINES, live};
use crate::resources::Spec;
use crate::source::{Loaded, load_text};

const SETTLE: Duration = Duration::from_secs(60);

fn web_spec(desired: &mut Desired) -> &mut ServiceSpec {
    let web = desired.resources.iter_mut().find(|r| r.name() == "web");
    match &mut web.unwrap().spec {
        Spec::Service(spec) => spec,
        _ => unreachable!(),
    }
}

fn node_id(live: &Live, hostname: &str) -> String {
    live.node_by_hostname(hostname).unwrap().id.clone().unwrap()
}

/// Moves web's task on `from` to `to`, as swarm leaves it after `from` crashed.
fn move_web_task(live: &mut Live, from: &str, to: &str) {
    let (from, to) = (node_id(live, from), node_id(live, to));
    let web = live.service("web").unwrap().id.clone();
    let task = live
        .tasks
        .iter_mut()
        .find(|t| t.service_id == web && t.node_id.as_deref() == Some(from.as_str()))
        .unwrap();
    task.node_id = Some(to);
}

fn set_ready(live: &mut Live, hostname: &str, ready: bool) {
    let id = node_id(live, hostname);
    let node = live.nodes.iter_mut().find(|n| n.id.as_ref() == Some(&id));
    node.unwrap().status.as_mut().unwrap().state = Some(if ready {
        NodeState::READY
    } else {
        NodeState::DOWN
    });
}

fn verdict_of(desired: &Desired, live: &Live, name: &str) -> Verdict {
    let (resource, spec) = desired.services().find(|(r, _)| r.name() == name).unwrap();
    verdict(
        desired,
        live,
        resource,
        spec,
        &BTreeSet::new(),
        &BTreeMap::new(),
    )
}

fn distribution(counts: &[(&str, usize)]) -> Distribution {
    Distribution(counts.iter().map(|(n, c)| (n.to_string(), *c)).collect())
}

#[test]
fn a_service_crowded_on_one_node_is_unbalanced_unless_exempt() {
    for engine in ENGINES {
        let mut desired = lab_desired();
        let mut live = live(engine, "applied");
        assert_eq!(verdict_of(&desired, &live, "web"), Verdict::Balanced);
        assert_eq!(
            verdict_of(&desired, &live, "worker"),
            Verdict::Exempt(Exemption::Global)
        );
        move_web_task(&mut live, "node3", "node1");
        let crowded = distribution(&[("node1", 2), ("node3", 0)]);
        assert_eq!(
            verdict_of(&desired, &live, "web"),
            Verdict::Unbalanced(crowded.clone()),
            "engine {engine}"
        );
        assert_eq!(crowded.to_string(), "node1: 2, node3: 0");

        let pinned = {
            let mut d = desired.clone();
            let placement = web_spec(&mut d).placement.as_mut().unwrap();
            placement.constraints.push("node.hostname == node1".into());
            d
        };
        assert_eq!(
            verdict_of(&pinned, &live, "web"),
            Verdict::Exempt(Exemption::Pinned)
        );
        let single = {
            let mut d = desired.clone();
            web_spec(&mut d).replicas = Some(1);
            d
        };
        assert_eq!(
            verdict_of(&single, &live, "web"),
            Verdict::Exempt(Exemption::SingleReplica)
        );
        let web = desired.resources.iter_mut().find(|r| r.name() == "web");
        let annotations = &mut web.unwrap().metadata.annotations;
        annotations.insert(REBALANCE_ANNOTATION.into(), "off".into());
        assert_eq!(
            verdict_of(&desired, &live, "web"),
            Verdict::Exempt(Exemption::Off)
        );
    }
}

#[test]
fn spread_preferences_are_balanced_over_label_values_first() {
    for engine in ENGINES {
        // Candidates node1 (tier front), node2 and node3 (tier back, set by hand: node3
        // has no Node resource).
        let mut desired = lab_desired();
        web_spec(&mut desired)
            .placement
            .as_mut()
            .unwrap()
            .constraints
            .clear();
        let mut live = live(engine, "applied");
        let node3 = node_id(&live, "node3");
        let node3 = live
            .nodes
            .iter_mut()
            .find(|n| n.id.as_ref() == Some(&node3));
        let labels = node3
            .unwrap()
            .spec
            .as_mut()
            .unwrap()
            .labels
            .get_or_insert_default();
        labels.insert("tier".into(), "back".into());
        // node1: 1, node3: 1 is one task on each tier.
        assert_eq!(verdict_of(&desired, &live, "web"), Verdict::Balanced);
        // node2: 1, node3: 1 is even over nodes, not over tiers (front 0, back 2).
        move_web_task(&mut live, "node1", "node2");
        assert_eq!(
            verdict_of(&desired, &live, "web"),
            Verdict::Unbalanced(distribution(&[("node1", 0), ("node2", 1), ("node3", 1)]))
        );
    }
}

/// lab-desired with a GlusterVolume mounted at /data/storage that web bind-mounts.
fn with_storage(mut desired: Desired) -> Desired {
    let yaml = "apiVersion: shoal/v1alpha1\nkind: GlusterVolume\nmetadata:\n  name: storage\nspec:\n  mountPoint: /data/storage\n  replica: 3\n  force: true\n  bricks:\n    - {node: node1, path: /data/bricks/storage}\n    - {node: node2, path: /data/bricks/storage}\n    - {node: node3, path: /data/bricks/storage}\n";
    let mut loaded = Loaded::default();
    load_text(Path::new("storage.yaml"), yaml, &mut loaded);
    assert_eq!(loaded.problems, vec![]);
    desired.resources.extend(loaded.desired.resources);
    let mount = &mut web_spec(&mut desired).mounts[1];
    mount.source = Some("/data/storage/uploads".into());
    desired
}

fn agent(hostname: &str, mounted: bool) -> (String, Result<AgentStatus, String>) {
    let status = AgentStatus {
        hostname: hostname.into(),
        volumes: vec![VolumeStatus {
            volume: "storage".into(),
            mount_point: "/data/storage".into(),
            mounted,
            ..VolumeStatus::default()
        }],
        desired_error: None,
    };
    (hostname.into(), Ok(status))
}

#[test]
fn a_service_on_a_volume_waits_until_it_healed_and_the_returned_node_mounted_it() {
    for engine in ENGINES {
        let desired = with_storage(lab_desired());
        let mut live = live(engine, "applied");
        move_web_task(&mut live, "node3", "node1");
        let (resource, spec) = desired.services().find(|(r, _)| r.name() == "web").unwrap();
        let returned = BTreeMap::from([("node3".to_string(), Instant::now())]);
        let healed = BTreeSet::from(["storage".to_string()]);
        let at = |live: &Live, healed: &BTreeSet<String>| {
            verdict(&desired, live, resource, spec, healed, &returned)
        };
        assert_eq!(
            at(&live, &BTreeSet::new()),
            Verdict::WaitsForStorage("GlusterVolume/storage has not healed".into())
        );
        live.agents = Some([agent("node1", true), agent("node3", false)].into());
        assert_eq!(
            at(&live, &healed),
            Verdict::WaitsForStorage("GlusterVolume/storage is not mounted on node3".into())
        );
        live.agents = Some([agent("node1", true), agent("node3", true)].into());
        assert_eq!(
            at(&live, &healed),
            Verdict::Unbalanced(distribution(&[("node1", 2), ("node3", 0)]))
        );
    }
}

/// web's running tasks after the force update: on node1 and node3, carrying
/// `force_update`, `state` (running once the new tasks started).
fn force_updated(live: &Live, force_update: u64, state: TaskState) -> Live {
    let mut live = live.clone();
    let web = live.service("web").unwrap().id.clone();
    for task in live.tasks.iter_mut().filter(|t| t.service_id == web) {
        task.spec.as_mut().unwrap().force_update = Some(force_update);
        task.status = Some(TaskStatus {
            state: Some(state),
            ..TaskStatus::default()
        });
    }
    live
}

#[test]
fn a_returned_node_gets_its_share_after_the_settle_period_one_service_at_a_time() {
    for engine in ENGINES {
        let desired = lab_desired();
        let healed = BTreeSet::new();
        let applied = live(engine, "applied");
        let mut crashed = applied.clone();
        set_ready(&mut crashed, "node3", false);
        move_web_task(&mut crashed, "node3", "node1");
        let mut returned = crashed.clone();
        set_ready(&mut returned, "node3", true);

        let t0 = Instant::now();
        let mut watch = RebalanceWatch::default();
        let mut look = |live: &Live, after: u64| {
            watch.observe(
                &desired,
                live,
                &healed,
                SETTLE,
                t0 + Duration::from_secs(after),
            )
        };
        assert_eq!(look(&applied, 0), None, "a baseline");
        assert_eq!(look(&crashed, 10), None);
        assert_eq!(look(&returned, 20), None, "node3 just returned");
        assert_eq!(look(&returned, 79), None, "settling");
        let before = distribution(&[("node1", 2), ("node3", 0)]);
        assert_eq!(
            look(&returned, 80),
            Some(RebalanceStep::Start {
                service: "web".into(),
                before: before.clone()
            }),
            "engine {engine}"
        );
        watch.started("web", 1, before.clone(), t0 + Duration::from_secs(80));
        let mut look = |live: &Live, after: u64| {
            watch.observe(
                &desired,
                live,
                &healed,
                SETTLE,
                t0 + Duration::from_secs(after),
            )
        };
        assert_eq!(look(&returned, 85), None, "swarm has not started");
        let mut starting = force_updated(&returned, 1, TaskState::STARTING);
        move_web_task(&mut starting, "node1", "node3");
        assert_eq!(look(&starting, 90), None, "new tasks not running yet");
        let running = force_updated(&starting, 1, TaskState::RUNNING);
        assert_eq!(
            look(&running, 95),
            Some(RebalanceStep::Rebalanced {
                service: "web".into(),
                before,
                after: distribution(&[("node1", 1), ("node3", 1)]),
            })
        );
        assert_eq!(look(&running, 100), None, "the round is over");
        assert_eq!(look(&crashed, 200), None, "nothing to do");
    }
}

#[test]
fn a_flapping_node_settles_from_its_last_return() {
    for engine in ENGINES {
        let desired = lab_desired();
        let healed = BTreeSet::new();
        let mut crashed = live(engine, "applied");
        move_web_task(&mut crashed, "node3", "node1");
        set_ready(&mut crashed, "node3", false);
        let mut returned = crashed.clone();
        set_ready(&mut returned, "node3", true);
        let t0 = Instant::now();
        let mut watch = RebalanceWatch::default();
        let mut look = |live: &Live, after: u64| {
            watch.observe(
                &desired,
                live,
                &healed,
                SETTLE,
                t0 + Duration::from_secs(after),
            )
        };
        look(&crashed, 0);
        assert_eq!(look(&returned, 10), None);
        assert_eq!(look(&crashed, 30), None);
        assert_eq!(look(&returned, 50), None);
        assert_eq!(look(&returned, 71), None, "60 s after the first return");
        assert!(matches!(
            look(&returned, 110),
            Some(RebalanceStep::Start { .. })
        ));
    }
}

#[test]
fn a_rebalance_swarm_paused_or_that_never_converges_is_given_up() {
    for engine in ENGINES {
        let desired = lab_desired();
        let healed = BTreeSet::new();
        let live = live(engine, "applied");
        let t0 = Instant::now();
        let mut watch = RebalanceWatch::default();
        watch.started("web", 7, Distribution::default(), t0);
        assert_eq!(
            watch.observe(&desired, &live, &healed, SETTLE, t0 + CONVERGE_TIMEOUT),
            Some(RebalanceStep::Failed {
                service: "web".into(),
                why: "not converged within 10m".into()
            })
        );
        let mut paused = live.clone();
        let web = paused
            .services
            .iter_mut()
            .find(|s| s.spec.as_ref().unwrap().name.as_deref() == Some("web"))
            .unwrap();
        web.update_status = Some(ServiceUpdateStatus {
            state: Some(ServiceUpdateStatusStateEnum::PAUSED),
            message: Some("update paused due to failure or early termination of task x".into()),
            ..Default::default()
        });
        watch.started("web", 8, Distribution::default(), t0);
        assert_eq!(
            watch.observe(&desired, &paused, &healed, SETTLE, t0),
            Some(RebalanceStep::Failed {
                service: "web".into(),
                why: "swarm's update is paused: update paused due to failure or early \
                      termination of task x"
                    .into()
            })
        );
    }
}

#[test]
fn a_node_down_again_mid_round_gets_its_share_when_it_returns_for_good() {
    for engine in ENGINES {
        let desired = lab_desired();
        let healed = BTreeSet::new();
        let mut crashed = live(engine, "applied");
        move_web_task(&mut crashed, "node3", "node1");
        set_ready(&mut crashed, "node3", false);
        let mut returned = crashed.clone();
        set_ready(&mut returned, "node3", true);
        let t0 = Instant::now();
        let mut watch = RebalanceWatch::default();
        let look = |watch: &mut RebalanceWatch, live: &Live, after: u64| {
            watch.observe(
                &desired,
                live,
                &healed,
                SETTLE,
                t0 + Duration::from_secs(after),
            )
        };
        look(&mut watch, &crashed, 0);
        look(&mut watch, &returned, 10);
        assert!(matches!(
            look(&mut watch, &returned, 70),
            Some(RebalanceStep::Start { .. })
        ));
        watch.started(
            "web",
            1,
            Distribution::default(),
            t0 + Duration::from_secs(70),
        );
        // node3 goes down while swarm replaces web's tasks; the update is given up...
        assert!(matches!(
            look(&mut watch, &crashed, 80 + CONVERGE_TIMEOUT.as_secs()),
            Some(RebalanceStep::Failed { .. })
        ));
        // ...and once node3 is back and settled, web is looked at anew.
        let back = 100 + CONVERGE_TIMEOUT.as_secs();
        assert_eq!(look(&mut watch, &returned, back), None);
        assert!(matches!(
            look(&mut watch, &returned, back + 60),
            Some(RebalanceStep::Start { .. })
        ));
    }
}

#[test]
fn a_service_waiting_for_its_volume_is_told_once_and_given_up_after_a_while() {
    let engine = ENGINES[1];
    let desired = with_storage(lab_desired());
    let healed = BTreeSet::new();
    let mut crashed = live(engine, "applied");
    move_web_task(&mut crashed, "node3", "node1");
    set_ready(&mut crashed, "node3", false);
    let mut returned = crashed.clone();
    set_ready(&mut returned, "node3", true);
    let t0 = Instant::now();
    let mut watch = RebalanceWatch::default();
    let mut look = |live: &Live, after: u64| {
        watch.observe(
            &desired,
            live,
            &healed,
            SETTLE,
            t0 + Duration::from_secs(after),
        )
    };
    look(&crashed, 0);
    look(&returned, 10);
    let waiting = Some(RebalanceStep::Waiting {
        service: "web".into(),
        why: "GlusterVolume/storage has not healed".into(),
    });
    assert_eq!(look(&returned, 70), waiting);
    assert_eq!(look(&returned, 80), None, "told once");
    let late = 70 + STORAGE_WAIT.as_secs();
    assert_eq!(
        look(&returned, late),
        Some(RebalanceStep::Failed {
            service: "web".into(),
            why: "its storage was not ready: GlusterVolume/storage has not healed".into()
        })
    );
    assert_eq!(look(&returned, late + 10), None, "the round is over");
}
