//! The plan on JSON recorded from the lab's real engines (tests/fixtures/record): right
//! after an apply nothing differs; after changes made by hand, exactly those show. The
//! tests that read engine answers run on the recording of every engine the lab runs.

use std::path::PathBuf;

use super::*;
use crate::observe::recorded::{CURRENT, ENGINES};
use crate::source::validate::{ValidateOptions, validate_dir};

fn desired() -> Desired {
    let validation = validate_dir(
        &crate::observe::recorded::fixtures().join("lab-desired"),
        &ValidateOptions::default(),
    )
    .unwrap();
    assert_eq!(validation.errors(), 0, "{:?}", validation.problems);
    validation.desired
}

fn recorded(engine: &str, name: &str) -> Live {
    crate::observe::recorded::live(engine, name)
}

/// Each change's kind, name and action, in plan order.
fn order(plan: &Plan) -> Vec<(Kind, &str, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.kind, c.name.as_str(), c.action))
        .collect()
}

fn field(path: &str, from: Option<&str>, to: Option<&str>) -> FieldChange {
    FieldChange {
        path: path.into(),
        from: from.map(str::to_string),
        to: to.map(str::to_string),
    }
}

#[test]
fn right_after_apply_nothing_differs_in_any_field() {
    for engine in ENGINES {
        let plan = plan(&desired(), &recorded(engine, "applied"));
        assert_eq!(plan.changes, Vec::<Change>::new(), "engine {engine}");
        assert_eq!(plan.unmanaged, Vec::<Unmanaged>::new(), "engine {engine}");
    }
}

#[test]
fn changes_made_by_hand_show_as_exactly_those_fields() {
    for engine in ENGINES {
        let plan = plan(&desired(), &recorded(engine, "drifted"));
        assert_eq!(
            plan.changes,
            vec![Change {
                kind: Kind::Service,
                name: "web".into(),
                action: Action::Update,
                fields: vec![
                    field("env.EXTRA", Some("1"), None),
                    field("replicas", Some("3"), Some("2")),
                ],
                restarts_tasks: true,
                blocked: None,
                volume_ops: Vec::new(),
            }],
            "engine {engine}"
        );
        assert_eq!(
            plan.unmanaged,
            vec![Unmanaged {
                kind: Kind::Service,
                name: "unmanaged-app".into()
            }]
        );
        assert_eq!(
            plan.summary(),
            "Plan: 0 to create, 1 to update, 0 to delete."
        );
    }
}

#[test]
fn against_an_empty_swarm_everything_is_created_in_order() {
    for engine in ENGINES {
        let mut live = recorded(engine, "applied");
        live.services.clear();
        live.networks
            .retain(|n| n.name.as_deref() == Some("ingress"));
        let plan = plan(&desired(), &live);
        assert_eq!(
            order(&plan),
            [
                (Kind::Network, "appnet", Action::Create),
                (Kind::Network, "backnet", Action::Create),
                (Kind::Service, "web", Action::Create),
                (Kind::Service, "worker", Action::Create),
            ]
        );
        assert!(plan.changes.iter().all(|c| c.blocked.is_none()));
        let worker = &plan.changes[3];
        assert_eq!(
            worker.fields,
            vec![
                field("command", None, Some("[/bin/idle]")),
                field("image", None, Some("lab/tools:1")),
                field("mode", None, Some("global")),
                field("mounts[0].source", None, Some("worker-data")),
                field("mounts[0].target", None, Some("/data")),
                field("mounts[0].type", None, Some("volume")),
                field("networks", None, Some("[backnet]")),
                field("resources.limits.memory", None, Some("16M")),
            ]
        );
    }
}

#[test]
fn a_missing_secret_blocks_the_service_with_a_hint() {
    for engine in ENGINES {
        let mut live = recorded(engine, "applied");
        live.secrets.clear();
        live.services
            .retain(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) != Some("web"));
        let plan = plan(&desired(), &live);
        let web = plan.changes.iter().find(|c| c.name == "web").unwrap();
        assert_eq!(web.action, Action::Create);
        assert_eq!(
            web.blocked.as_ref().map(ToString::to_string).as_deref(),
            Some(
                "swarm secret \"fixture_token\" does not exist: create it with `docker secret create fixture_token FILE`"
            )
        );
        assert_eq!(
            plan.summary(),
            "Plan: 0 to create, 0 to update, 0 to delete. 1 blocked."
        );
    }
}

#[test]
fn managed_objects_missing_from_desired_are_deleted_services_first() {
    for engine in ENGINES {
        let mut desired = desired();
        desired.resources.retain(|r| r.kind() == Kind::Node);
        let live = recorded(engine, "applied");
        let plan = plan(&desired, &live);
        assert_eq!(
            order(&plan),
            [
                (Kind::Service, "web", Action::Delete),
                (Kind::Service, "worker", Action::Delete),
                (Kind::Network, "appnet", Action::Delete),
                (Kind::Network, "backnet", Action::Delete),
            ]
        );
        assert_eq!(
            prune_refusal(&plan, &desired, &live).as_deref(),
            Some(
                "2 of 2 managed services would be deleted, more than half: refusing; pass --allow-mass-prune if you mean it"
            )
        );
    }
}

#[test]
fn a_mode_change_is_a_replacement() {
    for engine in ENGINES {
        let mut desired = desired();
        for resource in &mut desired.resources {
            if let crate::resources::Spec::Service(spec) = &mut resource.spec
                && resource.metadata.name == "worker"
            {
                spec.mode = crate::resources::service::ServiceMode::Replicated;
                spec.replicas = Some(2);
            }
        }
        let plan = plan(&desired, &recorded(engine, "applied"));
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::Replace);
        assert_eq!(
            plan.changes[0].fields,
            vec![
                field("mode", Some("global"), Some("replicated")),
                field("replicas", None, Some("2"))
            ]
        );
        assert_eq!(
            plan.summary(),
            "Plan: 1 to create, 0 to update, 1 to delete."
        );
    }
}

#[test]
fn node_labels_set_by_others_are_left_alone() {
    for engine in ENGINES {
        let live = recorded(engine, "applied");
        let node1 = live.node_by_hostname("node1").unwrap();
        let mut spec = node1.spec.clone().unwrap();
        spec.labels
            .get_or_insert_default()
            .insert("set-by-hand".into(), "yes".into());
        let desired_spec = crate::resources::NodeSpec {
            hostname: None,
            labels: [("tier".to_string(), "front".to_string())].into(),
            availability: Availability::Active,
            memory: None,
        };
        assert_eq!(
            crate::diff::node::changes(&desired_spec, Some(&spec)),
            Vec::<FieldChange>::new()
        );
        // A label shoal set before and no longer declares is removed.
        let without = crate::resources::NodeSpec {
            labels: Default::default(),
            ..desired_spec
        };
        assert_eq!(
            crate::diff::node::changes(&without, Some(&spec)),
            vec![field("labels.tier", Some("front"), None)]
        );
    }
}

#[test]
fn json_output_has_the_documented_shape() {
    let plan = plan(&desired(), &recorded(CURRENT, "drifted"));
    let json: serde_json::Value = serde_json::from_str(&render::json(&plan)).unwrap();
    // Every key docs/plan-json.md documents, with these values (a change: no `blocked`).
    assert_eq!(
        json,
        serde_json::json!({
            "format_version": 1,
            "changes": [{
                "kind": "Service",
                "name": "web",
                "action": "update",
                "fields": [
                    {"path": "env.EXTRA", "from": "1", "to": null},
                    {"path": "replicas", "from": "3", "to": "2"}
                ],
                "restarts_tasks": true
            }],
            "unmanaged": [{"kind": "Service", "name": "unmanaged-app"}],
            "not_managed": [],
            "storage": [],
            "mounts": [],
            "capacity": {
                "nodes": [
                    {"node": "node1", "memory_bytes": 25275990016u64, "declared": false,
                     "reserved_bytes": 16777216, "limited_bytes": 50331648, "tasks": 2,
                     "unlimited": 0},
                    {"node": "node2", "memory_bytes": 25275990016u64, "declared": false,
                     "reserved_bytes": 0, "limited_bytes": 16777216, "tasks": 1,
                     "unlimited": 0},
                    {"node": "node3", "memory_bytes": 25275990016u64, "declared": false,
                     "reserved_bytes": 16777216, "limited_bytes": 50331648, "tasks": 3,
                     "unlimited": 1}
                ],
                "losses": [
                    {"node": "node1", "unplaced": [{"task": "web.1",
                     "reservation_bytes": 16777216, "why": {"max_replicas_per_node": 1}}]},
                    {"node": "node3", "unplaced": [{"task": "web.3",
                     "reservation_bytes": 16777216, "why": {"max_replicas_per_node": 1}}]}
                ]
            },
            "summary": {"create": 0, "update": 1, "delete": 0, "replace": 0, "adopt": 0, "blocked": 0}
        })
    );
    // A blocked change says why, in words.
    let mut live = recorded(CURRENT, "drifted");
    live.secrets.clear();
    let blocked: serde_json::Value = serde_json::from_str(&render::json(&plan_of(&live))).unwrap();
    assert_eq!(
        blocked["changes"][0]["blocked"],
        "swarm secret \"fixture_token\" does not exist: create it with `docker secret create \
         fixture_token FILE`"
    );
    assert_eq!(blocked["summary"]["blocked"], 1);
}

fn plan_of(live: &Live) -> Plan {
    plan(&desired(), live)
}

#[test]
fn text_output_reads_like_terraform() {
    let plan = plan(&desired(), &recorded(CURRENT, "drifted"));
    assert_eq!(
        render::text(&plan, false),
        "shoal will perform the following actions:\n\n  \
         # Service/web will be updated in place, restarting its tasks\n  \
         ~ Service/web\n      \
         - env.EXTRA: 1\n      \
         ~ replicas: 3 -> 2\n\n\
         Unmanaged (never changed):\n  Service/unmanaged-app\n\n\
         Capacity (memory reserved by tasks, as swarm places them, and their limits):\n  \
         node1: 23.5G: 16M reserved, 48M in limits, 2 tasks\n  \
         node2: 23.5G: 0 reserved, 16M in limits, 1 task\n  \
         node3: 23.5G: 16M reserved, 48M in limits, 3 tasks, 1 without a limit\n  \
         at risk: if node1 fails, no node may take web.1 (max 1 per node)\n  \
         at risk: if node3 fails, no node may take web.3 (max 1 per node)\n\n\
         Plan: 0 to create, 1 to update, 0 to delete.\n"
    );
    assert!(render::text(&plan, true).contains("\u{1b}[33m~\u{1b}[0m Service/web"));
}

/// The example's volume, started, as observed (bricks and options do not matter here).
fn started_volume() -> crate::observe::gluster::VolumeState {
    crate::observe::gluster::VolumeState {
        name: "storage".into(),
        status: crate::gluster::xml::VolumeStatus::Started,
        replica: 3,
        arbiter: 0,
        bricks: vec![],
        options: Default::default(),
        bricks_online: None,
        heal_pending: 0,
        split_brain: 0,
        split_brain_files: vec![],
        brick_states: vec![],
    }
}

#[test]
fn a_service_on_a_gluster_volume_waits_until_the_volume_is_started() {
    use crate::observe::gluster::GlusterLive;
    let example = validate_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../desired-state"),
        &ValidateOptions::default(),
    )
    .unwrap()
    .desired;
    let mut live = recorded(CURRENT, "applied");
    live.services.clear();
    live.gluster = Some(Ok(GlusterLive::default()));
    let waiting_plan = plan(&example, &live);
    let blocked: Vec<(&str, String)> = waiting_plan
        .changes
        .iter()
        .filter_map(|c| Some((c.name.as_str(), c.blocked.as_ref()?)))
        .filter(|(_, why)| why.clears_by_itself())
        .map(|(name, why)| (name, why.to_string()))
        .collect();
    let waiting = "waiting for GlusterVolume/storage to be created and started: /data/storage/wordpress lies on it";
    // php-fpm too: its password's version, which this plan creates, does not hold it.
    assert_eq!(
        blocked,
        [
            ("fileserver", waiting.to_string()),
            ("http", waiting.to_string()),
            ("php-fpm", waiting.to_string())
        ]
    );

    // Once the volume is started, the gate opens.
    live.gluster = Some(Ok(GlusterLive {
        volumes: vec![started_volume()],
        ..GlusterLive::default()
    }));
    let plan = plan(&example, &live);
    assert_eq!(held_back(&plan), [("php-fpm", DB_FIRST.to_string())]);
}

/// php-fpm depends on the database, which these swarms do not run.
const DB_FIRST: &str = "waiting for Service/db (dependsOn): it does not exist yet";

/// The changes held back by something that clears by itself, and why.
fn held_back(plan: &Plan) -> Vec<(&str, String)> {
    plan.changes
        .iter()
        .filter_map(|c| Some((c.name.as_str(), c.blocked.as_ref()?)))
        .filter(|(_, why)| why.clears_by_itself())
        .map(|(name, why)| (name, why.to_string()))
        .collect()
}

fn agent_report(node: &str, mounted: bool) -> crate::agent::report::AgentStatus {
    crate::agent::report::AgentStatus {
        hostname: node.into(),
        volumes: vec![crate::agent::report::VolumeStatus {
            volume: "storage".into(),
            mount_point: "/data/storage".into(),
            mounted,
            server: mounted.then(|| node.to_string()),
            free_bytes: mounted.then_some(3 << 29),
            last_error: (!mounted).then(|| "mount: Transport endpoint is not connected".into()),
            ..Default::default()
        }],
        desired_error: None,
    }
}

#[test]
fn a_service_on_a_gluster_volume_waits_until_its_nodes_have_it_mounted() {
    for engine in ENGINES {
        use crate::observe::gluster::GlusterLive;
        let example = validate_dir(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../desired-state"),
            &ValidateOptions::default(),
        )
        .unwrap()
        .desired;
        let mut live = recorded(engine, "applied");
        live.services.clear();
        live.gluster = Some(Ok(GlusterLive {
            volumes: vec![started_volume()],
            ..GlusterLive::default()
        }));
        live.agents = Some(
            [
                ("node1".to_string(), Ok(agent_report("node1", true))),
                ("node2".to_string(), Ok(agent_report("node2", false))),
                (
                    "node3".to_string(),
                    Err("agent at http://10.213.0.13:9851/api/v1/status unreachable: Connection refused".into()),
                ),
            ]
            .into(),
        );
        let waiting_plan = plan(&example, &live);
        let waiting: Vec<(&str, String)> = waiting_plan
            .changes
            .iter()
            .filter_map(|c| Some((c.name.as_str(), c.blocked.as_ref()?)))
            .filter(|(_, why)| why.clears_by_itself())
            .map(|(name, why)| (name, why.to_string()))
            .collect();
        let why = "waiting for GlusterVolume/storage to be mounted on node2 (not mounted), node3 \
                   (agent unreachable): /data/storage/wordpress lies on it";
        assert_eq!(
            waiting,
            [
                ("fileserver", why.to_string()),
                ("http", why.to_string()),
                ("php-fpm", why.to_string())
            ]
        );
        let text = render::text(&waiting_plan, false);
        assert!(
            text.contains(
                "  GlusterVolume/storage on node1: mounted from node1, 1.5 GiB free\n  \
                 GlusterVolume/storage on node2: not mounted: mount: Transport endpoint is not connected\n  \
                 GlusterVolume/storage on node3: agent at http://10.213.0.13:9851/api/v1/status unreachable: Connection refused\n"
            ),
            "{text}"
        );

        // A service pinned to node1 needs the mount there only.
        let mut pinned = example.clone();
        for resource in &mut pinned.resources {
            if let crate::resources::Spec::Service(spec) = &mut resource.spec
                && resource.metadata.name == "http"
            {
                spec.placement.get_or_insert_default().constraints =
                    vec!["node.labels.db == true".into()];
            }
        }
        let pinned_plan = plan(&pinned, &live);
        let http = pinned_plan
            .changes
            .iter()
            .find(|c| c.name == "http")
            .unwrap();
        assert_eq!(http.blocked, None);

        // Mounted everywhere: nothing waits.
        live.agents = Some(
            ["node1", "node2", "node3"]
                .map(|n| (n.to_string(), Ok(agent_report(n, true))))
                .into(),
        );
        let ready_plan = plan(&example, &live);
        assert_eq!(held_back(&ready_plan), [("php-fpm", DB_FIRST.to_string())]);
    }
}
