//! `shoal doctor` on the running example, and its checks inside the example's `shoal
//! run`: a healthy lab passes and the canary leaves nothing; UDP 4789 dropped between
//! node1 and node3 (a rule in node3's network namespace, where its dockerd receives
//! VXLAN) is named as exactly that pair and port, raises NetworkDegraded in `run` and
//! clears when the rule goes; new TCP connections to node2's glusterd dropped are named
//! by the storage check.

use std::time::{Duration, Instant};

use shoal_tests::{Lab, lab_script, repo_root, shoal_bin, stderr, stdout};

const NODE1: &str = "10.213.0.11";
const STATUS: &str = "http://10.213.0.11:9850/api/v1/status";

/// An iptables rule in a lab node's network namespace, removed when dropped (also when
/// the test fails).
struct Rule {
    node: &'static str,
    spec: Vec<&'static str>,
}

impl Rule {
    fn insert(lab: &Lab, node: &'static str, spec: &[&'static str]) -> Rule {
        let mut args = vec!["iptables", "-I", "INPUT", "1"];
        args.extend(spec);
        let output = lab.exec(node, &args);
        assert!(
            output.status.success(),
            "iptables on {node}: {}",
            stderr(&output)
        );
        Rule {
            node,
            spec: spec.to_vec(),
        }
    }
}

impl Drop for Rule {
    fn drop(&mut self) {
        let mut args = vec!["exec", self.node, "--", "iptables", "-D", "INPUT"];
        args.extend(&self.spec);
        let _ = std::process::Command::new(repo_root().join("deploy/lab/lab"))
            .args(args)
            .output();
    }
}

/// `shoal doctor` on node1 (the manager and a gluster peer, as the operator runs):
/// its exit code and its lines.
fn doctor(lab: &Lab) -> (Option<i32>, Vec<String>) {
    let dir = repo_root().join("desired-state");
    let output = lab.shoal_on(
        "node1",
        &[
            "doctor",
            "--canary-image",
            "lab/tools:1",
            dir.to_str().expect("a UTF-8 path"),
        ],
    );
    let text = stdout(&output);
    eprintln!("shoal doctor:\n{text}{}", stderr(&output));
    (
        output.status.code(),
        text.lines().map(str::to_string).collect(),
    )
}

fn failures(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter(|l| l.starts_with("FAIL "))
        .map(String::as_str)
        .collect()
}

/// Every check passes on the converged example (the engines' known bug is a warning),
/// and no canary service, task or container is left on any node.
pub fn healthy_lab_passes_and_the_canary_leaves_nothing(lab: &Lab) {
    let started = Instant::now();
    let (code, lines) = doctor(lab);
    eprintln!(
        "shoal doctor took {:?} on the healthy example",
        started.elapsed()
    );
    assert_eq!(code, Some(0), "{lines:#?}");
    assert_eq!(failures(&lines), Vec::<&str>::new());
    let mut passed: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("PASS "))
        .map(|l| l.split([':', '(']).next().unwrap_or("").trim())
        .collect();
    passed.sort();
    assert_eq!(
        passed,
        [
            "agents",
            "clocks",
            "control plane",
            "gossip",
            "overlay MTU",
            "overlay data plane",
            "service discovery",
            "storage",
        ],
        "{lines:#?}"
    );
    let data_plane = lines
        .iter()
        .find(|l| l.starts_with("PASS overlay data plane"))
        .expect("a data plane line");
    assert_eq!(
        data_plane,
        "PASS overlay data plane (udp/4789): 6 node pairs, 36 canary probes answered on backend, frontend"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Every check passed, 1 warning.")
    );
    nothing_left(lab);
}

/// No canary service, and no canary container on any node (the engines remove a
/// removed service's containers within seconds).
fn nothing_left(lab: &Lab) {
    let services = lab.docker(&["service", "ls", "-q", "--filter", "label=io.shoal.doctor"]);
    assert_eq!(services.trim(), "", "canary services left");
    let deadline = Instant::now() + Duration::from_secs(30);
    for node in ["node1", "node2", "node3"] {
        loop {
            let left = lab_script(&[
                "exec",
                node,
                "--",
                "docker",
                "ps",
                "-aq",
                "--filter",
                "name=shoal-doctor-",
            ]);
            if left.trim().is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "canary containers left on {node}: {left}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// UDP 4789 from node1 dropped where node3 receives it: the data plane fails between
/// exactly node1 and node3 (both ways: replies are lost too), on both overlays; nothing
/// else fails.
pub fn dropped_vxlan_is_named_by_pair_and_port(lab: &Lab) {
    let _rule = Rule::insert(
        lab,
        "node3",
        &["-p", "udp", "--dport", "4789", "-s", NODE1, "-j", "DROP"],
    );
    let (code, lines) = doctor(lab);
    assert_eq!(code, Some(2), "{lines:#?}");
    assert_eq!(
        failures(&lines),
        [
            "FAIL overlay data plane node1 -> node3 (udp/4789) on backend, frontend: 0 of 6 canary probes answered; allow UDP 4789 between the nodes",
            "FAIL overlay data plane node3 -> node1 (udp/4789) on backend, frontend: 0 of 6 canary probes answered; allow UDP 4789 between the nodes",
        ]
    );
    nothing_left(lab);
}

/// New TCP connections to node2's glusterd dropped (the ones in use stay, as a
/// firewall added on a running host leaves them): the storage check names node2's
/// 24007 from both other nodes.
pub fn closed_glusterd_port_is_named_by_storage(lab: &Lab) {
    let _rule = Rule::insert(
        lab,
        "node2",
        &[
            "-p",
            "tcp",
            "--dport",
            "24007",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW",
            "-j",
            "DROP",
        ],
    );
    let (code, lines) = doctor(lab);
    assert_eq!(code, Some(2), "{lines:#?}");
    assert_eq!(
        failures(&lines),
        [
            "FAIL storage node1 -> node2 (tcp/24007): glusterd: no connection in 3 attempts (timed out); allow TCP 24007 (glusterd) between the gluster peers",
            "FAIL storage node3 -> node2 (tcp/24007): glusterd: no connection in 3 attempts (timed out); allow TCP 24007 (glusterd) between the gluster peers",
        ]
    );
}

/// Restarts the example's `shoal run` as deploy/run-example starts it, with the doctor
/// every `interval` (`0s`: never, so that the tests' own examinations are alone).
pub fn restart_operator(interval: &str) {
    let bin = shoal_bin();
    let dir = repo_root().join("desired-state");
    lab_script(&[
        "start",
        "node1",
        "shoal-run",
        "--",
        bin.to_str().expect("a UTF-8 path"),
        "run",
        "--listen",
        "0.0.0.0:9850",
        "--canary-image",
        "lab/tools:1",
        "--doctor-interval",
        interval,
        dir.to_str().expect("a UTF-8 path"),
    ]);
}

/// `shoal run` (restarted with a 15 s doctor interval): the dropped VXLAN raises
/// NetworkDegraded (status, the overlays' conditions, an event) and clears when the rule
/// goes.
pub fn run_raises_and_clears_network_degraded(lab: &Lab) {
    restart_operator("15s");
    wait_for_network("the first examination", |status| {
        (status["network"]["condition"] == "NetworkHealthy").then_some(())
    });
    let rule = Rule::insert(
        lab,
        "node3",
        &["-p", "udp", "--dport", "4789", "-s", NODE1, "-j", "DROP"],
    );
    // An examination under way when the rule came may see one direction only: wait for
    // the one that sees both.
    let expected = [
        r#""data-plane" "node1" -> "node3" "udp"/4789"#,
        r#""data-plane" "node3" -> "node1" "udp"/4789"#,
    ];
    let status = wait_for_network("NetworkDegraded between node1 and node3", |status| {
        let failing: Vec<String> = status["network"]["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["outcome"] == "FAIL")
            .map(|f| {
                format!(
                    "{} {} -> {} {}/{}",
                    f["check"], f["from"], f["to"], f["port"]["protocol"], f["port"]["number"]
                )
            })
            .collect();
        (status["network"]["condition"] == "NetworkDegraded" && failing == expected)
            .then(|| status.clone())
    });
    let conditions: Vec<String> = status["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| {
            let name = format!(
                "{}/{}",
                r["kind"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            );
            r["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["type"] == "NetworkHealthy")
                .map(move |c| {
                    format!(
                        "{name} {} {}",
                        c["reason"].as_str().unwrap_or(""),
                        c["message"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let line = |from: &str, to: &str| {
        format!(
            "FAIL overlay data plane {from} -> {to} (udp/4789) on backend, frontend: 0 of 6 canary probes answered; allow UDP 4789 between the nodes"
        )
    };
    assert_eq!(
        conditions,
        [
            format!("Network/backend NetworkDegraded {}", line("node1", "node3")),
            format!("Network/backend NetworkDegraded {}", line("node3", "node1")),
            format!(
                "Network/frontend NetworkDegraded {}",
                line("node1", "node3")
            ),
            format!(
                "Network/frontend NetworkDegraded {}",
                line("node3", "node1")
            ),
        ]
    );
    // Each direction told once, and nothing else.
    let degraded = events("NetworkDegraded");
    for direction in [line("node1", "node3"), line("node3", "node1")] {
        let told = format!("Network/backend {direction}");
        assert_eq!(
            degraded.iter().filter(|e| **e == told).count(),
            1,
            "{degraded:#?}"
        );
    }
    // (An examination under way when the rule came may also have told a part of it.)
    assert!(
        degraded
            .iter()
            .all(|e| e.contains(" node1 -> node3 (udp/4789)")
                || e.contains(" node3 -> node1 (udp/4789)")),
        "{degraded:#?}"
    );
    drop(rule);
    let cleared = Instant::now();
    wait_for_network("NetworkHealthy again", |status| {
        (status["network"]["condition"] == "NetworkHealthy").then_some(())
    });
    eprintln!(
        "NetworkHealthy again {:?} after the rule went",
        cleared.elapsed()
    );
    let healthy = events("NetworkHealthy");
    assert!(
        healthy.contains(&"Network/backend passes again: overlay data plane node1 -> node3 (udp/4789) on backend, frontend: 0 of 6 canary probes answered; allow UDP 4789 between the nodes".to_string()),
        "{healthy:#?}"
    );
}

fn get(url: &str) -> Option<serde_json::Value> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    client.get(url).send().ok()?.json().ok()
}

/// Polls the example operator's status until `check` gives `Some` (at most 3 minutes:
/// an examination every 15 s, each taking some).
fn wait_for_network<T>(what: &str, mut check: impl FnMut(&serde_json::Value) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut last = serde_json::Value::Null;
    while Instant::now() < deadline {
        if let Some(status) = get(STATUS) {
            if let Some(found) = check(&status) {
                return found;
            }
            last = status["network"].clone();
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!("timed out waiting for {what}; network status: {last:#}");
}

/// The events of `reason`, newest first, as `RESOURCE MESSAGE`.
fn events(reason: &str) -> Vec<String> {
    let events = get("http://10.213.0.11:9850/api/v1/events").unwrap_or_default();
    events
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == reason)
        .map(|e| {
            format!(
                "{} {}",
                e["resource"].as_str().unwrap_or("-"),
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}
