//! The lease that lets exactly one `shoal run` act on a swarm. It is a swarm config
//! (`shoal-lease`) whose labels name the holder and when it last renewed. Swarm lets a
//! config's labels change under optimistic concurrency (`?version=N`), so taking and
//! renewing are compare-and-swap writes: of two instances racing for a stale lease, one
//! write fails "out of sequence". A lease not renewed for `ttl` is stale and may be taken.
//! Timestamps come from each instance's clock: managers' clocks must agree within a few
//! seconds (NTP), as swarm's own certificates need anyway.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bollard::Docker;
use bollard::models::ConfigSpec;
use bollard::query_parameters::{ListConfigsOptions, UpdateConfigOptions};
use tokio::sync::mpsc::UnboundedSender;

use super::engine::Engine;
use super::events::{Event, Reason};
use super::reconcile::Context;
use super::shared::Shared;
use super::{Trigger, Why};
use crate::swarm::engine::{is_conflict, is_name_taken};

const HOLDER: &str = "io.shoal.lease.holder";
const RENEWED: &str = "io.shoal.lease.renewed";

/// What a lease attempt found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseState {
    /// This instance holds the lease.
    Held,
    /// Another instance holds it and renews it.
    HeldBy(String),
}

pub struct Lease {
    pub name: String,
    pub identity: String,
    pub ttl: Duration,
}

fn now_secs() -> u64 {
    super::unix_now().as_secs()
}

/// Whether a holder's lease counts: renewed within `ttl` of `now` (seconds). Pure.
pub fn is_live(renewed: Option<&str>, now: u64, ttl: Duration) -> bool {
    renewed
        .and_then(|r| r.parse::<u64>().ok())
        .is_some_and(|renewed| now.saturating_sub(renewed) < ttl.as_secs())
}

impl Lease {
    fn labels(&self, renewed: u64) -> HashMap<String, String> {
        HashMap::from([
            (HOLDER.to_string(), self.identity.clone()),
            (RENEWED.to_string(), renewed.to_string()),
            (
                crate::swarm::labels::MANAGED_BY.to_string(),
                crate::swarm::labels::MANAGER.to_string(),
            ),
        ])
    }

    /// One round: create the lease, renew ours, or take a stale one. Errors are engine
    /// errors; losing a race is `HeldBy`.
    pub async fn try_acquire(&self, docker: &Docker) -> Result<LeaseState, bollard::errors::Error> {
        let configs = docker
            .list_configs(Some(ListConfigsOptions {
                filters: Some(HashMap::from([(
                    "name".to_string(),
                    vec![self.name.clone()],
                )])),
            }))
            .await?;
        let Some(config) = configs
            .into_iter()
            .find(|c| c.spec.as_ref().and_then(|s| s.name.as_deref()) == Some(&self.name))
        else {
            let spec = ConfigSpec {
                name: Some(self.name.clone()),
                labels: Some(self.labels(now_secs())),
                data: Some(
                    base64::engine::general_purpose::STANDARD
                        .encode("the lease of shoal run: see its labels\n"),
                ),
                ..Default::default()
            };
            return match docker.create_config(spec).await {
                Ok(_) => Ok(LeaseState::Held),
                // Another instance created it first.
                Err(error) if is_name_taken(&error) || is_conflict(&error) => {
                    Ok(LeaseState::HeldBy("another instance".into()))
                }
                Err(error) => Err(error),
            };
        };
        let labels = config
            .spec
            .as_ref()
            .and_then(|s| s.labels.clone())
            .unwrap_or_default();
        let holder = labels.get(HOLDER).cloned().unwrap_or_default();
        if holder != self.identity
            && is_live(
                labels.get(RENEWED).map(String::as_str),
                now_secs(),
                self.ttl,
            )
        {
            return Ok(LeaseState::HeldBy(holder));
        }
        let version = config.version.and_then(|v| v.index).unwrap_or_default();
        let mut spec = config.spec.unwrap_or_default();
        spec.labels = Some(self.labels(now_secs()));
        let id = config.id.unwrap_or_default();
        match docker
            .update_config(
                &id,
                spec,
                UpdateConfigOptions {
                    version: version as i64,
                },
            )
            .await
        {
            Ok(()) => Ok(LeaseState::Held),
            Err(error) if is_conflict(&error) => Ok(LeaseState::HeldBy(holder)),
            Err(error) => Err(error),
        }
    }

    /// Gives the lease up (on shutdown), so another instance need not wait for `ttl`.
    pub async fn release(&self, docker: &Docker) {
        // A renewal sent just before may land first: read again and retry a few times.
        for _ in 0..3 {
            match self.try_release(docker).await {
                Err(error) if is_conflict(&error) => continue,
                _ => return,
            }
        }
    }

    /// One attempt at giving the lease up, if this instance holds it.
    async fn try_release(&self, docker: &Docker) -> Result<(), bollard::errors::Error> {
        let configs = docker
            .list_configs(Some(ListConfigsOptions {
                filters: Some(HashMap::from([(
                    "name".to_string(),
                    vec![self.name.clone()],
                )])),
            }))
            .await?;
        for config in configs {
            let Some(mut spec) = config.spec else {
                continue;
            };
            let ours = spec.labels.as_ref().and_then(|l| l.get(HOLDER)) == Some(&self.identity);
            if spec.name.as_deref() != Some(&self.name) || !ours {
                continue;
            }
            spec.labels = Some(self.labels(0));
            let version = config.version.and_then(|v| v.index).unwrap_or_default();
            let id = config.id.unwrap_or_default();
            docker
                .update_config(
                    &id,
                    spec,
                    UpdateConfigOptions {
                        version: version as i64,
                    },
                )
                .await?;
        }
        Ok(())
    }
}

/// Takes and renews the lease every third of its ttl, for as long as it runs; what it
/// finds goes to the readiness (leader or not) and, on a change, to the events.
pub async fn hold<E: Engine>(
    lease: Arc<Lease>,
    context: Arc<Context<E>>,
    triggers: UnboundedSender<Trigger>,
) {
    let shared = &context.shared;
    let mut held = false;
    let mut renewed = Instant::now();
    // Others take a lease over once it is a ttl old: step down well before that when
    // renewals fail (a partitioned manager must stop acting on its own). `renewed` is
    // when the last successful attempt started, before the timestamp it wrote was taken.
    let step_down_after = lease.ttl * 2 / 3;
    loop {
        let attempted = Instant::now();
        let step_down_at = renewed + step_down_after;
        // An attempt that hangs must not carry a holder past its step-down; one that
        // could not finish before it is not made.
        let bound = if held {
            (lease.ttl / 3).min(step_down_at.saturating_duration_since(attempted))
        } else {
            lease.ttl / 3
        };
        let attempt = if bound.is_zero() {
            None
        } else {
            Some(tokio::time::timeout(bound, context.engine.acquire(&lease)).await)
        };
        let mut failed = false;
        match attempt {
            None => failed = true,
            Some(Ok(Ok(LeaseState::Held))) => {
                renewed = attempted;
                shared.update_readiness(|r| {
                    r.lease_error = None;
                    r.leader = true;
                    r.lease_holder = Some(lease.identity.clone());
                });
                if !held {
                    held = true;
                    shared.record(Event::new(
                        Reason::LeaseAcquired,
                        None,
                        format!("{} holds lease {} and acts", lease.identity, lease.name),
                    ));
                    let _ = triggers.send(Trigger::All(Why::LeaseAcquired));
                }
            }
            Some(Ok(Ok(LeaseState::HeldBy(holder)))) => {
                if held || shared.readiness().lease_holder.as_deref() != Some(&holder) {
                    shared.record(Event::new(
                        Reason::LeaseWaiting,
                        None,
                        format!("waiting: lease {} is held by {holder}", lease.name),
                    ));
                }
                held = false;
                shared.update_readiness(|r| {
                    r.lease_error = None;
                    r.leader = false;
                    r.lease_holder = Some(holder);
                });
            }
            Some(Ok(Err(error))) => {
                failed = true;
                lease_failed(shared, error.to_string());
            }
            Some(Err(_)) => {
                failed = true;
                lease_failed(shared, "the engine did not answer in time".to_string());
            }
        }
        if held && renewed.elapsed() >= step_down_after {
            held = false;
            shared.update_readiness(|r| r.leader = false);
            shared.record(Event::new(
                Reason::LeaseWaiting,
                None,
                format!(
                    "stepped down: lease {} not renewed for {:.1}s",
                    lease.name,
                    renewed.elapsed().as_secs_f64()
                ),
            ));
        }
        // After a failure, try again sooner: one slow answer must not cost the lease.
        let next_attempt = attempted + if failed { lease.ttl / 6 } else { lease.ttl / 3 };
        let wake = if held {
            next_attempt.min(renewed + step_down_after)
        } else {
            next_attempt
        };
        tokio::time::sleep_until(wake.into()).await;
    }
}

fn lease_failed(shared: &Shared, error: String) {
    shared.update_readiness(|r| r.lease_error = Some(format!("cannot renew the lease: {error}")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_live_until_its_ttl_passes() {
        let ttl = Duration::from_secs(15);
        assert!(is_live(Some("1000"), 1010, ttl));
        assert!(!is_live(Some("1000"), 1015, ttl));
        assert!(!is_live(Some("0"), 1010, ttl));
        assert!(!is_live(None, 1010, ttl));
        assert!(!is_live(Some("garbage"), 1010, ttl));
    }
}
