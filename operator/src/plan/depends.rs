//! `dependsOn`: a service is created or updated only once what it names is Healthy, and
//! a Service others depend on is not updated while one of them is still rolling out, so a
//! database and its clients never change at the same moment. Both hold a change back as
//! blocked (it clears by itself: the next look finds the dependency ready). Pure.

use crate::observe::live::Live;
use crate::resources::{Desired, Kind};
use crate::swarm::rollout::Rollout;

use super::gluster::StorageState;
use super::{Action, Blocked, Plan};

/// `Kind/name` parsed, or None when it is not written that way (validation says so).
pub fn parse(reference: &str) -> Option<(Kind, &str)> {
    let (kind, name) = reference.split_once('/')?;
    Some((Kind::parse(kind)?, name))
}

/// Holds back each service change whose dependencies are not ready, and each update of a
/// service whose dependents are rolling out.
pub fn gate(desired: &Desired, live: &Live, plan: &mut Plan) {
    let mut held: Vec<(usize, Blocked)> = Vec::new();
    for (index, change) in plan.changes.iter().enumerate() {
        if change.kind != Kind::Service
            || change.blocked.is_some()
            || change.action == Action::Delete
        {
            continue;
        }
        let Some((_, spec)) = desired.services().find(|(r, _)| r.name() == change.name) else {
            continue;
        };
        let waiting = spec.depends_on.iter().find_map(|reference| {
            let (kind, name) = parse(reference)?;
            not_ready(kind, name, live, plan).map(|why| Blocked::DependencyNotReady {
                dependency: reference.clone(),
                why,
            })
        });
        let blocked = waiting.or_else(|| dependents_rolling_out(&change.name, desired, live));
        if let Some(blocked) = blocked {
            held.push((index, blocked));
        }
    }
    for (index, blocked) in held {
        plan.changes[index].blocked = Some(blocked);
    }
}

/// Why `kind/name` is not ready to be depended on, or None when it is Healthy.
fn not_ready(kind: Kind, name: &str, live: &Live, plan: &Plan) -> Option<String> {
    let pending = plan
        .changes
        .iter()
        .any(|c| c.kind == kind && c.name == name && c.action != Action::Delete);
    match kind {
        Kind::Service => {
            let Some(service) = live.service(name) else {
                return Some("it does not exist yet".into());
            };
            if pending {
                return Some("it has a change to make first".into());
            }
            let counts = service.service_status.as_ref();
            let running = counts.and_then(|c| c.running_tasks).unwrap_or(0);
            let wanted = counts.and_then(|c| c.desired_tasks).unwrap_or(0);
            match Rollout::of(service) {
                Rollout::Updating => Some("it is rolling out".into()),
                Rollout::Paused | Rollout::RolledBack => Some("its rollout failed".into()),
                Rollout::Settled if running < wanted => {
                    Some(format!("{running} of {wanted} tasks running"))
                }
                Rollout::Settled => None,
            }
        }
        Kind::GlusterVolume => match plan.storage.iter().find(|s| s.name == name) {
            Some(storage) if storage.state() == StorageState::Healthy => None,
            Some(_) => Some("it is not healthy (bricks offline or healing)".into()),
            None => Some("it is not created and started yet".into()),
        },
        // Nodes, networks, secrets and configs are ready once made as desired.
        _ if pending => Some("it has a change to make first".into()),
        _ => None,
    }
}

/// The services that depend on Service `name` and are rolling out now.
fn dependents_rolling_out(name: &str, desired: &Desired, live: &Live) -> Option<Blocked> {
    let reference = format!("Service/{name}");
    let rolling: Vec<String> = desired
        .services()
        .filter(|(_, spec)| spec.depends_on.contains(&reference))
        .filter(|(r, _)| live.service(r.name()).map(Rollout::of) == Some(Rollout::Updating))
        .map(|(r, _)| r.name().to_string())
        .collect();
    (!rolling.is_empty()).then_some(Blocked::DependentsRollingOut { services: rolling })
}

#[cfg(test)]
mod tests;
