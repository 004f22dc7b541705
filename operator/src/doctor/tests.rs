//! The doctor's checks on answers recorded from the example in the lab
//! (tests/fixtures/doctor, README there says how): healthy as recorded, then each fault
//! made in the recorded answers as the lab shows it (a pair's fetches unanswered, a port
//! timing out, a dead task's address kept by one node's DNS).

use std::path::{Path, PathBuf};

use bollard::models::Node;

use super::Report;
use super::evidence::{BrickFacts, Evidence, NodeFacts, Timed};
use super::examine::managed_networks;
use super::render;
use crate::agent::probe::{NetworkView, ProbeReport};
use crate::gluster::xml;
use crate::source::validate::{ValidateOptions, validate_dir};

fn dir(set: &str) -> PathBuf {
    crate::observe::recorded::fixtures()
        .join("doctor")
        .join(set)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The evidence of recorded set `set`, for the example's desired-state.
fn evidence(set: &str) -> Evidence {
    let dir = dir(set);
    let nodes: Vec<Node> = serde_json::from_str(&read(&dir.join("nodes.json"))).unwrap();
    let desired = validate_dir(
        &crate::observe::recorded::fixtures().join("../../desired-state"),
        &ValidateOptions {
            skip_data: true,
            ..ValidateOptions::default()
        },
    )
    .unwrap()
    .desired;
    let bricks = xml::volume_status(&read(&dir.join("volume-status.xml")))
        .unwrap()
        .into_iter()
        .map(|b| BrickFacts {
            volume: "storage".into(),
            host: b.host,
            path: b.path,
            port: b.port,
        })
        .collect();
    let probes = ["node1", "node2", "node3"]
        .map(|node| {
            let report: ProbeReport =
                serde_json::from_str(&read(&dir.join(format!("probe-{node}.json")))).unwrap();
            let timed = Timed {
                sent_ms: report.unix_ms - 20,
                received_ms: report.unix_ms + 20,
                report,
            };
            (node.to_string(), Ok(timed))
        })
        .into_iter()
        .collect();
    Evidence {
        nodes: nodes.iter().filter_map(NodeFacts::of).collect(),
        data_path_port: 4789,
        agent_port: 9851,
        networks: managed_networks(&desired, &["backend".into(), "frontend".into()]),
        bricks,
        probes,
        ..Evidence::default()
    }
}

fn lines(evidence: &Evidence) -> Vec<String> {
    Report::of(evidence)
        .findings
        .iter()
        .map(render::line)
        .collect()
}

fn not_passed(evidence: &Evidence) -> Vec<String> {
    lines(evidence)
        .into_iter()
        .filter(|l| !l.starts_with("PASS "))
        .collect()
}

fn report_mut<'a>(evidence: &'a mut Evidence, node: &str) -> &'a mut ProbeReport {
    &mut evidence
        .probes
        .get_mut(node)
        .unwrap()
        .as_mut()
        .unwrap()
        .report
}

const ENGINE_WARNING: &str = "WARN engines: node1, node2, node3 on 28.5.2+dfsg4: after a quick network leave and rejoin, a node may ignore a live task's DNS entry for good (moby/moby#47728); upgrade to 29.0.0 (or 25.0.13 on 25.0) when you can; the service discovery check finds the symptom";

#[test]
fn the_healthy_example_passes_every_check() {
    let evidence = evidence("healthy");
    assert_eq!(
        lines(&evidence),
        [
            "PASS agents: 3 agents answered",
            "PASS control plane: 8 connections: every node reaches the managers on tcp/2377 and the others on tcp/7946",
            "PASS gossip: 6 network views list every node that runs a canary",
            "PASS overlay data plane (udp/4789): 6 node pairs, 36 canary probes answered on backend, frontend",
            "PASS overlay MTU: 12 full-size packets with don't-fragment set crossed",
            "PASS service discovery: 15 answers for tasks.SERVICE name exactly the running tasks",
            "PASS storage: 12 connections: every node reaches every gluster peer on tcp/24007 and its bricks' ports; each mounts its volumes from its own server",
            ENGINE_WARNING,
            "PASS clocks: every clock within 5 s of this host's",
        ]
    );
    assert!(!Report::of(&evidence).degraded());
}

#[test]
fn each_node_probes_the_managers_the_others_and_the_bricks_never_itself() {
    let evidence = evidence("healthy");
    let node2 = evidence.node("node2").unwrap();
    let targets: Vec<String> = super::links::tcp_targets(&evidence, node2)
        .iter()
        .map(|t| format!("{}:{}", t.address, t.port))
        .collect();
    let brick = |host: &str| {
        evidence
            .bricks
            .iter()
            .find(|b| b.host == host)
            .unwrap()
            .port
            .unwrap()
    };
    assert_eq!(
        targets,
        [
            "10.213.0.11:2377".to_string(),
            "10.213.0.11:7946".into(),
            "10.213.0.11:24007".into(),
            format!("10.213.0.11:{}", brick("node1")),
            "10.213.0.13:7946".into(),
            "10.213.0.13:24007".into(),
            format!("10.213.0.13:{}", brick("node3")),
        ]
    );
    // The second round asks node2's canaries for the other two canaries, and the services.
    let probes = super::overlay::network_probes(&evidence, "node2");
    let backend = probes.iter().find(|p| p.network == "backend").unwrap();
    assert_eq!(backend.canary, "shoal-doctor-backend");
    assert_eq!(backend.peers.len(), 2);
    assert_eq!(backend.names, ["tasks.db", "tasks.http", "tasks.php-fpm"]);
}

/// As the lab shows UDP 4789 from node1 dropped at node3: no fetch answers either way
/// between them (replies are lost too), and no full-size ping is tried.
#[test]
fn a_pair_whose_fetches_go_unanswered_is_named_with_the_data_path_port() {
    let mut evidence = evidence("healthy");
    let canaries = |evidence: &Evidence, node: &str| -> Vec<std::net::Ipv4Addr> {
        let report = &evidence.probes[node].as_ref().unwrap().report;
        report.networks.iter().filter_map(|n| n.canary).collect()
    };
    let (on1, on3) = (canaries(&evidence, "node1"), canaries(&evidence, "node3"));
    for (from, unreachable) in [("node1", on3), ("node3", on1)] {
        for network in &mut report_mut(&mut evidence, from).networks {
            for peer in network
                .peers
                .iter_mut()
                .filter(|p| unreachable.contains(&p.address))
            {
                peer.answered = 0;
                peer.full_size = None;
            }
        }
    }
    assert_eq!(
        not_passed(&evidence),
        [
            "FAIL overlay data plane node1 -> node3 (udp/4789) on backend, frontend: 0 of 6 canary probes answered; allow UDP 4789 between the nodes",
            "FAIL overlay data plane node3 -> node1 (udp/4789) on backend, frontend: 0 of 6 canary probes answered; allow UDP 4789 between the nodes",
            ENGINE_WARNING,
        ]
    );
    assert!(Report::of(&evidence).degraded());
    // Lost packets on one network only are a warning, named with that network.
    let mut lossy = self::evidence("healthy");
    report_mut(&mut lossy, "node2").networks[0].peers[0].answered = 2;
    let first = not_passed(&lossy);
    assert!(
        first[0].starts_with("WARN overlay data plane node2 -> "),
        "{first:#?}"
    );
    assert!(first[0].ends_with("(udp/4789) on backend: 5 of 6 canary probes answered (packets lost); look for a saturated or lossy link between the nodes"), "{first:#?}");
}

#[test]
fn a_full_size_packet_that_does_not_cross_is_an_mtu_failure() {
    let mut evidence = evidence("healthy");
    let node2 = &evidence.probes["node2"].as_ref().unwrap().report;
    let target = node2.networks[0].peers[0].address;
    let to = evidence.canary_node("backend", target).unwrap().to_string();
    report_mut(&mut evidence, "node2").networks[0].peers[0].full_size = Some(false);
    assert_eq!(
        not_passed(&evidence)[0],
        format!(
            "FAIL overlay MTU node2 -> {to} (udp/4789) on backend: a 1450-byte packet with don't-fragment set did not cross; smaller ones did; the path between the nodes must carry 1500 bytes (the overlay's MTU and VXLAN's 50), or set the network's com.docker.network.driver.mtu option to the path's MTU (the overlay gets 50 less)"
        )
    );
}

#[test]
fn a_dead_tasks_address_kept_by_one_nodes_dns_is_named_with_the_task() {
    assert_eq!(
        not_passed(&evidence("stale")),
        [
            "FAIL service discovery node3 on backend: node3 answers tasks.php-fpm with 10.0.1.11, an address no running task of php-fpm has (task php-fpm.2.gclu6df7tdwyhn418n3h86ipw in node3's view of the network); `docker service update --force php-fpm` registers its tasks again; if node3 keeps the address, restart its Docker Engine (moby/moby#42833, #53141)",
            ENGINE_WARNING,
        ]
    );
}

#[test]
fn a_running_task_a_node_does_not_answer_is_named_with_where_it_runs() {
    let mut evidence = evidence("healthy");
    let backend = &mut report_mut(&mut evidence, "node2").networks[0];
    assert_eq!(backend.network, "backend");
    let db = backend
        .dns
        .iter_mut()
        .find(|d| d.name == "tasks.db")
        .unwrap();
    db.addresses.clear();
    db.error = Some("server can't find tasks.db: NXDOMAIN".into());
    assert_eq!(
        not_passed(&evidence)[0],
        "FAIL service discovery node2 on backend: node2 does not answer tasks.db with 10.0.1.3, task db.1.b978rzby4usv0go1sa9b08wn5 running on node1 (server can't find tasks.db: NXDOMAIN); `docker service update --force db` registers its tasks again; if it stays, check gossip (7946) between node2 and node1"
    );
}

#[test]
fn a_closed_glusterd_port_and_a_silent_agent_are_named() {
    let mut evidence = evidence("healthy");
    for from in ["node1", "node3"] {
        let result = report_mut(&mut evidence, from)
            .tcp
            .iter_mut()
            .find(|t| t.address.to_string() == "10.213.0.12" && t.port == 24007)
            .unwrap();
        result.connected = false;
        result.attempts = 3;
        result.error = Some("timed out".into());
    }
    assert_eq!(
        not_passed(&evidence),
        [
            "FAIL storage node1 -> node2 (tcp/24007): glusterd: no connection in 3 attempts (timed out); allow TCP 24007 (glusterd) between the gluster peers",
            "FAIL storage node3 -> node2 (tcp/24007): glusterd: no connection in 3 attempts (timed out); allow TCP 24007 (glusterd) between the gluster peers",
            ENGINE_WARNING,
        ]
    );
    // An agent that does not answer: named, and service discovery cannot be judged.
    let mut silent = self::evidence("healthy");
    silent.probes.insert(
        "node3".into(),
        Err("http://10.213.0.13:9851/api/v1/probe: Connection refused (os error 111)".into()),
    );
    let found = not_passed(&silent);
    assert_eq!(
        found[0],
        "FAIL agents node3 (tcp/9851): the agent does not answer: http://10.213.0.13:9851/api/v1/probe: Connection refused (os error 111); nothing was checked from node3; run `shoal agent` on node3 (deploy/systemd/shoal-agent.service) and allow TCP 9851 to it"
    );
    assert!(found.contains(&"WARN service discovery: not checked: without every node's agent, the running tasks are not all known".to_string()), "{found:#?}");
}

#[test]
fn mixed_engines_known_bugs_and_a_clock_off_are_named() {
    let mut evidence = evidence("healthy");
    evidence.nodes[2].engine = Some("20.10.24+dfsg1".into());
    let node3 = evidence.nodes[2].hostname.clone();
    let timed = evidence.probes.get_mut(&node3).unwrap().as_mut().unwrap();
    timed.report.unix_ms = timed.sent_ms + 20 + 7_000;
    let found: Vec<String> = not_passed(&evidence);
    assert_eq!(
        found,
        [
            format!(
                "WARN engines: mixed versions: {node3} on 20.10.24+dfsg1; {} on 28.5.2+dfsg4; upgrade every node to one version",
                {
                    let mut others: Vec<&str> = evidence.nodes[..2]
                        .iter()
                        .map(|n| n.hostname.as_str())
                        .collect();
                    others.sort();
                    others.join(", ")
                }
            ),
            format!(
                "WARN engines: {node3} on 20.10.24+dfsg1: DNS may keep answering a restarted task's old address on other nodes (moby/moby#42833); no release fixes it yet: the service discovery check finds the symptom"
            ),
            ENGINE_WARNING.replace("node1, node2, node3", &{
                let mut others: Vec<&str> = evidence.nodes[..2]
                    .iter()
                    .map(|n| n.hostname.as_str())
                    .collect();
                others.sort();
                others.join(", ")
            }),
            format!(
                "WARN clocks {node3}: {node3}'s clock is 7.0 s ahead of this host's; run NTP (chrony, systemd-timesyncd) on every node"
            ),
        ]
    );
}

#[test]
fn a_nodes_verbose_view_reads_its_peers_and_tasks() {
    let inspect: bollard::models::NetworkInspect =
        serde_json::from_str(&read(&dir("healthy").join("network-backend-node2.json"))).unwrap();
    let view = NetworkView::from_inspect(&inspect);
    assert_eq!(
        view.peers.iter().map(String::as_str).collect::<Vec<_>>(),
        ["10.213.0.11", "10.213.0.12", "10.213.0.13"]
    );
    let db: Vec<(&str, &str, Option<&str>)> = view.services["db"]
        .iter()
        .map(|t| (t.name.as_str(), t.address.as_str(), t.host.as_deref()))
        .collect();
    assert_eq!(
        db,
        [(
            "db.1.b978rzby4usv0go1sa9b08wn5",
            "10.0.1.3",
            Some("10.213.0.11")
        )]
    );
    assert!(view.services.contains_key("shoal-doctor-backend"));
}

/// Tasks DNS does not answer yet or any more are not missing: one whose health check is
/// still starting, and one swarm is stopping (it is withdrawn from DNS first).
#[test]
fn tasks_dns_should_not_answer_yet_are_not_missing() {
    let mut evidence = evidence("healthy");
    let backend = &mut report_mut(&mut evidence, "node1").networks[0];
    assert_eq!(backend.network, "backend");
    let php = backend
        .tasks
        .iter_mut()
        .find(|t| t.service == "php-fpm")
        .unwrap();
    php.serving = false;
    let php = php.address;
    let db = backend
        .tasks
        .iter()
        .find(|t| t.service == "db")
        .unwrap()
        .clone();
    for node in ["node1", "node2", "node3"] {
        for answer in &mut report_mut(&mut evidence, node).networks[0].dns {
            answer.addresses.remove(&php);
            answer.addresses.remove(&db.address);
        }
    }
    // Swarm wants every task running but db's (being stopped).
    evidence.meant_to_run = evidence
        .probes
        .values()
        .flat_map(|p| p.as_ref().unwrap().report.networks.iter())
        .flat_map(|n| n.tasks.iter().map(|t| t.id().to_string()))
        .filter(|id| id != db.id())
        .collect();
    assert_eq!(not_passed(&evidence), [ENGINE_WARNING]);
    // Answered while it does not serve yet is no fault either: it runs.
    let mut early = self::evidence("healthy");
    report_mut(&mut early, "node1").networks[0].tasks[0].serving = false;
    assert_eq!(not_passed(&early), [ENGINE_WARNING]);
}

#[test]
fn a_target_the_agent_refused_is_a_warning_not_a_failure() {
    let mut evidence = evidence("healthy");
    let brick = report_mut(&mut evidence, "node1")
        .tcp
        .iter_mut()
        .find(|t| t.address.to_string() == "10.213.0.12" && t.port > 24007)
        .unwrap();
    brick.connected = false;
    brick.attempts = 0;
    brick.error = Some(
        "not a swarm node address this node knows, or not a swarm or gluster port: not probed"
            .into(),
    );
    let port = brick.port;
    assert_eq!(
        not_passed(&evidence),
        [
            format!(
                "WARN storage node1 -> node2 (tcp/{port}): not a swarm node address this node knows, or not a swarm or gluster port: not probed"
            ),
            ENGINE_WARNING.to_string(),
        ]
    );
}

/// A drained node runs no canary (a global service skips it): not a failure, its TCP
/// ports are still checked, and the pairs of the others are proven.
#[test]
fn a_drained_node_is_not_expected_to_run_a_canary() {
    let mut evidence = evidence("healthy");
    let node3 = evidence.nodes.iter_mut().find(|n| n.hostname == "node3");
    node3.unwrap().active = false;
    let report3 = report_mut(&mut evidence, "node3");
    let on3: Vec<std::net::Ipv4Addr> = report3.networks.iter().filter_map(|n| n.canary).collect();
    for network in &mut report3.networks {
        network.canary = None;
        network.peers.clear();
        network.dns.clear();
        network.error = Some(format!("no {} task runs on this node", network.network));
    }
    for node in ["node1", "node2"] {
        for network in &mut report_mut(&mut evidence, node).networks {
            network.peers.retain(|p| !on3.contains(&p.address));
        }
    }
    let found = lines(&evidence);
    assert!(found.iter().all(|l| !l.starts_with("FAIL")), "{found:#?}");
    let pass = "PASS overlay data plane (udp/4789): 2 node pairs, 12 canary probes answered on backend, frontend";
    assert!(found.contains(&pass.to_string()), "{found:#?}");
}
