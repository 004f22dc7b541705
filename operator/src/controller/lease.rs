//! The lease that lets exactly one `shoal run` act on a swarm. It is a swarm config
//! (`shoal-lease`) whose labels name the holder and when it last renewed. Swarm lets a
//! config's labels change under optimistic concurrency (`?version=N`), so taking and
//! renewing are compare-and-swap writes: of two instances racing for a stale lease, one
//! write fails "out of sequence". A lease not renewed for `ttl` is stale and may be taken.
//! Timestamps come from each instance's clock: managers' clocks must agree within a few
//! seconds (NTP), as swarm's own certificates need anyway.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bollard::Docker;
use bollard::models::ConfigSpec;
use bollard::query_parameters::{ListConfigsOptions, UpdateConfigOptions};

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
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
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
                Err(error) if is_conflict(&error) => {
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
        let Ok(configs) = docker
            .list_configs(Some(ListConfigsOptions {
                filters: Some(HashMap::from([(
                    "name".to_string(),
                    vec![self.name.clone()],
                )])),
            }))
            .await
        else {
            return;
        };
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
            let _ = docker
                .update_config(
                    &id,
                    spec,
                    UpdateConfigOptions {
                        version: version as i64,
                    },
                )
                .await;
        }
    }
}

fn is_conflict(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { status_code, message }
        if *status_code == 409 || message.contains("out of sequence") || message.contains("already exists"))
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
