//! The doctor inside `shoal run`: every `--doctor-interval`, the acting instance examines
//! the network (see [`crate::doctor`]); the result is the instance's `network` status
//! (`NetworkHealthy` or `NetworkDegraded` with every finding), a `NetworkHealthy=false`
//! condition on each resource a failure concerns, and an event when a failure appears
//! (`NetworkDegraded`) or clears (`NetworkHealthy`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use serde::Serialize;

use crate::doctor::{self, Check, DoctorOptions, Finding, Outcome, Port, Report, render};
use crate::resources::{Desired, Kind};

use super::events::{Event, Reason};
use super::shared::Shared;
use super::status::{Condition, ConditionReason, ResourceKey};

/// The first examination waits this long at most (the first reconciles go first).
const FIRST_AFTER: Duration = Duration::from_secs(60);

/// The instance-level verdict, as `/api/v1/status` serves it under `network`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NetworkCondition {
    NetworkHealthy,
    NetworkDegraded,
}

#[derive(Clone, Debug, Serialize)]
pub struct NetworkStatus {
    pub condition: NetworkCondition,
    /// When, in RFC 3339.
    pub checked_at: String,
    pub findings: Vec<Finding>,
}

impl NetworkStatus {
    pub fn of(report: &Report) -> NetworkStatus {
        NetworkStatus {
            condition: if report.degraded() {
                NetworkCondition::NetworkDegraded
            } else {
                NetworkCondition::NetworkHealthy
            },
            checked_at: report.checked_at.clone(),
            findings: report.findings.clone(),
        }
    }
}

/// Runs until the process ends.
pub async fn watch(
    docker: Docker,
    shared: Arc<Shared>,
    interval: Duration,
    options: DoctorOptions,
) {
    let mut wait = interval.min(FIRST_AFTER);
    let mut previous: Option<Report> = None;
    loop {
        tokio::time::sleep(wait).await;
        wait = interval;
        if !shared.readiness().leader {
            previous = None;
            shared.set_network(None, BTreeMap::new());
            continue;
        }
        let Some(snapshot) = shared.snapshot() else {
            continue;
        };
        match doctor::examine(&docker, &snapshot.desired, &options).await {
            Ok(report) => {
                for event in changes(previous.as_ref(), &report, &snapshot.desired) {
                    shared.record(event.with_revision(snapshot.revision.clone()));
                }
                let conditions = conditions(&report, &snapshot.desired);
                shared.set_network(Some(NetworkStatus::of(&report)), conditions);
                previous = Some(report);
            }
            Err(error) => tracing::warn!(%error, "the doctor could not examine the network"),
        }
    }
}

/// What identifies a failure between examinations (its counts may change).
type FailureKey = (
    Check,
    Option<String>,
    Option<String>,
    Option<Port>,
    Vec<String>,
    Option<String>,
);

fn key(finding: &Finding) -> FailureKey {
    (
        finding.check,
        finding.from.clone(),
        finding.to.clone(),
        finding.port,
        finding.networks.clone(),
        finding.volume.clone(),
    )
}

/// The resources a finding concerns, among those desired-state has: its overlays, its
/// volume (every volume for a storage finding without one), else its nodes.
pub fn concerns(finding: &Finding, desired: &Desired) -> Vec<ResourceKey> {
    let known = |kind: Kind, name: &str| {
        desired
            .find(kind, name)
            .map(|_| ResourceKey::new(kind, name))
    };
    let mut keys: Vec<ResourceKey> = finding
        .networks
        .iter()
        .filter_map(|n| known(Kind::Network, n))
        .collect();
    if finding.check == Check::Storage {
        match &finding.volume {
            Some(volume) => keys.extend(known(Kind::GlusterVolume, volume)),
            None => keys.extend(
                desired
                    .gluster_volumes()
                    .map(|(r, _)| ResourceKey::new(Kind::GlusterVolume, r.name())),
            ),
        }
    }
    if keys.is_empty() {
        for node in finding.from.iter().chain(finding.to.iter()) {
            keys.extend(
                desired
                    .node_with_hostname(node)
                    .map(|(r, _)| ResourceKey::new(Kind::Node, r.name())),
            );
        }
    }
    keys
}

/// `NetworkHealthy=false` on each resource a failure concerns.
pub fn conditions(report: &Report, desired: &Desired) -> BTreeMap<ResourceKey, Vec<Condition>> {
    let mut conditions: BTreeMap<ResourceKey, Vec<Condition>> = BTreeMap::new();
    for finding in report.failures() {
        for resource in concerns(finding, desired) {
            conditions.entry(resource).or_default().push(Condition {
                kind: "NetworkHealthy",
                status: false,
                reason: ConditionReason::NetworkDegraded,
                message: render::line(finding),
            });
        }
    }
    conditions
}

/// The events between two examinations: each new failure, each failure gone, and the
/// first examination's all-clear.
pub fn changes(previous: Option<&Report>, report: &Report, desired: &Desired) -> Vec<Event> {
    let was: BTreeMap<FailureKey, &Finding> = previous
        .iter()
        .flat_map(|p| p.failures())
        .map(|f| (key(f), f))
        .collect();
    let now: BTreeSet<FailureKey> = report.failures().map(key).collect();
    let resource = |finding: &Finding| concerns(finding, desired).first().map(|k| k.to_string());
    let mut events: Vec<Event> = report
        .failures()
        .filter(|f| !was.contains_key(&key(f)))
        .map(|f| Event::new(Reason::NetworkDegraded, resource(f), render::line(f)))
        .collect();
    for (_, finding) in was.iter().filter(|(k, _)| !now.contains(*k)) {
        let line = render::line(finding);
        let cleared = line.strip_prefix("FAIL ").unwrap_or(&line);
        events.push(Event::new(
            Reason::NetworkHealthy,
            resource(finding),
            format!("passes again: {cleared}"),
        ));
    }
    if previous.is_none() && !report.degraded() {
        let checks: BTreeSet<Check> = report
            .findings
            .iter()
            .filter(|f| f.outcome == Outcome::Pass)
            .map(|f| f.check)
            .collect();
        events.push(Event::new(
            Reason::NetworkHealthy,
            None,
            format!(
                "every check of the network passed ({} checks)",
                checks.len()
            ),
        ));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{Check, Finding, Port};

    fn desired() -> Desired {
        crate::source::validate::validate_dir(
            &crate::observe::recorded::fixtures().join("../../desired-state"),
            &crate::source::validate::ValidateOptions {
                skip_data: true,
                ..Default::default()
            },
        )
        .unwrap()
        .desired
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            checked_at: "2026-12-04T10:41:07Z".into(),
            findings,
        }
    }

    fn vxlan(from: &str, to: &str, answered: u32) -> Finding {
        Finding::fail(
            Check::DataPlane,
            format!("{answered} of 6 canary probes answered"),
        )
        .between(from, to)
        .port(Port::udp(4789))
        .networks(vec!["frontend".into(), "backend".into()])
        .advice("allow UDP 4789 between the nodes")
    }

    #[test]
    fn failures_are_conditions_on_the_resources_they_concern() {
        let desired = desired();
        let glusterd = Finding::fail(
            Check::Storage,
            "glusterd: no connection in 3 attempts (timed out)",
        )
        .between("node1", "node2")
        .port(Port::tcp(24007));
        let clock = Finding::fail(
            Check::Clocks,
            "node3's clock is 3600.0 s behind this host's",
        )
        .on_node("node3");
        let passed = Finding::pass(Check::Agents, "3 agents answered");
        let conditions = conditions(
            &report(vec![vxlan("node1", "node3", 0), glusterd, clock, passed]),
            &desired,
        );
        let found: Vec<String> = conditions
            .iter()
            .flat_map(|(key, list)| {
                list.iter()
                    .map(move |c| format!("{key} {}={} {:?}", c.kind, c.status, c.reason))
            })
            .collect();
        assert_eq!(
            found,
            [
                "Node/node3 NetworkHealthy=false NetworkDegraded",
                "Network/backend NetworkHealthy=false NetworkDegraded",
                "Network/frontend NetworkHealthy=false NetworkDegraded",
                "GlusterVolume/storage NetworkHealthy=false NetworkDegraded",
            ]
        );
        let backend = &conditions[&ResourceKey::new(Kind::Network, "backend")][0];
        assert_eq!(
            backend.message,
            "FAIL overlay data plane node1 -> node3 (udp/4789) on backend, frontend: 0 of 6 canary probes answered; allow UDP 4789 between the nodes"
        );
    }

    #[test]
    fn events_tell_a_failure_appearing_and_clearing_once() {
        let desired = desired();
        let healthy = report(vec![Finding::pass(Check::Agents, "3 agents answered")]);
        let first: Vec<(Reason, Option<String>, String)> = changes(None, &healthy, &desired)
            .into_iter()
            .map(|e| (e.reason, e.resource, e.message))
            .collect();
        assert_eq!(
            first,
            [(
                Reason::NetworkHealthy,
                None,
                "every check of the network passed (1 checks)".into()
            )]
        );
        let degraded = report(vec![vxlan("node1", "node3", 0)]);
        let appeared: Vec<(Reason, Option<String>)> = changes(Some(&healthy), &degraded, &desired)
            .into_iter()
            .map(|e| (e.reason, e.resource))
            .collect();
        assert_eq!(
            appeared,
            [(Reason::NetworkDegraded, Some("Network/backend".into()))]
        );
        // The same failure with other counts is no news.
        let still = report(vec![vxlan("node1", "node3", 1)]);
        assert!(changes(Some(&degraded), &still, &desired).is_empty());
        let cleared: Vec<String> = changes(Some(&still), &healthy, &desired)
            .into_iter()
            .map(|e| format!("{:?} {}", e.reason, e.message))
            .collect();
        assert_eq!(
            cleared,
            [
                "NetworkHealthy passes again: overlay data plane node1 -> node3 (udp/4789) on backend, frontend: 1 of 6 canary probes answered; allow UDP 4789 between the nodes"
            ]
        );
    }
}
