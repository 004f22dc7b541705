//! One reconcile of one resource: observe (shared by the reconciles of a burst), decide
//! (`decide`, pure), then act on the decision: the write, the events, the status and the
//! metrics, and when to look again. A failed write goes through one error policy.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::decide::{Decided, Decision, decide, drift_fields};
use super::engine::Engine;
use super::events::{Event, Reason};
use super::metrics::{KindLabel, ReconcileResult};
use super::observation::SharedObservation;
use super::queue::Outcome;
use super::shared::{Shared, Snapshot};
use super::status::{Condition, ConditionReason, Health, ResourceKey, ResourceStatus, Sync};
use crate::observe::live::Live;
use crate::plan::{Action, Change};
use crate::swarm::engine::EngineError;

/// How long a resource waiting on another (a volume not mounted yet) waits before it is
/// looked at again.
const WAITING_REQUEUE: Duration = Duration::from_secs(5);
/// A change blocked until someone acts (a missing secret, a volume shrink): now and then.
const BLOCKED_REQUEUE: Duration = Duration::from_secs(60);
/// After a change, or while tasks start or fail, how soon to look again (health).
const AFTER_APPLY_REQUEUE: Duration = Duration::from_secs(10);

/// What reconciles need besides the key.
pub struct Context<E> {
    pub engine: E,
    pub shared: Arc<Shared>,
    pub agent_port: Option<u16>,
    pub allow_mass_prune: bool,
    pub observation: SharedObservation,
}

/// How a reconcile ended: for the queue, and the `result` label of its metric.
#[derive(Debug, PartialEq)]
pub struct Reconciled {
    pub outcome: Outcome,
    pub result: ReconcileResult,
}

fn done(result: ReconcileResult, requeue_after: Option<Duration>) -> Reconciled {
    Reconciled {
        outcome: Outcome::Done { requeue_after },
        result,
    }
}

/// Reconciles `key` against the desired-state in force.
pub async fn reconcile<E: Engine>(ctx: &Context<E>, key: &ResourceKey) -> Reconciled {
    let Some(snapshot) = ctx.shared.snapshot() else {
        return done(ReconcileResult::waiting, None);
    };
    let observed = ctx
        .observation
        .get(&ctx.engine, &snapshot, ctx.agent_port)
        .await;
    let observed = match observed {
        Ok(observed) => {
            ctx.shared.update_readiness(|r| r.engine_error = None);
            observed
        }
        Err(error) => {
            ctx.shared
                .update_readiness(|r| r.engine_error = Some(error.to_string()));
            ctx.shared.record(Event::new(
                Reason::EngineUnreachable,
                None,
                format!("cannot observe: {error}"),
            ));
            return Reconciled {
                outcome: Outcome::Transient,
                result: ReconcileResult::error,
            };
        }
    };
    let memory = ctx.shared.memory(key);
    let decided = decide(key, &observed, &memory, ctx.allow_mass_prune);
    tracing::debug!(decision = ?decided.decision, "decided");
    act(ctx, key, &snapshot, &observed.live, decided).await
}

/// Carries a decision out.
async fn act<E: Engine>(
    ctx: &Context<E>,
    key: &ResourceKey,
    snapshot: &Snapshot,
    live: &Live,
    decided: Decided,
) -> Reconciled {
    let event = |reason, message: String| {
        Event::new(reason, Some(key.to_string()), message).with_revision(snapshot.revision.clone())
    };
    if let Some(count) = decided.split_brain {
        ctx.shared.record(event(
            Reason::SplitBrain,
            format!("{count} entries in split-brain"),
        ));
    }
    // Published only while its desired-state is in force; remembered (written, rejected)
    // either way, below.
    let status = decided.status;
    if let Some(status) = status.as_ref().filter(|_| ctx.shared.in_force(snapshot)) {
        ctx.shared.set_status(key, status.clone());
    }
    // Tasks still starting or failing: look again soon to see how it ends.
    let converging = status
        .as_ref()
        .is_some_and(|s| matches!(s.health, Health::Progressing | Health::Degraded));
    let recheck = converging.then_some(AFTER_APPLY_REQUEUE);
    match decided.decision {
        Decision::Gone => {
            // A leftover removed by other means: its status goes with it.
            ctx.shared.forget(key);
            done(ReconcileResult::synced, None)
        }
        Decision::Synced => {
            if let Some(status) = status {
                ctx.shared.remember_synced(key, status.desired_hash);
            }
            done(ReconcileResult::synced, recheck)
        }
        Decision::Blocked(why) => {
            ctx.shared.record(event(Reason::Waiting, why.to_string()));
            let requeue = if why.clears_by_itself() {
                WAITING_REQUEUE
            } else {
                BLOCKED_REQUEUE
            };
            done(ReconcileResult::waiting, Some(requeue))
        }
        Decision::ReportDrift(change) => {
            drift_detected(ctx, key, &change, snapshot);
            ctx.shared.record(
                event(
                    Reason::DriftReported,
                    "drift policy is report: left as it is".into(),
                )
                .with_fields(drift_fields(&change)),
            );
            done(ReconcileResult::drift, recheck)
        }
        Decision::RefusePrune { why } => {
            ctx.shared.record(event(Reason::PruneRefused, why));
            done(ReconcileResult::waiting, None)
        }
        Decision::RolledBack { message, first } => {
            if first {
                ctx.shared.record(event(Reason::ApplyFailed, message));
            }
            // Written again only for a new desired spec, whose revision triggers anyway.
            done(ReconcileResult::rolled_back, None)
        }
        Decision::Rejected { .. } => done(ReconcileResult::rejected, None),
        Decision::Apply { change, drift } => {
            write(ctx, key, snapshot, live, &change, drift, status).await
        }
    }
}

/// Makes `change` and says how it went.
async fn write<E: Engine>(
    ctx: &Context<E>,
    key: &ResourceKey,
    snapshot: &Snapshot,
    live: &Live,
    change: &Change,
    drift: bool,
    status: Option<ResourceStatus>,
) -> Reconciled {
    if drift {
        drift_detected(ctx, key, change, snapshot);
    }
    let revision = snapshot.revision.clone();
    let applied = ctx
        .engine
        .apply(&snapshot.desired, change, live, revision.as_deref())
        .await;
    // Written (or partly): what others observed before is out of date.
    ctx.observation.invalidate().await;
    let event = |reason, message: &str| {
        Event::new(reason, Some(key.to_string()), message).with_revision(revision.clone())
    };
    match applied {
        Ok(()) => {
            let (reason, message) = if drift {
                (
                    Reason::DriftCorrected,
                    "live state set back to desired-state",
                )
            } else {
                (Reason::Applied, action_word(change.action))
            };
            let mut applied = event(reason, message).with_fields(drift_fields(change));
            if change.action == Action::Create {
                applied = applied.of_creation();
            }
            ctx.shared.record(applied);
            if change.action == Action::Delete {
                ctx.shared.forget(key);
                return done(ReconcileResult::applied, None);
            }
            if let Some(mut status) = status {
                // Remembered even if a new revision came meanwhile: it was written.
                ctx.shared
                    .remember_written(key, status.desired_hash.clone());
                status.sync = Sync::Synced;
                status.health = Health::Progressing;
                status.last_applied = Some(SystemTime::now());
                status.last_applied_revision = revision.clone();
                if ctx.shared.in_force(snapshot) {
                    ctx.shared.set_status(key, status);
                }
            }
            done(ReconcileResult::applied, Some(AFTER_APPLY_REQUEUE))
        }
        Err(error) => {
            let outcome = error_policy(&error.source);
            if let Some(mut status) = status {
                // Of an older desired-state, a rejection is not kept: the new one tries again.
                if outcome == Outcome::Terminal
                    && !status.desired_hash.is_empty()
                    && ctx.shared.in_force(snapshot)
                {
                    ctx.shared.remember_rejected(
                        key,
                        status.desired_hash.clone(),
                        error.to_string(),
                    );
                }
                status.conditions.push(Condition::not_synced(
                    ConditionReason::ApplyFailed,
                    error.to_string(),
                ));
                if ctx.shared.in_force(snapshot) {
                    ctx.shared.set_status(key, status);
                }
            }
            ctx.shared
                .record(event(Reason::ApplyFailed, &error.to_string()));
            Reconciled {
                outcome,
                result: ReconcileResult::error,
            }
        }
    }
}

fn drift_detected<E>(ctx: &Context<E>, key: &ResourceKey, change: &Change, snapshot: &Snapshot) {
    ctx.shared
        .metrics
        .drift_events
        .get_or_create(&KindLabel { kind: key.kind })
        .inc();
    ctx.shared.record(
        Event::new(
            Reason::DriftDetected,
            Some(key.to_string()),
            "live state differs from desired-state",
        )
        .with_fields(drift_fields(change))
        .with_revision(snapshot.revision.clone()),
    );
}

/// How a failed write is retried: a conflict soon, a spec the engine rejects (400) not at
/// all (the decision remembers it until desired-state changes), anything else with
/// backoff.
pub fn error_policy(error: &EngineError) -> Outcome {
    match error {
        _ if error.is_conflict() => Outcome::Conflict,
        EngineError::Call {
            source:
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 400, ..
                },
            ..
        } => Outcome::Terminal,
        // Refused: what shoal would send is not possible yet (a network not there yet).
        _ => Outcome::Transient,
    }
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated in place",
        Action::Delete => "deleted (no longer in desired-state)",
        Action::Replace => "replaced",
        Action::Adopt => "adopted (taken over in place)",
    }
}

#[cfg(test)]
mod tests;
