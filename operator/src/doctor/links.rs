//! TCP between the hosts: what each node's agent connects to (managers on 2377, every
//! node on 7946, every gluster peer on 24007 and on its bricks' ports), and the findings
//! of the agents, the control plane and storage from what came back.

use crate::agent::probe::{TcpResult, TcpTarget};

use super::evidence::{Evidence, NodeFacts};
use super::{Check, Finding, Port};

pub const SWARM_MANAGER_PORT: u16 = 2377;
pub const GOSSIP_PORT: u16 = 7946;
pub const GLUSTERD_PORT: u16 = 24007;

/// What `from` connects to: never itself (a host reaching its own address says nothing
/// of the network between hosts).
pub fn tcp_targets(evidence: &Evidence, from: &NodeFacts) -> Vec<TcpTarget> {
    let others = || {
        evidence
            .ready_nodes()
            .filter(move |n| n.hostname != from.hostname)
    };
    let mut targets: Vec<TcpTarget> = Vec::new();
    for node in others() {
        if let Some((address, port)) = node.manager {
            targets.push(TcpTarget { address, port });
        }
        if let Some(address) = node.address {
            targets.push(TcpTarget {
                address,
                port: GOSSIP_PORT,
            });
        }
    }
    for brick in &evidence.bricks {
        let Some(address) = others()
            .find(|n| n.hostname == brick.host)
            .and_then(|n| n.address)
        else {
            continue;
        };
        targets.push(TcpTarget {
            address,
            port: GLUSTERD_PORT,
        });
        if let Some(port) = brick.port {
            targets.push(TcpTarget { address, port });
        }
    }
    targets.sort();
    targets.dedup();
    targets
}

/// An agent that does not answer: nothing can be checked from its node.
pub fn agents(evidence: &Evidence) -> Vec<Finding> {
    let mut findings: Vec<Finding> = evidence
        .probes
        .iter()
        .filter_map(|(host, probe)| {
            let error = probe.as_ref().err()?;
            Some(
                Finding::fail(
                    Check::Agents,
                    format!("the agent does not answer: {error}; nothing was checked from {host}"),
                )
                .on_node(host)
                .port(Port::tcp(evidence.agent_port))
                .advice(format!(
                    "run `shoal agent` on {host} (deploy/systemd/shoal-agent.service) and allow TCP {} to it",
                    evidence.agent_port
                )),
            )
        })
        .collect();
    for node in evidence.nodes.iter().filter(|n| !n.ready) {
        findings.push(
            Finding::warn(Check::Agents, "the node is not ready: not checked")
                .on_node(&node.hostname),
        );
    }
    if findings.is_empty() {
        findings.push(Finding::pass(
            Check::Agents,
            format!("{} agents answered", evidence.probes.len()),
        ));
    }
    findings
}

/// Every TCP result of `from` with the node it reached.
fn results(evidence: &Evidence) -> Vec<(&str, &NodeFacts, &TcpResult)> {
    evidence
        .answered()
        .flat_map(|(from, timed)| {
            timed.report.tcp.iter().filter_map(move |result| {
                let to = evidence.node_at(result.address)?;
                Some((from.as_str(), to, result))
            })
        })
        .collect()
}

fn failed(result: &TcpResult) -> String {
    format!(
        "no connection in {} attempts ({})",
        result.attempts,
        result.error.as_deref().unwrap_or("failed")
    )
}

/// A target the agent refused to probe (not an address or port it allows).
fn not_probed(from: &str, to: &NodeFacts, result: &TcpResult, check: Check) -> Finding {
    Finding::warn(
        check,
        result.error.clone().unwrap_or_else(|| "not probed".into()),
    )
    .between(from, &to.hostname)
    .port(Port::tcp(result.port))
}

/// Managers on 2377, every node on 7946 (TCP; gossip's UDP shows in [`super::overlay::gossip`]).
pub fn control_plane(evidence: &Evidence) -> Vec<Finding> {
    let mut passed = 0;
    let mut findings = Vec::new();
    for (from, to, result) in results(evidence) {
        let is_manager_port = to.manager.is_some_and(|(_, port)| port == result.port);
        if result.port != GOSSIP_PORT && !is_manager_port {
            continue;
        }
        if result.connected {
            passed += 1;
            continue;
        }
        if result.attempts == 0 {
            findings.push(not_probed(from, to, result, Check::ControlPlane));
            continue;
        }
        let advice = if is_manager_port {
            format!("allow TCP {} from every node to the managers", result.port)
        } else {
            "allow TCP and UDP 7946 between the nodes".to_string()
        };
        findings.push(
            Finding::fail(Check::ControlPlane, failed(result))
                .between(from, &to.hostname)
                .port(Port::tcp(result.port))
                .advice(advice),
        );
    }
    if findings.is_empty() {
        findings.push(Finding::pass(
            Check::ControlPlane,
            format!(
                "{passed} connections: every node reaches the managers on tcp/{SWARM_MANAGER_PORT} and the others on tcp/{GOSSIP_PORT}"
            ),
        ));
    }
    findings
}

/// glusterd on 24007 and every brick's port, from every other node; and each node's
/// mount of each volume from its own server.
pub fn storage(evidence: &Evidence) -> Vec<Finding> {
    if evidence.bricks.is_empty() {
        return Vec::new();
    }
    let mut passed = 0;
    let mut findings = Vec::new();
    for (from, to, result) in results(evidence) {
        let brick = evidence
            .bricks
            .iter()
            .find(|b| b.host == to.hostname && b.port == Some(result.port));
        if result.port != GLUSTERD_PORT && brick.is_none() {
            continue;
        }
        if result.connected {
            passed += 1;
            continue;
        }
        if result.attempts == 0 {
            findings.push(not_probed(from, to, result, Check::Storage));
            continue;
        }
        let (what, advice) = match brick {
            Some(brick) => (
                format!("brick {}:{} of {}", brick.host, brick.path, brick.volume),
                "allow TCP 49152-49664 (gluster's brick ports) between the gluster peers",
            ),
            None => (
                "glusterd".to_string(),
                "allow TCP 24007 (glusterd) between the gluster peers",
            ),
        };
        let mut finding = Finding::fail(Check::Storage, format!("{what}: {}", failed(result)))
            .between(from, &to.hostname)
            .port(Port::tcp(result.port))
            .advice(advice);
        if let Some(brick) = brick {
            finding = finding.volume(&brick.volume);
        }
        findings.push(finding);
    }
    findings.extend(mounts(evidence));
    if let Some(error) = &evidence.storage_error {
        findings.push(
            Finding::warn(
                Check::Storage,
                format!("brick ports not checked, only glusterd's: {error}"),
            )
            .advice("run shoal on a gluster peer; a volume not started yet has no brick ports"),
        );
    }
    if findings.is_empty() {
        findings.push(Finding::pass(
            Check::Storage,
            format!(
                "{passed} connections: every node reaches every gluster peer on tcp/{GLUSTERD_PORT} and its bricks' ports; each mounts its volumes from its own server"
            ),
        ));
    }
    findings
}

/// Each agent's mounts: a volume not mounted, or mounted from another host's server
/// (then this host's reads and writes cross the network, and depend on that host).
fn mounts(evidence: &Evidence) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (host, status) in evidence.agents.iter().flatten() {
        let Ok(status) = status else { continue };
        for volume in &status.volumes {
            if !volume.mounted {
                let why = volume.last_error.as_deref().unwrap_or("not mounted");
                findings.push(
                    Finding::fail(
                        Check::Storage,
                        format!(
                            "{} is not mounted at {}: {why}",
                            volume.volume, volume.mount_point
                        ),
                    )
                    .on_node(host)
                    .volume(&volume.volume)
                    .advice(format!("see the agent's log on {host}")),
                );
            } else if volume.server.as_deref().is_some_and(|s| s != host) {
                findings.push(
                    Finding::warn(
                        Check::Storage,
                        format!(
                            "{} is mounted from {}, not from {host}'s own server",
                            volume.volume,
                            volume.server.as_deref().unwrap_or("?")
                        ),
                    )
                    .on_node(host)
                    .volume(&volume.volume)
                    .advice(
                        "the agent mounts it again from the local server once that server answers",
                    ),
                );
            }
        }
    }
    findings
}
