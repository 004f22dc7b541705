//! Service discovery: what the embedded DNS of each node answers for `tasks.SERVICE`,
//! asked from inside the node's canary, against the addresses of the service's tasks
//! that really run (every node's agent lists the containers running there). An address
//! no running task has is a dead task the node's gossip view kept; a task DNS should
//! answer (swarm wants it running, and its health check passed or it has none) that is
//! missing is one the node never heard of. Either way, requests go to the wrong place
//! from that node.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::agent::probe::{DnsAnswer, NetworkReport};

use super::evidence::Evidence;
use super::{Check, Finding};

/// A running task of a service on a network.
struct Running {
    task: String,
    node: String,
    /// DNS should answer it.
    answered: bool,
}

/// The running tasks of each service on `network`, by address.
fn running(evidence: &Evidence, network: &str) -> BTreeMap<String, BTreeMap<Ipv4Addr, Running>> {
    let mut tasks: BTreeMap<String, BTreeMap<Ipv4Addr, Running>> = BTreeMap::new();
    for (host, _) in evidence.answered() {
        let Some(report) = evidence.network_report(host, network) else {
            continue;
        };
        for task in &report.tasks {
            // Unknown (recorded without it): every running task.
            let meant =
                evidence.meant_to_run.is_empty() || evidence.meant_to_run.contains(task.id());
            let running = Running {
                task: task.task.clone(),
                node: host.clone(),
                answered: task.serving && meant,
            };
            tasks
                .entry(task.service.clone())
                .or_default()
                .insert(task.address, running);
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
                let tasks = running.get(service);
                let judged = judge(host, service, answer, report, tasks);
                findings.extend(
                    judged
                        .into_iter()
                        .map(|f| f.networks(vec![network.name.clone()])),
                );
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

/// One node's answer for `tasks.SERVICE` against the service's running tasks.
fn judge(
    host: &str,
    service: &str,
    answer: &DnsAnswer,
    report: &NetworkReport,
    tasks: Option<&BTreeMap<Ipv4Addr, Running>>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let empty = BTreeMap::new();
    let tasks = tasks.unwrap_or(&empty);
    let view = report.view.as_ref().and_then(|v| v.services.get(service));
    for stale in answer.addresses.iter().filter(|a| !tasks.contains_key(a)) {
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
            .advice(format!(
                "`docker service update --force {service}` registers its tasks again; if {host} keeps the address, restart its Docker Engine (moby/moby#42833, #53141)"
            )),
        );
    }
    for (address, task) in tasks
        .iter()
        .filter(|(a, t)| t.answered && !answer.addresses.contains(a))
    {
        let why = answer
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        findings.push(
            Finding::fail(
                Check::Dns,
                format!(
                    "{host} does not answer {} with {address}, task {} running on {}{why}",
                    answer.name, task.task, task.node
                ),
            )
            .on_node(host)
            .advice(format!(
                "`docker service update --force {service}` registers its tasks again; if it stays, check gossip (7946) between {host} and {}",
                task.node
            )),
        );
    }
    findings
}
