//! Healing after node crashes, against the lab: what `shoal run` tells when a worker
//! crashes and comes back, and when tasks are killed at their memory limit or loop.

use std::path::Path;
use std::time::Duration;

use shoal_tests::operator::Operator;
use shoal_tests::{Lab, RestoreOnDrop, lab, lab_script};

const MINUTE: Duration = Duration::from_secs(60);

/// `spread` may run anywhere (its task of a crashed node moves, and is moved back once the
/// node returned); `capped` runs at most one task per node, so with a node down its third
/// task cannot be placed. `everywhere` (global), `pinned` (to node1) and `stays` (annotated
/// off) are never rebalanced.
const SERVICES: &str = "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: everywhere
spec:
  image: lab/web:1
  mode: global
  resources:
    limits:
      memory: 32M
---
apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: pinned
spec:
  image: lab/web:1
  replicas: 2
  placement:
    constraints: [node.hostname == node1]
  resources:
    limits:
      memory: 32M
---
apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: stays
  annotations:
    shoal.io/rebalance: \"off\"
spec:
  image: lab/web:1
  replicas: 3
  resources:
    limits:
      memory: 32M
---
apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: spread
spec:
  image: lab/web:1
  replicas: 3
  resources:
    limits:
      memory: 32M
---
apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: capped
spec:
  image: lab/web:1
  replicas: 3
  placement:
    maxReplicasPerNode: 1
  resources:
    limits:
      memory: 32M
";

/// How long a returned node stays ready before `shoal run` rebalances, in these tests.
const SETTLE: Duration = Duration::from_secs(30);

/// `shoal run` of `dir` with its own port and lease, its log in `logs`.
fn start(lab: &Lab, port: u16, lease: &str, dir: &Path, logs: &Path) -> Operator {
    let args = [
        "--no-agents",
        "--rebalance-settle",
        "30s",
        "--lease-name",
        lease,
        "--lease-ttl",
        "6s",
        dir.to_str().unwrap(),
    ];
    lab.start_operator(port, &logs.join("run.log"), &args)
}

/// The message of the newest event with `reason` (about `resource`), and its position
/// in the newest-first list.
fn event(operator: &Operator, reason: &str, resource: Option<&str>) -> Option<(usize, String)> {
    operator
        .events()
        .iter()
        .enumerate()
        .find(|(_, e)| e["reason"] == reason && resource.is_none_or(|r| e["resource"] == r))
        .map(|(i, e)| (i, e["message"].as_str().unwrap_or_default().to_string()))
}

/// `big`: three tasks reserving 60 % of a lab node's memory each, so that each node
/// holds one and the loss of any leaves its task pending.
fn big(lab: &Lab) -> String {
    let memory = lab.docker(&[
        "node",
        "inspect",
        "node1",
        "--format",
        "{{.Description.Resources.MemoryBytes}}",
    ]);
    let mib = (memory.trim().parse::<u64>().unwrap() * 6 / 10) >> 20;
    format!(
        "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: big
spec:
  image: lab/web:1
  replicas: 3
  resources:
    limits:
      memory: {mib}M
    reservations:
      memory: {mib}M
"
    )
}

/// How many times events of `reason` were told (entries and repeats).
fn count(operator: &Operator, reason: &str) -> u64 {
    operator
        .events()
        .iter()
        .filter(|e| e["reason"] == reason)
        .map(|e| e["count"].as_u64().unwrap_or(0))
        .sum()
}

/// The nodes the running tasks of `service` run on, sorted.
fn distribution(lab: &Lab, service: &str) -> Vec<String> {
    let ps = lab.docker_unchecked(&[
        "service",
        "ps",
        service,
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}} {{.CurrentState}}",
    ]);
    let mut nodes: Vec<String> = shoal_tests::stdout(&ps)
        .lines()
        .filter(|l| l.contains("Running"))
        .filter_map(|l| l.split(' ').next().map(str::to_string))
        .collect();
    nodes.sort();
    nodes
}

#[test]
fn a_worker_crash_is_told_down_rescheduled_pending_ready_and_rebalanced() {
    let lab = lab();
    lab.reset();
    let _restore = RestoreOnDrop;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("services.yaml"), SERVICES).unwrap();
    std::fs::write(dir.path().join("big.yaml"), big(&lab)).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let operator = start(&lab, 19870, "shoal-lease-heal", dir.path(), logs.path());
    // One task of each on every node (swarm spreads replicas over nodes).
    let on_node3 = |service: &str| {
        let ps = lab.docker_unchecked(&[
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--filter",
            "node=node3",
            "--format",
            "{{.Name}} {{.CurrentState}}",
        ]);
        shoal_tests::stdout(&ps)
    };
    operator.wait_for(
        "a running task of each service on node3",
        MINUTE * 2,
        |_| {
            ["spread", "capped", "stays", "big"]
                .iter()
                .all(|s| on_node3(s).contains("Running"))
                .then_some(())
        },
    );
    let spread_task = on_node3("spread").split(' ').next().unwrap().to_string();
    let capped_task = on_node3("capped").split(' ').next().unwrap().to_string();
    let stays_task = on_node3("stays").split(' ').next().unwrap().to_string();
    let big_task = on_node3("big").split(' ').next().unwrap().to_string();
    // Each node's memory holds one task of big: shoal says before any crash that the loss
    // of a node leaves its task without a place.
    let risk = operator.wait_for("CapacityAtRisk of node3", MINUTE, |o| {
        o.events()
            .iter()
            .filter(|e| e["reason"] == "CapacityAtRisk")
            .filter_map(|e| e["message"].as_str())
            .find(|m| m.starts_with("node3: ") && m.contains(&format!("({big_task} ")))
            .map(str::to_string)
    });
    assert!(
        risk.starts_with("node3: if node3 fails, ") && risk.contains(" do not fit on node1, node2"),
        "{risk}"
    );

    lab_script(&["crash", "node3"]);
    let (_, down) = operator.wait_for("NodeDown", MINUTE * 2, |o| event(o, "NodeDown", None));
    let mut ran: Vec<&str> = down
        .trim_start_matches("node node3 is down; it ran ")
        .split(", ")
        .collect();
    ran.sort();
    let mut expected = [
        big_task.as_str(),
        capped_task.as_str(),
        spread_task.as_str(),
        stays_task.as_str(),
    ];
    expected.sort();
    assert_eq!(ran, expected, "{down}");
    let (_, moved) = operator.wait_for("TasksRescheduled", MINUTE * 2, |o| {
        event(o, "TasksRescheduled", Some("Service/spread"))
    });
    assert!(
        moved.starts_with(&format!("{spread_task} of node node3 runs on node")),
        "{moved}"
    );
    let (_, pending) = operator.wait_for("TasksPending", MINUTE, |o| {
        event(o, "TasksPending", Some("Service/capped"))
    });
    assert_eq!(
        pending,
        format!(
            "{capped_task} of node node3 cannot be placed: no suitable node (max replicas per node limit exceed; 1 node not available for new tasks)"
        ),
    );
    // big's task of node3 needs more memory than node1 or node2 has left.
    let (_, no_room) = operator.wait_for("TasksPending of big", MINUTE, |o| {
        event(o, "TasksPending", Some("Service/big"))
    });
    assert!(
        no_room.starts_with(&format!(
            "{big_task} of node node3 cannot be placed: no suitable node (insufficient \
             resources on 2 nodes"
        )),
        "{no_room}"
    );
    // Newest first: the move and the pending task were told after the node went down.
    let events = operator.events();
    let position = |reason: &str| events.iter().position(|e| e["reason"] == reason).unwrap();
    assert!(position("TasksRescheduled") < position("NodeDown"));
    assert!(position("TasksPending") < position("NodeDown"));

    lab_script(&["restore", "node3"]);
    let (_, ready) = operator.wait_for("NodeReady", MINUTE, |o| event(o, "NodeReady", None));
    assert_eq!(ready, "node node3 is ready");
    // Told once: one entry, counted once (a repeat would bump its count).
    let downs: Vec<serde_json::Value> = operator
        .events()
        .into_iter()
        .filter(|e| e["reason"] == "NodeDown")
        .collect();
    assert_eq!(downs.len(), 1);
    assert_eq!(downs[0]["count"], 1);

    // node3 flaps: down and back again before it settled. Nothing moves meanwhile.
    lab_script(&["crash", "node3"]);
    operator.wait_for("a second NodeDown", MINUTE * 2, |o| {
        (count(o, "NodeDown") == 2).then_some(())
    });
    assert_eq!(count(&operator, "RebalanceStarted"), 0);
    lab_script(&["restore", "node3"]);
    operator.wait_for("a second NodeReady", MINUTE, |o| {
        (count(o, "NodeReady") == 2).then_some(())
    });
    let (_, rebalanced) = operator.wait_for("Rebalanced", MINUTE * 3, |o| {
        event(o, "Rebalanced", Some("Service/spread"))
    });
    assert!(
        rebalanced.starts_with("running tasks per node node1: 1, node2: 1, node3: 1 (were "),
        "{rebalanced}"
    );
    assert!(rebalanced.ends_with(", node3: 0)"), "{rebalanced}");
    // Only after node3 stayed up for the settle period, and only spread: capped got its
    // pending task back on node3 from swarm; the others are exempt.
    let events = operator.events();
    let started: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["reason"] == "RebalanceStarted")
        .collect();
    assert_eq!(started.len(), 1, "{started:#?}");
    assert_eq!(started[0]["resource"], "Service/spread");
    let time = |e: &serde_json::Value, field: &str| {
        humantime::parse_rfc3339(e[field].as_str().unwrap()).unwrap()
    };
    let ready = events.iter().find(|e| e["reason"] == "NodeReady").unwrap();
    let settled = time(started[0], "first_seen")
        .duration_since(time(ready, "last_seen"))
        .unwrap();
    assert!(
        settled >= SETTLE,
        "started {settled:?} after node3 returned"
    );
    assert_eq!(
        distribution(&lab, "spread"),
        ["node1", "node2", "node3"],
        "running tasks of spread"
    );
    operator.terminate();
    let _ = lab.docker_unchecked(&["config", "rm", "shoal-lease-heal"]);
}

/// `hog` touches 64 MiB under a 16M limit and is killed for it; `quitter` exits at once.
const FAILING: &str = "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: hog
spec:
  image: lab/tools:1
  command: [\"alloc\", \"64\"]
  replicas: 1
  resources:
    limits:
      memory: 16M
---
apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: quitter
spec:
  image: lab/tools:1
  command: [\"false\"]
  replicas: 1
  resources:
    limits:
      memory: 16M
";

#[test]
fn a_task_killed_at_its_memory_limit_and_a_crash_loop_are_told() {
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("failing.yaml"), FAILING).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let operator = start(&lab, 19871, "shoal-lease-failing", dir.path(), logs.path());
    let (_, oom) = operator.wait_for("TaskOOMKilled", MINUTE * 2, |o| {
        event(o, "TaskOOMKilled", Some("Service/hog"))
    });
    let (task, rest) = oom.split_once(" on ").unwrap();
    assert_eq!(task, "hog.1", "{oom}");
    assert!(
        rest.starts_with("node")
            && rest.ends_with(" was killed at its memory limit, 16M (exit 137)"),
        "{oom}"
    );
    // Swarm restarts them every 5 s: three failures within the window are a loop.
    let (_, looping) = operator.wait_for("CrashLooping of quitter", MINUTE * 2, |o| {
        event(o, "CrashLooping", Some("Service/quitter"))
    });
    assert_eq!(
        looping,
        "3 tasks failed within 5m; the last: task: non-zero exit (1)"
    );
    let (_, looping) = operator.wait_for("CrashLooping of hog", MINUTE, |o| {
        event(o, "CrashLooping", Some("Service/hog"))
    });
    assert_eq!(
        looping,
        "3 tasks failed within 5m; the last: task: non-zero exit (137)"
    );
    // Told once while they loop, not at every failure.
    std::thread::sleep(Duration::from_secs(12));
    let events = operator.events();
    let looping: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["reason"] == "CrashLooping")
        .collect();
    assert_eq!(looping.len(), 2, "{looping:#?}");
    assert!(looping.iter().all(|e| e["count"] == 1), "{looping:#?}");
    // Both stand in the services' status while they last, in the events' words.
    let reasons = |name: &str| -> Vec<(String, String)> {
        let status = operator.resource("Service", name);
        status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["type"] == "Healthy")
            .map(|c| {
                (
                    c["reason"].as_str().unwrap_or_default().to_string(),
                    c["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    // One condition per service: the loop's reason, with the kill told too.
    let hog = reasons("hog");
    assert_eq!(hog.len(), 1, "{hog:?}");
    assert_eq!(hog[0].0, "CrashLooping");
    assert!(
        hog[0]
            .1
            .starts_with("3 tasks failed within 5m; the last: task: non-zero exit (137); ")
            && hog[0]
                .1
                .ends_with(" was killed at its memory limit, 16M (exit 137)"),
        "{hog:?}"
    );
    assert_eq!(
        reasons("quitter"),
        [(
            "CrashLooping".to_string(),
            "3 tasks failed within 5m; the last: task: non-zero exit (1)".to_string()
        )]
    );
    operator.terminate();
    let _ = lab.docker_unchecked(&["config", "rm", "shoal-lease-failing"]);
}
