//! What one reconcile should do, decided without I/O: from the desired-state in force,
//! the observed live state and what the controller remembers of the resource, a
//! `Decision` (nothing, wait, report drift, refuse a prune, stop after a rollback or a
//! rejection, or write one change) and the status to publish. The executor (`reconcile`) carries it
//! out. Being pure, every decision is tested on recorded engine answers.

use std::collections::HashMap;

use super::events::DriftField;
use super::observation::Observed;
use super::shared::Snapshot;
use super::status::{
    self, Condition, ConditionReason, DriftPolicy, Health, ResourceKey, ResourceStatus, Sync,
};
use crate::diff;
use crate::observe::live::Live;
use crate::plan::{self, Action, Blocked, Change, Plan};
use crate::resources::{Desired, Kind, Resource, Spec};
use crate::swarm::labels;
use crate::swarm::render::{self as swarm_render, RenderError};
use crate::swarm::rollout::{self, Rollout};

/// What the controller remembers of a resource between its reconciles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Memory {
    /// The desired hash it was last seen in sync at: a difference found while the
    /// desired spec is unchanged since then is drift, not a new desired-state.
    pub synced_hash: Option<String>,
    /// The desired hash shoal last wrote to its object.
    pub written_hash: Option<String>,
    /// The desired hash whose write the engine rejected (HTTP 400), with its answer:
    /// not written again until desired-state changes.
    pub rejected: Option<(String, String)>,
    /// The status the previous reconcile published.
    pub previous: Option<ResourceStatus>,
}

/// What to do about one resource.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Neither desired nor live: nothing to keep.
    Gone,
    /// Live matches desired-state.
    Synced,
    /// The change cannot be made now.
    Blocked(Blocked),
    /// A live change nobody made in desired-state, left as it is: the policy is `report`.
    ReportDrift(Change),
    /// Deleting this would prune most of what shoal manages.
    RefusePrune { why: String },
    /// Swarm rolled back the spec shoal wrote: not written again until desired-state
    /// changes. `first` when no earlier reconcile reported it.
    RolledBack { message: String, first: bool },
    /// The engine rejected this desired spec when it was written (the message is its
    /// answer): not written again until desired-state changes.
    Rejected { message: String },
    /// Write this change; `drift` when it undoes a live change nobody made in
    /// desired-state.
    Apply { change: Change, drift: bool },
}

/// A decision and the status to publish with it (before any write).
#[derive(Clone, Debug, PartialEq)]
pub struct Decided {
    pub decision: Decision,
    /// None when there is nothing to say: neither desired nor live.
    pub status: Option<ResourceStatus>,
    /// Entries in split-brain, for a GlusterVolume that has any.
    pub split_brain: Option<u64>,
}

/// Decides what to do about `key` from an observation and the plan made from it. Pure.
pub fn decide(
    key: &ResourceKey,
    observed: &Observed,
    memory: &Memory,
    allow_mass_prune: bool,
) -> Decided {
    let (snapshot, live, plan) = (&*observed.snapshot, &observed.live, observed.plan());
    let resource = snapshot.desired.find(key.kind, &key.name);
    let change = plan
        .changes
        .iter()
        .find(|c| c.kind == key.kind && c.name == key.name);
    let decision = match (change, resource) {
        (None, None) => Decision::Gone,
        (None, Some(_)) => Decision::Synced,
        (Some(change), resource) => decide_change(
            change,
            resource,
            snapshot,
            live,
            plan,
            memory,
            allow_mass_prune,
        ),
    };
    // A leftover (no longer desired) has a status while something remains to be done
    // about it: a prune refused, blocked or failing shows until it is gone.
    let status = (decision != Decision::Gone).then(|| {
        let health = status::health(key, live, plan, &snapshot.desired);
        let mut status = status_of(key, resource, health, &decision, memory);
        status
            .conditions
            .extend(status::health_condition(key, plan, &snapshot.desired));
        status
    });
    let split_brain = plan
        .storage
        .iter()
        .find(|s| key.kind == Kind::GlusterVolume && s.name == key.name)
        .map(|s| s.split_brain)
        .filter(|count| *count > 0);
    Decided {
        decision,
        status,
        split_brain,
    }
}

fn decide_change(
    change: &Change,
    resource: Option<&Resource>,
    snapshot: &Snapshot,
    live: &Live,
    plan: &Plan,
    memory: &Memory,
    allow_mass_prune: bool,
) -> Decision {
    if let Some(why) = &change.blocked {
        return Decision::Blocked(why.clone());
    }
    if let Some(missing) = resource.and_then(|r| not_created_yet(r, &snapshot.desired, live)) {
        return Decision::Blocked(Blocked::Render(missing));
    }
    if let Some(resource) = resource {
        let hash = diff::desired_hash(&resource.spec);
        if let Some((rejected, message)) = &memory.rejected
            && *rejected == hash
        {
            return Decision::Rejected {
                message: message.clone(),
            };
        }
        if let Some(message) = rolled_back(change, live, &hash, memory.written_hash.as_deref()) {
            let first = !memory.previous.as_ref().is_some_and(|previous| {
                previous.desired_hash == hash
                    && previous
                        .conditions
                        .iter()
                        .any(|c| c.reason == ConditionReason::RolloutFailed)
            });
            return Decision::RolledBack { message, first };
        }
        let drift = is_drift(change, &hash, live, memory.synced_hash.as_deref());
        if drift && DriftPolicy::of(Some(resource)) == DriftPolicy::Report {
            return Decision::ReportDrift(change.clone());
        }
        return Decision::Apply {
            change: change.clone(),
            drift,
        };
    }
    if change.action == Action::Delete
        && !allow_mass_prune
        && let Some(why) = plan::prune_refusal(plan, &snapshot.desired, live)
    {
        return Decision::RefusePrune { why };
    }
    Decision::Apply {
        change: change.clone(),
        drift: false,
    }
}

/// The network, secret or config a desired service uses that the plan creates but the
/// swarm has not yet. `apply` writes the plan in order; here each resource is reconciled
/// on its own, so the service waits for the other's reconcile, whose engine event
/// triggers it again, instead of failing on the engine's "not found" and backing off.
fn not_created_yet(resource: &Resource, desired: &Desired, live: &Live) -> Option<RenderError> {
    let Spec::Service(spec) = &resource.spec else {
        return None;
    };
    let spec = crate::plan::bind::bind_one(spec, desired, live);
    swarm_render::service(resource.name(), &spec, HashMap::new(), None, live).err()
}

/// Whether `change` undoes a live change nobody made in desired-state: the desired spec
/// (hash `desired`) is the one last seen in sync, or, after a restart when nothing is
/// remembered, the one the object's own label says it was last written from.
pub fn is_drift(change: &Change, desired: &str, live: &Live, synced_hash: Option<&str>) -> bool {
    if change.action == Action::Delete {
        return false;
    }
    if synced_hash == Some(desired) {
        return true;
    }
    let labels = match change.kind {
        Kind::Service => live
            .service(&change.name)
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.labels.as_ref()),
        Kind::Network => live.network(&change.name).and_then(|n| n.labels.as_ref()),
        _ => None,
    };
    labels
        .and_then(|l| l.get(labels::SPEC_HASH))
        .is_some_and(|live_hash| live_hash == desired)
}

/// Why swarm rolled back the update to the desired spec (hash `desired`), if it did: the
/// service still differs from desired-state (`change`), shoal last wrote the desired spec
/// (`written`) and the service's rollout is rolled back, not by hand. (bollard's models do
/// not carry the engine's PreviousSpec, so after a restart shoal writes such a spec once
/// more before it knows; and once a rollback by hand has completed, the engine's answer
/// no longer tells it from swarm's own.)
fn rolled_back(
    change: &Change,
    live: &Live,
    desired: &str,
    written: Option<&str>,
) -> Option<String> {
    if change.kind != Kind::Service || written != Some(desired) {
        return None;
    }
    let service = live.service(&change.name)?;
    let message = rollout::message(service).unwrap_or("no reason given");
    (Rollout::of(service) == Rollout::RolledBack && message != rollout::MANUAL_ROLLBACK).then(
        || {
            format!(
                "swarm rolled the update back ({message}): fix desired-state; shoal will not \
             write this spec again"
            )
        },
    )
}

/// The status published with `decision`, before anything is written.
fn status_of(
    key: &ResourceKey,
    resource: Option<&Resource>,
    health: Health,
    decision: &Decision,
    memory: &Memory,
) -> ResourceStatus {
    let previous = memory.previous.as_ref();
    let (sync, condition) = match decision {
        Decision::Gone | Decision::Synced => (Sync::Synced, None),
        Decision::Blocked(why) => {
            let reason = if why.clears_by_itself() {
                ConditionReason::Waiting
            } else {
                ConditionReason::Blocked
            };
            (
                Sync::OutOfSync,
                Some(Condition::not_synced(reason, why.to_string())),
            )
        }
        Decision::ReportDrift(change) => (
            Sync::OutOfSync,
            Some(Condition::not_synced(
                ConditionReason::DriftReported,
                format!(
                    "{} field(s) differ; drift policy is report: not corrected",
                    change.fields.len()
                ),
            )),
        ),
        Decision::RolledBack { message, .. } => (
            Sync::OutOfSync,
            Some(Condition::not_synced(
                ConditionReason::RolloutFailed,
                message.clone(),
            )),
        ),
        Decision::Rejected { message } => (
            Sync::OutOfSync,
            Some(Condition::not_synced(
                ConditionReason::ApplyFailed,
                message.clone(),
            )),
        ),
        Decision::RefusePrune { .. } | Decision::Apply { .. } => (Sync::OutOfSync, None),
    };
    ResourceStatus {
        kind: key.kind,
        name: key.name.clone(),
        sync,
        health,
        drift: DriftPolicy::of(resource),
        conditions: condition.into_iter().collect(),
        last_applied_revision: previous.and_then(|p| p.last_applied_revision.clone()),
        last_applied: previous.and_then(|p| p.last_applied),
        desired_hash: resource
            .map(|r| diff::desired_hash(&r.spec))
            .unwrap_or_default(),
    }
}

/// The fields of a change as events carry them.
pub fn drift_fields(change: &Change) -> Vec<DriftField> {
    change.fields.iter().map(DriftField::from).collect()
}

#[cfg(test)]
mod tests;
