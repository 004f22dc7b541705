//! Healing after node crashes, against the lab: what `shoal run` tells when a worker
//! crashes and comes back (issue 13 builds the rest here).

use std::process::Command;
use std::time::Duration;

use shoal_tests::operator::Operator;
use shoal_tests::{lab, repo_root, stderr};

const MINUTE: Duration = Duration::from_secs(60);

/// `spread` may run anywhere (its task of a crashed node moves); `capped` runs at most one
/// task per node, so with a node down its third task cannot be placed.
const SERVICES: &str = "apiVersion: shoal/v1alpha1
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

/// Brings a crashed node back even when the test fails (`lab up` repairs crashes).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("deploy/lab/lab"))
            .arg("up")
            .output();
    }
}

fn lab_command(args: &[&str]) {
    let output = Command::new(repo_root().join("deploy/lab/lab"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "lab {}: {}",
        args.join(" "),
        stderr(&output)
    );
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

#[test]
fn a_worker_crash_is_told_down_rescheduled_pending_and_ready() {
    let lab = lab();
    lab.reset();
    let _restore = Restore;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("services.yaml"), SERVICES).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let operator = lab.start_operator(
        19870,
        &logs.path().join("run.log"),
        &[
            "--no-agents",
            "--lease-name",
            "shoal-lease-heal",
            "--lease-ttl",
            "6s",
            dir.path().to_str().unwrap(),
        ],
    );
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
            (on_node3("spread").contains("Running") && on_node3("capped").contains("Running"))
                .then_some(())
        },
    );
    let spread_task = on_node3("spread").split(' ').next().unwrap().to_string();
    let capped_task = on_node3("capped").split(' ').next().unwrap().to_string();

    lab_command(&["crash", "node3"]);
    let (_, down) = operator.wait_for("NodeDown", MINUTE * 2, |o| event(o, "NodeDown", None));
    let mut ran: Vec<&str> = down
        .trim_start_matches("node node3 is down; it ran ")
        .split(", ")
        .collect();
    ran.sort();
    let mut expected = [capped_task.as_str(), spread_task.as_str()];
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
    // Newest first: the move and the pending task were told after the node went down.
    let events = operator.events();
    let position = |reason: &str| events.iter().position(|e| e["reason"] == reason).unwrap();
    assert!(position("TasksRescheduled") < position("NodeDown"));
    assert!(position("TasksPending") < position("NodeDown"));

    lab_command(&["restore", "node3"]);
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
    operator.terminate();
    let _ = lab.docker_unchecked(&["config", "rm", "shoal-lease-heal"]);
}
