//! Service discovery: what the embedded DNS of each node answers for `tasks.SERVICE`,
//! asked from inside the node's canary, against the addresses of the service's tasks
//! that really run (every node's agent lists the containers running there). An address
//! no running task has is a dead task the node's gossip view kept; one missing is a task
//! the node never heard of. Either way, requests go to the wrong place from that node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::evidence::Evidence;
use super::{Check, Finding};

/// The running tasks of each service on `network`: address -> (task, node).
fn running(
    evidence: &Evidence,
    network: &str,
) -> BTreeMap<String, BTreeMap<Ipv4Addr, (String, String)>> {
    let mut tasks: BTreeMap<String, BTreeMap<Ipv4Addr, (String, String)>> = BTreeMap::new();
    for (host, _) in evidence.answered() {
        let Some(report) = evidence.network_report(host, network) else {
            continue;
        };
        for task in &report.tasks {
            tasks
                .entry(task.service.clone())
                .or_default()
                .insert(task.address, (task.task.clone(), host.clone()));
        }
    }
    tasks
}

pub fn service_discovery(evidence: &Evidence) -> Vec<Finding> {
    if evidence.networks.iter().all(|n| n.services.is_empty()) {
        return Vec::new();
    }
    if !evidence.all_answered() {
        return vec![Finding::warn(
            Check::Dns,
            "not checked: without every node's agent, the running tasks are not all known",
        )];
    }
    let mut findings = Vec::new();
    let mut answers = 0;
    for network in &evidence.networks {
        let running = running(evidence, &network.name);
        for (host, _) in evidence.answered() {
            let Some(report) = evidence.network_report(host, &network.name) else {
                continue;
            };
            for answer in &report.dns {
                let Some(service) = answer.name.strip_prefix("tasks.") else {
                    continue;
                };
                answers += 1;
                let truth = running.get(service).cloned().unwrap_or_default();
                let view = report.view.as_ref().and_then(|v| v.services.get(service));
                let known: BTreeSet<Ipv4Addr> = truth.keys().copied().collect();
                for stale in answer.addresses.difference(&known) {
                    let dead = view
                        .and_then(|tasks| tasks.iter().find(|t| t.address == stale.to_string()))
                        .map(|t| format!(" (task {} in {host}'s view of the network)", t.name))
                        .unwrap_or_default();
                    findings.push(
                        Finding::fail(
                            Check::Dns,
                            format!(
                                "{host} answers {} with {stale}, an address no running task of {service} has{dead}",
                                answer.name
                            ),
                        )
                        .on_node(host)
                        .networks(vec![network.name.clone()])
                        .advice(format!(
                            "`docker service update --force {service}` registers its tasks again; if {host} keeps the address, restart its Docker Engine (moby/moby#42833, #53141)"
                        )),
                    );
                }
                for (address, (task, runs_on)) in &truth {
                    if answer.addresses.contains(address) {
                        continue;
                    }
                    let why = answer
                        .error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default();
                    findings.push(
                        Finding::fail(
                            Check::Dns,
                            format!(
                                "{host} does not answer {} with {address}, task {task} running on {runs_on}{why}",
                                answer.name
                            ),
                        )
                        .on_node(host)
                        .networks(vec![network.name.clone()])
                        .advice(format!(
                            "`docker service update --force {service}` registers its tasks again; if it stays, check gossip (7946) between {host} and {runs_on}"
                        )),
                    );
                }
            }
        }
    }
    if findings.is_empty() && answers > 0 {
        findings.push(Finding::pass(
            Check::Dns,
            format!("{answers} answers for tasks.SERVICE name exactly the running tasks"),
        ));
    }
    findings
}
