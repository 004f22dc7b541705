//! Carrying out a plan against the engine, change by change, in the plan's order.
//!
//! Updates are optimistic (`?version=N`): swarm's own rollout bookkeeping bumps the
//! version too, so an "update out of sequence" is expected now and then; the service is
//! read again and the update retried, with backoff, a bounded number of times.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bollard::Docker;
use bollard::models::{NodeSpec as EngineNode, NodeSpecAvailabilityEnum};
use bollard::query_parameters::{InspectServiceOptions, UpdateNodeOptions, UpdateServiceOptions};

use crate::diff;
use crate::gluster::cli::GlusterCli;
use crate::observe::live::Live;
use crate::plan::{Action, Change, Plan};
use crate::resources::node::Availability;
use crate::resources::{Desired, Kind, Spec};
use crate::swarm::engine::EngineError;
use crate::swarm::keep;
use crate::swarm::labels;
use crate::swarm::render;

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// The changes made, in order.
    pub applied: Vec<Change>,
    /// Calls that changed something in the engine (creates, updates, removals).
    pub engine_writes: usize,
    /// Update conflicts met and retried.
    pub conflicts_retried: usize,
}

/// Applies every unblocked change of `plan`. `revision` is recorded on every object.
pub async fn apply(
    docker: &Docker,
    desired: &Desired,
    plan: &Plan,
    live: &Live,
    revision: Option<&str>,
) -> Result<ApplyReport, ApplyError> {
    // Services are written with the Secret and Config versions they should use.
    let bound = crate::plan::bind::bind(desired, live);
    let applier = Applier {
        docker,
        desired: &bound,
        live,
        revision,
        writes: AtomicUsize::new(0),
        conflicts: AtomicUsize::new(0),
    };
    let mut applied = Vec::new();
    for change in plan.changes.iter().filter(|c| c.blocked.is_none()) {
        applier
            .apply_change(change)
            .await
            .map_err(|source| ApplyError {
                change: format!("{}/{}", change.kind, change.name),
                action: change.action,
                source,
                engine_writes: applier.writes.load(Ordering::Relaxed),
            })?;
        tracing::info!(kind = %change.kind, name = %change.name, action = ?change.action, "applied");
        applied.push(change.clone());
    }
    Ok(ApplyReport {
        applied,
        engine_writes: applier.writes.load(Ordering::Relaxed),
        conflicts_retried: applier.conflicts.load(Ordering::Relaxed),
    })
}

/// A change that failed; those before it were made.
#[derive(Debug, thiserror::Error)]
#[error("{action:?} {change} failed: {source}")]
pub struct ApplyError {
    pub change: String,
    pub action: Action,
    #[source]
    pub source: EngineError,
    pub engine_writes: usize,
}

struct Applier<'a> {
    docker: &'a Docker,
    desired: &'a Desired,
    live: &'a Live,
    revision: Option<&'a str>,
    writes: AtomicUsize,
    conflicts: AtomicUsize,
}

/// Fault injection for tests: `SHOAL_FAULT_UPDATE_DELAY=400ms` waits that long between
/// reading a service's version and writing the update, so a concurrent writer reliably
/// causes the "update out of sequence" conflicts the retry exists for.
/// `SHOAL_FAULT_CREATE_DELAY` waits before each service creation, so a test can kill
/// shoal in the middle of an apply.
fn fault_delay(variable: &str) -> Option<Duration> {
    let text = std::env::var(variable).ok()?;
    humantime::parse_duration(&text).ok()
}

pub(crate) fn conflict_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(8)
        .with_jitter()
}

impl Applier<'_> {
    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    fn spec(&self, kind: Kind, name: &str) -> Option<&Spec> {
        self.desired
            .resources
            .iter()
            .find(|r| r.kind() == kind && r.name() == name)
            .map(|r| &r.spec)
    }

    async fn apply_change(&self, change: &Change) -> Result<(), EngineError> {
        let name = change.name.as_str();
        match (change.kind, change.action) {
            (Kind::Node, _) => {
                let Some(Spec::Node(spec)) = self.spec(Kind::Node, name) else {
                    return Ok(());
                };
                let hostname = spec.hostname.clone().unwrap_or_else(|| name.to_string());
                (|| self.update_node(&hostname, spec))
                    .retry(conflict_backoff())
                    .when(EngineError::is_conflict)
                    .notify(|_, _| {
                        self.conflicts.fetch_add(1, Ordering::Relaxed);
                    })
                    .await
            }
            (Kind::Network, Action::Delete) => self.remove_network(name).await,
            (Kind::Network, action) => {
                if action == Action::Replace {
                    self.remove_network(name).await?;
                }
                let Some(desired @ Spec::Network(spec)) = self.spec(Kind::Network, name) else {
                    return Ok(());
                };
                let hash = diff::desired_hash(desired);
                let request =
                    render::network(name, spec, labels::managed(name, &hash, self.revision));
                self.wrote();
                self.docker
                    .create_network(request)
                    .await
                    .map_err(EngineError::call(format!("creating network {name}")))?;
                Ok(())
            }
            (Kind::Service, Action::Delete) => self.delete_service(name).await,
            (Kind::Service, action) => {
                if action == Action::Replace {
                    self.delete_service(name).await?;
                }
                if action == Action::Update || action == Action::Adopt {
                    return (|| self.update_service(name))
                        .retry(conflict_backoff())
                        .when(EngineError::is_conflict)
                        .notify(|error, delay| {
                            self.conflicts.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(service = name, %error, ?delay, "update conflict, retrying");
                        })
                        .await;
                }
                self.create_service(name).await
            }
            (kind @ (Kind::Secret | Kind::Config), Action::Delete) => {
                self.wrote();
                crate::swarm::data::remove(self.docker, kind, name).await
            }
            (kind @ (Kind::Secret | Kind::Config), _) => {
                let Some(Spec::Secret(spec) | Spec::Config(spec)) = self.spec(kind, name) else {
                    return Ok(());
                };
                self.wrote();
                crate::swarm::data::create(self.docker, kind, name, spec, self.revision).await
            }
            (Kind::GlusterVolume, _) => {
                let Some(Spec::GlusterVolume(_)) = self.spec(Kind::GlusterVolume, name) else {
                    return Ok(());
                };
                let writes =
                    crate::gluster::apply::apply(&GlusterCli::default(), name, &change.volume_ops)
                        .await?;
                self.writes.fetch_add(writes, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Service-level labels: the user's, plus shoal's bookkeeping.
    fn service_labels(
        &self,
        name: &str,
        spec: &crate::resources::ServiceSpec,
    ) -> HashMap<String, String> {
        let hash = diff::service_hash(spec);
        let mut all = labels::managed(name, &hash, self.revision);
        if let Some(check) = &spec.healthcheck {
            let json = serde_json::to_string(check).expect("a health check always serializes");
            all.insert(labels::HEALTHCHECK.to_string(), json);
        }
        all.extend(spec.labels.clone());
        all
    }

    async fn create_service(&self, name: &str) -> Result<(), EngineError> {
        let Some(Spec::Service(spec)) = self.spec(Kind::Service, name) else {
            return Ok(());
        };
        // Networks (secrets, configs) this apply just created are not in the observed
        // state: read them now.
        let live = self.refreshed_networks().await?;
        let engine = render::service(name, spec, self.service_labels(name, spec), None, &live)
            .map_err(|e| EngineError::Refused(format!("creating service {name}: {e}")))?;
        if let Some(delay) = fault_delay("SHOAL_FAULT_CREATE_DELAY") {
            tokio::time::sleep(delay).await;
        }
        self.wrote();
        self.docker
            .create_service(engine, None)
            .await
            .map_err(EngineError::call(format!("creating service {name}")))?;
        Ok(())
    }

    async fn refreshed_networks(&self) -> Result<Live, EngineError> {
        let networks = self
            .docker
            .list_networks(None)
            .await
            .map_err(EngineError::call("listing networks"))?;
        if self.desired.data().next().is_none() {
            return Ok(Live {
                networks,
                secrets: self.live.secrets.clone(),
                configs: self.live.configs.clone(),
                ..Live::default()
            });
        }
        let (secrets, configs) = tokio::join!(
            self.docker.list_secrets(None),
            self.docker.list_configs(None)
        );
        Ok(Live {
            networks,
            secrets: secrets.map_err(EngineError::call("listing secrets"))?,
            configs: configs.map_err(EngineError::call("listing configs"))?,
            ..Live::default()
        })
    }

    /// One update attempt: read the current version, render, write.
    async fn update_service(&self, name: &str) -> Result<(), EngineError> {
        let Some(Spec::Service(spec)) = self.spec(Kind::Service, name) else {
            return Ok(());
        };
        let current = self
            .docker
            .inspect_service(name, None::<InspectServiceOptions>)
            .await
            .map_err(EngineError::call(format!("reading service {name}")))?;
        let version = current.version.and_then(|v| v.index).unwrap_or_default();
        let force_update = current
            .spec
            .as_ref()
            .and_then(|s| s.task_template.as_ref())
            .and_then(|t| t.force_update);
        if let Some(delay) = fault_delay("SHOAL_FAULT_UPDATE_DELAY") {
            tokio::time::sleep(delay).await;
        }
        let live = self.refreshed_networks().await?;
        let mut engine = render::service(
            name,
            spec,
            self.service_labels(name, spec),
            force_update,
            &live,
        )
        .map_err(|e| EngineError::Refused(format!("updating service {name}: {e}")))?;
        let current = current.spec.unwrap_or_default();
        let changes = diff::service(
            &crate::diff::observed::service(&current, &live.network_names()),
            spec,
        );
        keep::keep_unchanged(&current, &mut engine, &keep::changed_fields(&changes));
        self.wrote();
        self.docker
            .update_service(
                name,
                engine,
                UpdateServiceOptions {
                    version: version as i32,
                    ..Default::default()
                },
                None,
            )
            .await
            .map_err(EngineError::call(format!("updating service {name}")))?;
        Ok(())
    }

    async fn delete_service(&self, name: &str) -> Result<(), EngineError> {
        self.wrote();
        self.docker
            .delete_service(name)
            .await
            .map_err(EngineError::call(format!("deleting service {name}")))
    }

    /// Removes a network; while the tasks of services deleted just before still hold it,
    /// the engine says "in use": retried, bounded.
    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        let id = self
            .live
            .network(name)
            .and_then(|n| n.id.clone())
            .unwrap_or_else(|| name.to_string());
        let in_use = |error: &EngineError| {
            matches!(error, EngineError::Call { source: bollard::errors::Error::DockerResponseServerError { message, .. }, .. }
                if message.contains("in use") || message.contains("active endpoints"))
        };
        (|| async {
            self.wrote();
            self.docker
                .remove_network(&id)
                .await
                .map_err(EngineError::call(format!("removing network {name}")))
        })
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(12),
        )
        .when(in_use)
        .await
    }

    /// Sets the declared labels and availability, removes labels shoal set before and no
    /// longer declares, and leaves every other label alone.
    async fn update_node(
        &self,
        hostname: &str,
        spec: &crate::resources::NodeSpec,
    ) -> Result<(), EngineError> {
        let nodes = self
            .docker
            .list_nodes(None)
            .await
            .map_err(EngineError::call("listing nodes"))?;
        let live = Live {
            nodes,
            ..Live::default()
        };
        let Some(node) = live.node_by_hostname(hostname) else {
            return Ok(());
        };
        let current = node.spec.clone().unwrap_or_default();
        let mut node_labels = current.labels.clone().unwrap_or_default();
        if let Some(owned) = node_labels.get(labels::NODE_LABELS).cloned() {
            for key in owned.split(',').filter(|k| !k.is_empty()) {
                node_labels.remove(key);
            }
        }
        node_labels.extend(spec.labels.clone());
        let owned: BTreeSet<&str> = spec.labels.keys().map(String::as_str).collect();
        node_labels.insert(
            labels::NODE_LABELS.to_string(),
            owned.into_iter().collect::<Vec<_>>().join(","),
        );
        let updated = EngineNode {
            labels: Some(node_labels),
            availability: Some(match spec.availability {
                Availability::Active => NodeSpecAvailabilityEnum::ACTIVE,
                Availability::Pause => NodeSpecAvailabilityEnum::PAUSE,
                Availability::Drain => NodeSpecAvailabilityEnum::DRAIN,
            }),
            ..current
        };
        let id = node.id.clone().unwrap_or_default();
        let version = node
            .version
            .as_ref()
            .and_then(|v| v.index)
            .unwrap_or_default();
        self.wrote();
        self.docker
            .update_node(
                &id,
                updated,
                UpdateNodeOptions {
                    version: version as i64,
                },
            )
            .await
            .map_err(EngineError::call(format!("updating node {hostname}")))
    }
}
