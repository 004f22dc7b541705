//! The lease where it matters: a swarm of three managers, `shoal run` on every one of them
//! (as the systemd unit suggests), and the node of the acting instance crashes, swarm
//! leader and all. Another manager's instance takes over within the lease's TTL and keeps
//! correcting drift; the crashed node, restored, stands by.

use std::process::Command;
use std::time::{Duration, Instant};

use shoal_tests::{DOCKER, lab, repo_root, shoal_bin, stderr, stdout};

const MANAGERS: [&str; 3] = ["node1", "node2", "node3"];
const LEASE: &str = "shoal-lease-failover";
const UNIT: &str = "shoal-run-failover";
const PORT: u16 = 19860;

/// The lab with three managers while the test runs, back to one afterwards (also after a
/// failure: `lab up` restores a crashed node too).
struct ThreeManagers;

impl ThreeManagers {
    fn up() -> ThreeManagers {
        shoal_tests::lab_script(&["up", "--managers", "3"]);
        ThreeManagers
    }
}

impl Drop for ThreeManagers {
    fn drop(&mut self) {
        for node in MANAGERS {
            let _ = Command::new(lab_script())
                .args(["stop", node, UNIT])
                .output();
        }
        let _ = docker_on("node1", &["service", "rm", "web"]);
        let _ = docker_on("node1", &["config", "rm", LEASE]);
        let up = Command::new(lab_script())
            .args(["up", "--managers", "1"])
            .output();
        if !up.is_ok_and(|o| o.status.success()) {
            eprintln!("could not bring the lab back to one manager");
        }
    }
}

fn lab_script() -> std::path::PathBuf {
    repo_root().join("deploy/lab/lab")
}

/// `docker ARGS` on `node`'s own engine (any manager answers swarm calls).
fn docker_on(node: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(lab_script())
        .args(["exec", node, "--", DOCKER])
        .args(args)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(stdout(&output).trim().to_string())
    } else {
        Err(stderr(&output))
    }
}

fn node_ip(node: &str) -> String {
    let n: u32 = node.trim_start_matches("node").parse().unwrap();
    format!("10.213.0.{}", 10 + n)
}

/// GET `path` of the instance on `node`: status code and body (0 when it does not answer).
fn get(node: &str, path: &str) -> (u16, String) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    match client
        .get(format!("http://{}:{PORT}{path}", node_ip(node)))
        .send()
    {
        Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

fn start_instance(node: &str, dir: &str) {
    let bin = shoal_bin();
    let listen = format!("0.0.0.0:{PORT}");
    shoal_tests::lab_script(&[
        "start",
        node,
        UNIT,
        "--",
        bin.to_str().unwrap(),
        "--log-format",
        "json",
        "run",
        "--listen",
        &listen,
        "--no-agents",
        "--identity",
        node,
        "--lease-name",
        LEASE,
        "--lease-ttl",
        "6s",
        dir,
    ]);
}

fn log_tail(node: &str) -> String {
    let log = std::fs::read_to_string(shoal_tests::lab_dir().join(format!("{node}/{UNIT}.log")))
        .unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Polls `check` once a second until it answers, at most `within`; panics with `what`.
fn wait<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn events(node: &str, reason: &str) -> Vec<serde_json::Value> {
    let (_, body) = get(node, "/api/v1/events");
    let all: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap_or_default();
    all.into_iter().filter(|e| e["reason"] == reason).collect()
}

fn replicas(node: &str) -> String {
    docker_on(
        node,
        &[
            "service",
            "inspect",
            "web",
            "--format",
            "{{.Spec.Mode.Replicated.Replicas}}",
        ],
    )
    .unwrap_or_default()
}

/// The instances answering 200 on /readyz: the acting ones.
fn acting(nodes: &[&str]) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| get(n, "/readyz").0 == 200)
        .map(|n| n.to_string())
        .collect()
}

#[test]
fn the_instance_of_a_crashed_manager_is_replaced_within_the_lease_ttl() {
    let lab = lab();
    lab.reset();
    let managers = ThreeManagers::up();
    let roles = lab.docker(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]);
    assert_eq!(
        roles
            .lines()
            .filter(|l| l.split(' ').nth(1).is_some_and(|s| !s.is_empty()))
            .count(),
        3,
        "three managers: {roles}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), shoal_tests::WEB_SERVICE).unwrap();
    let dir = dir.path().to_str().unwrap().to_string();

    // node1 (the swarm's leader) first, so it acts; then the others stand by.
    start_instance("node1", &dir);
    wait("node1 acting", Duration::from_secs(60), || {
        (get("node1", "/readyz").0 == 200).then_some(())
    });
    for node in ["node2", "node3"] {
        start_instance(node, &dir);
        let (code, why) = wait(
            &format!("{node} standing by"),
            Duration::from_secs(60),
            || {
                let (code, why) = get(node, "/readyz");
                why.contains("standby").then_some((code, why))
            },
        );
        assert_eq!(
            (code, why.as_str()),
            (503, "standby: waiting for the lease held by node1\n")
        );
    }
    wait("web converged", Duration::from_secs(120), || {
        (replicas("node1") == "2").then_some(())
    });

    // Power cut of the acting instance's node: its engine, the swarm leader, goes with it.
    shoal_tests::lab_script(&["crash", "node1"]);
    let crashed = Instant::now();
    let survivors = ["node2", "node3"];
    let successor = wait("a successor acting", Duration::from_secs(90), || {
        let now = acting(&survivors);
        (now.len() == 1).then(|| now[0].clone())
    });
    let takeover = crashed.elapsed();
    eprintln!(
        "# {successor} acting {:.1} s after node1 crashed",
        takeover.as_secs_f64()
    );
    assert_eq!(
        events(&successor, "LeaseAcquired").len(),
        1,
        "{}",
        log_tail(&successor)
    );
    // The other survivor stands by for it (once its own engine answers again: its calls
    // may time out while raft elects a new leader).
    let other = survivors.iter().find(|n| **n != successor).unwrap();
    let standby = format!("standby: waiting for the lease held by {successor}\n");
    wait(
        &format!("{other} standing by"),
        Duration::from_secs(60),
        || (get(other, "/readyz") == (503, standby.clone())).then_some(()),
    );

    // It keeps correcting drift, through the new swarm leader.
    wait("a manager answering", Duration::from_secs(60), || {
        docker_on(other, &["service", "scale", "--detach", "web=4"]).ok()
    });
    wait(
        "drift corrected by the successor",
        Duration::from_secs(90),
        || (!events(&successor, "DriftCorrected").is_empty()).then_some(()),
    );
    assert_eq!(replicas(other), "2");

    // node1 boots again, and its instance with it (the lab starts a host's units on boot,
    // as systemd does); it stands by.
    shoal_tests::lab_script(&["restore", "node1"]);
    let (_, why) = wait("node1 standing by", Duration::from_secs(60), || {
        let (code, why) = get("node1", "/readyz");
        (code == 503 && why.contains("standby")).then_some((code, why))
    });
    assert_eq!(
        why,
        format!("standby: waiting for the lease held by {successor}\n")
    );
    assert_eq!(acting(&MANAGERS), vec![successor]);
    drop(managers);
}
