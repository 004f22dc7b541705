//! Reconciling one resource: observe, plan, and make this resource's change if there is
//! one. A difference found while desired-state is unchanged since the resource was last
//! synced (or while the object still carries the hash of the current desired spec) is
//! drift: an event, then corrected under the `enforce` policy or only reported under
//! `report` (annotation `shoal.io/drift`).

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;

use super::events::{DriftField, Event, Reason};
use super::queue::Outcome;
use super::shared::Shared;
use super::status::{self, Condition, Health, ResourceKey, ResourceStatus, Sync};
use crate::diff;
use crate::plan::{self, Action, Change, Plan};
use crate::resources::{Kind, Resource, Spec};
use crate::swarm::apply;
use crate::swarm::labels;
use crate::swarm::live::Live;

/// The annotation that sets a resource's drift policy.
pub const DRIFT_ANNOTATION: &str = "shoal.io/drift";

/// How long a resource waiting on another (a volume not mounted yet, a network) waits
/// before it is looked at again.
const WAITING_REQUEUE: Duration = Duration::from_secs(5);
/// After a change, how soon to look again (the tasks converge meanwhile: health).
const AFTER_APPLY_REQUEUE: Duration = Duration::from_secs(10);

/// What reconciles need besides the key.
pub struct Context {
    pub docker: Docker,
    pub shared: Arc<Shared>,
    pub agent_port: Option<u16>,
    pub allow_mass_prune: bool,
    pub observation: super::observation::SharedObservation,
}

/// How a reconcile ended: for the queue, and the `result` label of its metric.
pub struct Reconciled {
    pub outcome: Outcome,
    pub result: &'static str,
}

fn done(result: &'static str, requeue_after: Option<Duration>) -> Reconciled {
    Reconciled {
        outcome: Outcome::Done { requeue_after },
        result,
    }
}

/// The hash of a resource's desired spec, the same for the same spec in any revision.
pub fn desired_hash(resource: &Resource) -> String {
    match &resource.spec {
        Spec::Service(spec) => diff::spec_hash(&diff::canonical(spec)),
        other => diff::spec_hash(other),
    }
}

/// `enforce` (the default) or `report`.
pub fn drift_policy(resource: Option<&Resource>) -> &'static str {
    match resource
        .and_then(|r| r.metadata.annotations.get(DRIFT_ANNOTATION))
        .map(String::as_str)
    {
        Some("report") => "report",
        _ => "enforce",
    }
}

/// Whether `change` undoes a live change nobody made in desired-state. Pure.
pub fn is_drift(
    change: &Change,
    resource: &Resource,
    live: &Live,
    synced_hash: Option<&str>,
) -> bool {
    if change.action == Action::Delete {
        return false;
    }
    let hash = desired_hash(resource);
    if synced_hash == Some(hash.as_str()) {
        return true;
    }
    // After a restart nothing is remembered: the object's own label says which desired
    // spec it was last written from.
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
        .is_some_and(|live_hash| *live_hash == hash)
}

/// Reconciles `key` against the desired-state in force.
pub async fn reconcile(ctx: &Context, key: &ResourceKey) -> Reconciled {
    let Some(snapshot) = ctx.shared.snapshot() else {
        return done("waiting", None);
    };
    let observed = ctx
        .observation
        .get(&ctx.docker, &snapshot, ctx.agent_port)
        .await;
    let live = match observed {
        Ok(live) => {
            ctx.shared.update_readiness(|r| r.engine_error = None);
            live
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
                result: "error",
            };
        }
    };
    let plan = plan::plan(&snapshot.desired, &live);
    let resource = snapshot.desired.find(key.kind, &key.name);
    let change = plan
        .changes
        .iter()
        .find(|c| c.kind == key.kind && c.name == key.name);
    let revision = snapshot.revision.clone();
    let previous = ctx.shared.status(key);
    let mut status = ResourceStatus {
        kind: key.kind,
        name: key.name.clone(),
        sync: Sync::Synced,
        health: status::health(key, &live, &plan, &snapshot.desired),
        drift: drift_policy(resource),
        conditions: Vec::new(),
        last_applied_revision: previous
            .as_ref()
            .and_then(|p| p.last_applied_revision.clone()),
        last_applied: previous.as_ref().and_then(|p| p.last_applied),
        desired_hash: resource.map(desired_hash).unwrap_or_default(),
    };
    // Tasks still starting or failing: look again soon to see how it ends.
    let converging = matches!(status.health, Health::Progressing | Health::Degraded);
    if let Some(storage) = plan.storage.iter().find(|s| s.name == key.name)
        && key.kind == Kind::GlusterVolume
        && storage.split_brain > 0
    {
        ctx.shared.record(
            Event::new(
                Reason::SplitBrain,
                Some(key.to_string()),
                format!("{} entries in split-brain", storage.split_brain),
            )
            .with_revision(revision.clone()),
        );
    }

    let Some(change) = change else {
        if let Some(resource) = resource {
            ctx.shared.set_synced_hash(key, desired_hash(resource));
            ctx.shared.set_status(key, status);
        }
        // A healthy resource is looked at again on events and resyncs; one still
        // converging soon.
        return done("synced", converging.then_some(AFTER_APPLY_REQUEUE));
    };

    status.sync = Sync::OutOfSync;
    if let Some(why) = &change.blocked {
        status.conditions.push(Condition {
            kind: "Synced".into(),
            status: false,
            reason: if why.clears_by_itself() {
                "Waiting"
            } else {
                "Blocked"
            }
            .into(),
            message: why.to_string(),
        });
        ctx.shared.set_status(key, status);
        ctx.shared.record(
            Event::new(Reason::Waiting, Some(key.to_string()), why.to_string())
                .with_revision(revision.clone()),
        );
        let requeue = if why.clears_by_itself() {
            WAITING_REQUEUE
        } else {
            // A missing secret or a volume shrink needs someone: look now and then.
            Duration::from_secs(60)
        };
        return done("waiting", Some(requeue));
    }

    let drift = resource
        .is_some_and(|r| is_drift(change, r, &live, ctx.shared.synced_hash(key).as_deref()));
    if drift {
        let fields: Vec<DriftField> = change.fields.iter().map(DriftField::from).collect();
        ctx.shared
            .metrics
            .drift_events
            .get_or_create(&super::metrics::KindLabel {
                kind: key.kind.to_string(),
            })
            .inc();
        ctx.shared.record(
            Event::new(
                Reason::DriftDetected,
                Some(key.to_string()),
                "live state differs from desired-state",
            )
            .with_fields(fields.clone())
            .with_revision(revision.clone()),
        );
        if status.drift == "report" {
            status.conditions.push(Condition {
                kind: "Synced".into(),
                status: false,
                reason: "DriftReported".into(),
                message: format!(
                    "{} field(s) differ; drift policy is report: not corrected",
                    fields.len()
                ),
            });
            ctx.shared.set_status(key, status);
            ctx.shared.record(
                Event::new(
                    Reason::DriftReported,
                    Some(key.to_string()),
                    "drift policy is report: left as it is",
                )
                .with_fields(fields)
                .with_revision(revision.clone()),
            );
            return done("drift", converging.then_some(AFTER_APPLY_REQUEUE));
        }
    }

    if change.action == Action::Delete
        && !ctx.allow_mass_prune
        && let Some(refusal) = plan::prune_refusal(&plan, &snapshot.desired, &live)
    {
        ctx.shared.record(
            Event::new(Reason::PruneRefused, Some(key.to_string()), refusal)
                .with_revision(revision.clone()),
        );
        ctx.shared.set_status(key, status);
        return done("waiting", None);
    }

    let single = Plan {
        changes: vec![change.clone()],
        ..Plan::default()
    };
    ctx.shared.set_status(key, status.clone());
    let applied = apply::apply(
        &ctx.docker,
        &snapshot.desired,
        &single,
        &live,
        revision.as_deref(),
    )
    .await;
    // Written (or partly): what others observed before is out of date.
    ctx.observation.invalidate().await;
    match applied {
        Ok(_) => {
            let fields: Vec<DriftField> = change.fields.iter().map(DriftField::from).collect();
            let event = if drift {
                Event::new(
                    Reason::DriftCorrected,
                    Some(key.to_string()),
                    "live state set back to desired-state",
                )
                .with_fields(fields)
            } else {
                Event::new(
                    Reason::Applied,
                    Some(key.to_string()),
                    action_word(change.action),
                )
                .with_fields(fields)
            };
            ctx.shared.record(event.with_revision(revision.clone()));
            if change.action == Action::Delete {
                ctx.shared.forget(key);
                return done("applied", None);
            }
            status.sync = Sync::Synced;
            status.health = Health::Progressing;
            ctx.shared.set_status(key, status);
            ctx.shared.mark_applied(key, revision);
            if let Some(resource) = resource {
                ctx.shared.set_synced_hash(key, desired_hash(resource));
            }
            done("applied", Some(AFTER_APPLY_REQUEUE))
        }
        Err(error) => {
            let outcome = classify(&error.source);
            status.conditions.push(Condition {
                kind: "Synced".into(),
                status: false,
                reason: "ApplyFailed".into(),
                message: error.to_string(),
            });
            ctx.shared.set_status(key, status);
            ctx.shared.record(
                Event::new(
                    Reason::ApplyFailed,
                    Some(key.to_string()),
                    error.to_string(),
                )
                .with_revision(revision),
            );
            Reconciled {
                outcome,
                result: "error",
            }
        }
    }
}

/// Why swarm rolled back the update to the desired spec (hash `desired`), if it did: the
/// service is in a rollback state, shoal last wrote the desired spec (`written`) and the
/// spec now running is another. (bollard's models do not carry the engine's PreviousSpec,
/// so after a restart shoal writes such a spec once more before it knows.)
pub fn rolled_back(
    service: &bollard::models::Service,
    desired: &str,
    written: Option<&str>,
) -> Option<String> {
    use bollard::models::ServiceUpdateStatusStateEnum as State;
    let update = service.update_status.as_ref()?;
    let rolling_back = matches!(
        update.state,
        Some(State::ROLLBACK_STARTED | State::ROLLBACK_PAUSED | State::ROLLBACK_COMPLETED)
    );
    let running = service
        .spec
        .as_ref()
        .and_then(|s| s.labels.as_ref())
        .and_then(|l| l.get(labels::SPEC_HASH))
        .map(String::as_str);
    (rolling_back && written == Some(desired) && running != Some(desired)).then(|| {
        format!(
            "swarm rolled the update back ({}): fix desired-state; shoal will not write this \
             spec again",
            update.message.as_deref().unwrap_or("no reason given")
        )
    })
}

/// How a failed write is retried: a conflict soon, a spec the engine rejects (400) only
/// after desired-state changes, anything else with backoff.
pub fn classify(error: &crate::swarm::engine::EngineError) -> Outcome {
    use crate::swarm::engine::EngineError;
    match error {
        EngineError::Call {
            source:
                bollard::errors::Error::DockerResponseServerError {
                    status_code,
                    message,
                },
            ..
        } => {
            if message.contains("update out of sequence") {
                Outcome::Conflict
            } else if *status_code == 400 {
                Outcome::Terminal
            } else {
                Outcome::Transient
            }
        }
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::engine::EngineError;

    fn engine(status_code: u16, message: &str) -> EngineError {
        EngineError::Call {
            what: "updating service web".into(),
            source: bollard::errors::Error::DockerResponseServerError {
                status_code,
                message: message.into(),
            },
        }
    }

    #[test]
    fn a_rolled_back_desired_spec_is_recognised() {
        use bollard::models::ServiceUpdateStatusStateEnum as State;
        use bollard::models::{Service, ServiceSpec, ServiceUpdateStatus};
        let service = |state, running: &str| Service {
            update_status: Some(ServiceUpdateStatus {
                state: Some(state),
                message: Some(
                    "update rolled back due to failure or early termination of task x".into(),
                ),
                ..Default::default()
            }),
            spec: Some(ServiceSpec {
                labels: Some([(labels::SPEC_HASH.to_string(), running.to_string())].into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            rolled_back(&service(State::ROLLBACK_COMPLETED, "a"), "b", Some("b")).as_deref(),
            Some(
                "swarm rolled the update back (update rolled back due to failure or early \
                 termination of task x): fix desired-state; shoal will not write this spec again"
            )
        );
        // A new desired spec (not the one written) is tried.
        assert_eq!(
            rolled_back(&service(State::ROLLBACK_COMPLETED, "a"), "c", Some("b")),
            None
        );
        // Not rolling back: a hand-made change is drift, handled elsewhere.
        assert_eq!(
            rolled_back(&service(State::COMPLETED, "a"), "b", Some("b")),
            None
        );
    }

    #[test]
    fn failures_are_classified_for_the_queue() {
        assert_eq!(
            classify(&engine(500, "rpc error: update out of sequence")),
            Outcome::Conflict
        );
        assert_eq!(
            classify(&engine(
                400,
                "invalid mount config: bind source path does not exist"
            )),
            Outcome::Terminal
        );
        assert_eq!(
            classify(&engine(503, "node is not part of a swarm")),
            Outcome::Transient
        );
        assert_eq!(
            classify(&EngineError::Refused(
                "network appnet does not exist".into()
            )),
            Outcome::Transient
        );
    }
}
