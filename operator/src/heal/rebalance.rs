//! Rebalancing after a node returns. Swarm never moves a running task back onto a node
//! that came back (moby/moby#24103): a service whose tasks crowded onto the survivors
//! stays crowded, and the next crash hits harder. Once every returned node has been ready
//! and active for a settle period (so that a flapping node causes no churn), each managed
//! replicated service spread more unevenly than its placement allows is force-updated:
//! swarm's rolling update, under the service's own updateConfig, places every new task on
//! the emptiest candidate node. One service at a time, each once per return, waiting
//! until it converged. Pure: the controller feeds it observations, makes the force update
//! it asks for, and tells what it returns.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use bollard::models::{Service, ServiceUpdateStatusStateEnum, TaskState};

use crate::observe::live::Live;
use crate::plan::storage_gate::{candidate_facts, volume_mounts};
use crate::resources::constraint::NodeFacts;
use crate::resources::service::ServiceMode;
use crate::resources::{Desired, Kind, Resource, ServiceSpec};

/// The annotation that turns rebalancing off for one service (`auto` is the default).
pub const REBALANCE_ANNOTATION: &str = "shoal.io/rebalance";

/// How long a returned node stays ready before anything is moved onto it.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(60);

/// A rebalance not converged by then is given up (and told).
pub const CONVERGE_TIMEOUT: Duration = Duration::from_secs(600);

/// A service waiting for its volume to heal (or to be mounted on the returned node) is
/// given up after this long past the settle period: a split-brain waits for a person.
pub const STORAGE_WAIT: Duration = Duration::from_secs(1800);

/// The running tasks of one service on each of its candidate nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Distribution(pub BTreeMap<String, usize>);

impl fmt::Display for Distribution {
    /// `node1: 2, node2: 1, node3: 0`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(n, c)| format!("{n}: {c}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// Why a service is left as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Spread as evenly as its placement allows.
    Balanced,
    /// Never rebalanced: global, a single replica, pinned to one node, or annotated off.
    Exempt(Exemption),
    /// Its volume has not healed, or a returned node has not mounted it yet.
    WaitsForStorage(String),
    /// Spread unevenly: a force update would even it out.
    Unbalanced(Distribution),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exemption {
    Global,
    SingleReplica,
    Pinned,
    Off,
}

/// What the controller is to do or tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RebalanceStep {
    /// Force-update `service`, then call `started`.
    Start {
        service: String,
        before: Distribution,
    },
    /// The force update converged.
    Rebalanced {
        service: String,
        before: Distribution,
        after: Distribution,
    },
    /// Swarm paused or rolled back the update, it did not converge in time, or the
    /// service's storage never got ready.
    Failed { service: String, why: String },
    /// Unbalanced, but its volume has not healed or is not mounted on the returned node
    /// yet (told once).
    Waiting { service: String, why: String },
}

/// A force update under way.
#[derive(Debug)]
struct InFlight {
    service: String,
    /// The task template's `ForceUpdate` the new tasks carry.
    force_update: u64,
    before: Distribution,
    started: Instant,
}

/// The memory between observations.
#[derive(Debug, Default)]
pub struct RebalanceWatch {
    /// The nodes ready and active at the last look (none before the first).
    available: Option<BTreeSet<String>>,
    /// Nodes that came back in this round, and since when they stay available.
    returned: BTreeMap<String, Instant>,
    /// Services force-updated (or given up) in this round.
    done: BTreeSet<String>,
    /// Services told waiting for their storage in this round.
    told_waiting: BTreeSet<String>,
    in_flight: Option<InFlight>,
}

impl RebalanceWatch {
    /// Looks at `live`: follows the rebalance under way, or says which to start next.
    /// `healed` are the GlusterVolumes with every brick online and nothing to heal.
    pub fn observe(
        &mut self,
        desired: &Desired,
        live: &Live,
        healed: &BTreeSet<String>,
        settle: Duration,
        now: Instant,
    ) -> Option<RebalanceStep> {
        self.track_returns(live, now);
        if let Some(flight) = &self.in_flight {
            let step = follow(flight, desired, live, now);
            let gone = live.service(&flight.service).is_none()
                || desired.find(Kind::Service, &flight.service).is_none();
            if step.is_some() || gone {
                self.in_flight = None;
            }
            return step;
        }
        let settled = self.returned.values().max().map(|&t| t + settle)?;
        if now < settled {
            return None;
        }
        let mut storage_waits = false;
        for (resource, spec) in desired.services() {
            let service = resource.name();
            if self.done.contains(service) {
                continue;
            }
            match verdict(desired, live, resource, spec, healed, &self.returned) {
                Verdict::Unbalanced(before) => {
                    return Some(RebalanceStep::Start {
                        service: service.to_string(),
                        before,
                    });
                }
                Verdict::WaitsForStorage(why) => {
                    if now >= settled + STORAGE_WAIT {
                        self.done.insert(service.to_string());
                        let why = format!("its storage was not ready: {why}");
                        let service = service.to_string();
                        return Some(RebalanceStep::Failed { service, why });
                    }
                    storage_waits = true;
                    if self.told_waiting.insert(service.to_string()) {
                        let service = service.to_string();
                        return Some(RebalanceStep::Waiting { service, why });
                    }
                }
                Verdict::Balanced | Verdict::Exempt(_) => {}
            }
        }
        if !storage_waits {
            self.end_round();
        }
        None
    }

    fn end_round(&mut self) {
        self.returned.clear();
        self.done.clear();
        self.told_waiting.clear();
    }

    /// The force update of `service` was made: its new tasks carry `force_update`.
    pub fn started(
        &mut self,
        service: &str,
        force_update: u64,
        before: Distribution,
        now: Instant,
    ) {
        self.done.insert(service.to_string());
        self.in_flight = Some(InFlight {
            service: service.to_string(),
            force_update,
            before,
            started: now,
        });
    }

    /// The force update of `service` could not be made: not tried again in this round.
    pub fn not_started(&mut self, service: &str) {
        self.done.insert(service.to_string());
    }

    /// A node that is available now and was not at the last look returned; one that is
    /// not available any more is out of the round until it returns again.
    /// A new return (or the last returned node gone again) starts the round over: every
    /// service is looked at anew once the nodes settle.
    fn track_returns(&mut self, live: &Live, now: Instant) {
        let available = live.available_nodes();
        let mut changed = false;
        if let Some(before) = &self.available {
            for node in available.difference(before) {
                self.returned.insert(node.clone(), now);
                changed = true;
            }
        }
        let returned = self.returned.len();
        self.returned.retain(|node, _| available.contains(node));
        if changed || (returned > 0 && self.returned.is_empty()) {
            let returned = std::mem::take(&mut self.returned);
            self.end_round();
            self.returned = returned;
        }
        self.available = Some(available);
    }
}

/// Whether the force update of `flight` converged, failed or is still running.
fn follow(
    flight: &InFlight,
    desired: &Desired,
    live: &Live,
    now: Instant,
) -> Option<RebalanceStep> {
    let service = live.service(&flight.service)?;
    let failed = |why: String| {
        Some(RebalanceStep::Failed {
            service: flight.service.clone(),
            why,
        })
    };
    let update = service.update_status.as_ref();
    if let Some(
        state @ (ServiceUpdateStatusStateEnum::PAUSED
        | ServiceUpdateStatusStateEnum::ROLLBACK_STARTED
        | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED
        | ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED),
    ) = update.and_then(|u| u.state)
    {
        let message = update.and_then(|u| u.message.clone()).unwrap_or_default();
        return failed(format!("swarm's update is {state}: {message}"));
    }
    if now >= flight.started + CONVERGE_TIMEOUT && !converged(service, live, flight.force_update) {
        return failed(format!(
            "not converged within {}",
            humantime::format_duration(CONVERGE_TIMEOUT)
        ));
    }
    if converged(service, live, flight.force_update) {
        let (_, spec) = desired
            .services()
            .find(|(r, _)| r.name() == flight.service)?;
        return Some(RebalanceStep::Rebalanced {
            service: flight.service.clone(),
            before: flight.before.clone(),
            after: distribution(live, service, &candidate_facts(desired, live, spec)),
        });
    }
    None
}

/// Every task meant to run is running, as many as wanted, all of the new template (or a
/// newer one: someone else's `--force` meanwhile does the same work).
fn converged(service: &Service, live: &Live, force_update: u64) -> bool {
    let wanted = service
        .spec
        .as_ref()
        .and_then(|s| s.mode.as_ref())
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas)
        .unwrap_or(0);
    let tasks: Vec<_> = live
        .tasks
        .iter()
        .filter(|t| t.service_id == service.id && t.desired_state == Some(TaskState::RUNNING))
        .collect();
    tasks.len() as i64 == wanted
        && tasks.iter().all(|t| {
            t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
                && t.spec.as_ref().and_then(|s| s.force_update) >= Some(force_update)
        })
}

/// What to do with one desired service now; `returned` are the nodes back in this round.
fn verdict(
    desired: &Desired,
    live: &Live,
    resource: &Resource,
    spec: &ServiceSpec,
    healed: &BTreeSet<String>,
    returned: &BTreeMap<String, Instant>,
) -> Verdict {
    let annotation = resource.metadata.annotations.get(REBALANCE_ANNOTATION);
    let candidates = candidate_facts(desired, live, spec);
    let Some(service) = live.service(resource.name()) else {
        return Verdict::Balanced;
    };
    if spec.mode == ServiceMode::Global {
        return Verdict::Exempt(Exemption::Global);
    }
    if spec.replicas.unwrap_or(1) < 2 {
        return Verdict::Exempt(Exemption::SingleReplica);
    }
    if candidates.len() < 2 {
        return Verdict::Exempt(Exemption::Pinned);
    }
    if annotation.map(String::as_str) == Some("off") {
        return Verdict::Exempt(Exemption::Off);
    }
    let spread = spec
        .placement
        .as_ref()
        .and_then(|p| p.preferences.first())
        .map(|p| p.spread.as_str());
    let now = distribution(live, service, &candidates);
    if balanced(&now, &candidates, spread) {
        return Verdict::Balanced;
    }
    match storage_wait(desired, live, spec, healed, &candidates, returned) {
        Some(why) => Verdict::WaitsForStorage(why),
        None => Verdict::Unbalanced(now),
    }
}

/// Why the service must wait for its storage: a volume it mounts not healed, or not
/// mounted on a returned candidate node (as its agent reports; unknown without agents).
fn storage_wait(
    desired: &Desired,
    live: &Live,
    spec: &ServiceSpec,
    healed: &BTreeSet<String>,
    candidates: &[NodeFacts],
    returned: &BTreeMap<String, Instant>,
) -> Option<String> {
    for (volume, _) in volume_mounts(desired, spec) {
        if !healed.contains(volume.name()) {
            return Some(format!("{} has not healed", volume.id()));
        }
        let Some(agents) = &live.agents else { continue };
        for node in candidates
            .iter()
            .filter(|n| returned.contains_key(&n.hostname))
        {
            let mounted = matches!(agents.get(&node.hostname), Some(Ok(status))
                if status.volumes.iter().any(|v| v.volume == volume.name() && v.mounted));
            if !mounted {
                return Some(format!(
                    "{} is not mounted on {}",
                    volume.id(),
                    node.hostname
                ));
            }
        }
    }
    None
}

/// As even as swarm's scheduler makes it: over the values of the first spread label (a
/// node without the label is a group of its own value, empty), and over the nodes within
/// each group, the most and fewest tasks differ by one at most.
fn balanced(tasks: &Distribution, candidates: &[NodeFacts], spread: Option<&str>) -> bool {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for node in candidates {
        let group = spread
            .map(|label| group_of(node, label))
            .unwrap_or_default();
        let count = tasks.0.get(&node.hostname).copied().unwrap_or(0);
        groups.entry(group).or_default().push(count);
    }
    let even = |counts: &[usize]| {
        let (min, max) = (counts.iter().min(), counts.iter().max());
        matches!((min, max), (Some(min), Some(max)) if max - min <= 1)
    };
    let totals: Vec<usize> = groups.values().map(|c| c.iter().sum()).collect();
    even(&totals) && groups.values().all(|counts| even(counts))
}

/// The value of `node.labels.NAME` or `engine.labels.NAME` on `node`.
fn group_of(node: &NodeFacts, label: &str) -> String {
    let value = if let Some(name) = label.strip_prefix("node.labels.") {
        node.labels.get(name)
    } else if let Some(name) = label.strip_prefix("engine.labels.") {
        node.engine_labels.get(name)
    } else {
        None
    };
    value.cloned().unwrap_or_default()
}

/// The running tasks of `service` on each candidate node.
fn distribution(live: &Live, service: &Service, candidates: &[NodeFacts]) -> Distribution {
    let mut counts: BTreeMap<String, usize> =
        candidates.iter().map(|n| (n.hostname.clone(), 0)).collect();
    for task in live.tasks.iter().filter(|t| {
        t.service_id == service.id
            && t.desired_state == Some(TaskState::RUNNING)
            && t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
    }) {
        let node = candidates
            .iter()
            .find(|n| Some(&n.id) == task.node_id.as_ref());
        if let Some(node) = node {
            *counts.entry(node.hostname.clone()).or_default() += 1;
        }
    }
    Distribution(counts)
}

#[cfg(test)]
mod tests;
