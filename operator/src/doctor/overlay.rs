//! The overlays, proven by traffic: a canary task on every node of each managed overlay
//! fetches from every other (so VXLAN on the data-path port carries it both ways), pings
//! them at the overlay's full size with don't-fragment set, and each node's gossip view
//! of the network must list every node that runs a canary.

use std::collections::BTreeMap;

use crate::agent::probe::NetworkProbe;

use super::evidence::Evidence;
use super::{Check, Finding, Port, links};

/// What `host` asks from inside its canaries: the other canaries' addresses, found in
/// the first round, and `tasks.NAME` of each managed service on the overlay.
pub fn network_probes(evidence: &Evidence, host: &str) -> Vec<NetworkProbe> {
    evidence
        .networks
        .iter()
        .map(|network| NetworkProbe {
            network: network.name.clone(),
            canary: network.canary.clone(),
            peers: evidence
                .answered()
                .filter(|(other, _)| other.as_str() != host)
                .filter_map(|(other, _)| evidence.network_report(other, &network.name)?.canary)
                .collect(),
            names: network
                .services
                .iter()
                .map(|service| format!("tasks.{service}"))
                .collect(),
        })
        .collect()
}

/// Each pair's fetches over all overlays: (answered, attempts, networks failing).
type PairTally = BTreeMap<(String, String), (u32, u32, Vec<String>)>;

fn tally(evidence: &Evidence) -> PairTally {
    let mut pairs = PairTally::new();
    for network in &evidence.networks {
        for (from, _) in evidence.answered() {
            let Some(report) = evidence.network_report(from, &network.name) else {
                continue;
            };
            for peer in &report.peers {
                let Some(to) = evidence.canary_node(&network.name, peer.address) else {
                    continue;
                };
                let entry = pairs.entry((from.clone(), to.to_string())).or_default();
                entry.0 = entry.0.saturating_add(peer.answered);
                entry.1 = entry.1.saturating_add(peer.attempts);
                if peer.answered < peer.attempts {
                    entry.2.push(network.name.clone());
                }
            }
        }
    }
    pairs
}

pub fn data_plane(evidence: &Evidence) -> Vec<Finding> {
    if evidence.networks.is_empty() {
        return Vec::new();
    }
    let port = Port::udp(evidence.data_path_port);
    let mut findings = canaries_missing(evidence);
    let pairs = tally(evidence);
    let mut probes: u32 = 0;
    for ((from, to), (answered, attempts, networks)) in &pairs {
        probes = probes.saturating_add(*attempts);
        if networks.is_empty() {
            continue;
        }
        let finding = if *answered == 0 {
            Finding::fail(
                Check::DataPlane,
                format!("0 of {attempts} canary probes answered"),
            )
            .advice(format!("allow UDP {} between the nodes", port.number))
        } else {
            Finding::warn(
                Check::DataPlane,
                format!("{answered} of {attempts} canary probes answered (packets lost)"),
            )
            .advice("look for a saturated or lossy link between the nodes")
        };
        findings.push(
            finding
                .between(from, to)
                .port(port)
                .networks(networks.clone()),
        );
    }
    if findings.is_empty() {
        let mut names: Vec<&str> = evidence.networks.iter().map(|n| n.name.as_str()).collect();
        names.sort();
        findings.push(
            Finding::pass(
                Check::DataPlane,
                format!(
                    "{} node pairs, {probes} canary probes answered on {}",
                    pairs.len(),
                    names.join(", ")
                ),
            )
            .port(port),
        );
    }
    findings
}

/// A ready node without a canary task (the image cannot be pulled there, the node
/// refuses tasks): its overlay cannot be proven.
fn canaries_missing(evidence: &Evidence) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (network, problems) in &evidence.canary_problems {
        for (node, why) in problems {
            findings.push(
                Finding::fail(
                    Check::DataPlane,
                    format!("no canary task ran on {network}: {why}"),
                )
                .on_node(node)
                .networks(vec![network.clone()])
                .advice("the image must be pullable on every node (--canary-image)"),
            );
        }
    }
    for (host, timed) in evidence.answered() {
        for report in &timed.report.networks {
            // A drained node runs no canary: nothing to say.
            let placed = evidence.node(host).is_some_and(|n| n.active);
            if let Some(error) = &report.error
                && placed
                && !evidence
                    .canary_problems
                    .get(&report.network)
                    .is_some_and(|p| p.contains_key(host))
            {
                findings.push(
                    Finding::fail(
                        Check::DataPlane,
                        format!("canary probes did not run: {error}"),
                    )
                    .on_node(host)
                    .networks(vec![report.network.clone()]),
                );
            }
        }
    }
    findings
}

/// Full-size packets: a pair whose fetches pass but whose full-size ping does not has a
/// path narrower than the overlay's MTU.
pub fn mtu(evidence: &Evidence) -> Vec<Finding> {
    let mut failing: BTreeMap<(String, String), (u32, Vec<String>)> = BTreeMap::new();
    let mut tried = 0;
    for network in &evidence.networks {
        for (from, _) in evidence.answered() {
            let Some(report) = evidence.network_report(from, &network.name) else {
                continue;
            };
            for peer in report.peers.iter().filter(|p| p.full_size.is_some()) {
                tried += 1;
                if peer.full_size == Some(true) {
                    continue;
                }
                let Some(to) = evidence.canary_node(&network.name, peer.address) else {
                    continue;
                };
                let entry = failing.entry((from.clone(), to.to_string())).or_default();
                entry.0 = peer.mtu;
                entry.1.push(network.name.clone());
            }
        }
    }
    let port = Port::udp(evidence.data_path_port);
    let mut findings: Vec<Finding> = failing
        .into_iter()
        .map(|((from, to), (mtu, networks))| {
            Finding::fail(
                Check::Mtu,
                format!("a {mtu}-byte packet with don't-fragment set did not cross; smaller ones did"),
            )
            .between(&from, &to)
            .port(port)
            .networks(networks)
            .advice(format!(
                "the path between the nodes must carry {} bytes (the overlay's MTU and VXLAN's 50), or set the network's com.docker.network.driver.mtu option to the path's MTU (the overlay gets 50 less)",
                mtu.saturating_add(50)
            ))
        })
        .collect();
    if findings.is_empty() && tried > 0 {
        findings.push(Finding::pass(
            Check::Mtu,
            format!("{tried} full-size packets with don't-fragment set crossed"),
        ));
    }
    findings
}

/// Each node's gossip view of each overlay must list every node running a canary on it
/// (gossip on 7946, TCP and UDP, carries the view; a UDP-only block shows only here).
pub fn gossip(evidence: &Evidence) -> Vec<Finding> {
    let mut missing: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut views = 0;
    for network in &evidence.networks {
        let with_canary: Vec<&str> = evidence
            .answered()
            .filter(|(host, _)| {
                evidence
                    .network_report(host, &network.name)
                    .is_some_and(|r| r.canary.is_some())
            })
            .map(|(host, _)| host.as_str())
            .collect();
        for from in &with_canary {
            let Some(view) = evidence
                .network_report(from, &network.name)
                .and_then(|r| r.view.as_ref())
            else {
                continue;
            };
            views += 1;
            for to in with_canary.iter().filter(|to| *to != from) {
                let address = evidence.node(to).and_then(|n| n.address);
                if address.is_some_and(|a| !view.peers.contains(&a.to_string())) {
                    missing
                        .entry((from.to_string(), to.to_string()))
                        .or_default()
                        .push(network.name.clone());
                }
            }
        }
    }
    let mut findings: Vec<Finding> = missing
        .into_iter()
        .map(|((from, to), networks)| {
            Finding::fail(
                Check::Gossip,
                format!("{from} does not see {to} among the network's gossip peers"),
            )
            .between(&from, &to)
            .port(Port::udp(links::GOSSIP_PORT))
            .networks(networks)
            .advice("allow TCP and UDP 7946 between the nodes")
        })
        .collect();
    if findings.is_empty() && views > 0 {
        findings.push(Finding::pass(
            Check::Gossip,
            format!("{views} network views list every node that runs a canary"),
        ));
    }
    findings
}
