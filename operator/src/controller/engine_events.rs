//! The Docker events stream as a trigger: each engine event is mapped to the resources
//! it touches. The stream is reopened with backoff when it ends or fails, and every
//! reopening is followed by a full relist (events missed meanwhile are not replayed).

use std::collections::HashMap;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bollard::Docker;
use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use super::events::{Event, Reason};
use super::shared::Shared;
use super::status::ResourceKey;
use super::{Trigger, Why};
use crate::resources::data::{is_version_of, is_versioned};
use crate::resources::{Desired, Kind};

/// The resources an engine event touches. Pure.
pub fn keys_for_event(event: &EventMessage, desired: &Desired) -> Vec<ResourceKey> {
    let attributes = event
        .actor
        .as_ref()
        .and_then(|a| a.attributes.as_ref())
        .cloned()
        .unwrap_or_default();
    let name = attributes.get("name").cloned().unwrap_or_default();
    let action = event.action.as_deref().unwrap_or_default();
    match event.typ {
        Some(EventMessageTypeEnum::SERVICE) if !name.is_empty() => {
            vec![ResourceKey::new(Kind::Service, name)]
        }
        // A network created or removed: itself, and the services waiting on it or using
        // it.
        Some(EventMessageTypeEnum::NETWORK) if !name.is_empty() => {
            let services = desired
                .services()
                .filter(|(_, spec)| spec.networks.contains(&name))
                .map(|(r, _)| ResourceKey::new(Kind::Service, r.name()));
            std::iter::once(ResourceKey::new(Kind::Network, name.clone()))
                .chain(services)
                .collect()
        }
        Some(EventMessageTypeEnum::NODE) => {
            // Node events name the node by hostname; a Node resource may rename it.
            desired
                .node_with_hostname(&name)
                .map(|(r, _)| ResourceKey::new(Kind::Node, r.name()))
                .into_iter()
                .collect()
        }
        // A task's container died or was killed for memory: its service's health.
        Some(EventMessageTypeEnum::CONTAINER) if matches!(action, "die" | "oom") => attributes
            .get("com.docker.swarm.service.name")
            .map(|service| vec![ResourceKey::new(Kind::Service, service.clone())])
            .unwrap_or_default(),
        // A secret or config created or removed: itself (a version: its resource), and the
        // services waiting on it, or using it.
        Some(EventMessageTypeEnum::SECRET) => data_keys(Kind::Secret, &name, desired),
        Some(EventMessageTypeEnum::CONFIG) => data_keys(Kind::Config, &name, desired),
        _ => Vec::new(),
    }
}

/// The keys a secret's or config's event touches: the object itself (an old version is
/// a leftover), the resource it is a version of, and the services naming either.
fn data_keys(kind: Kind, object: &str, desired: &Desired) -> Vec<ResourceKey> {
    let resource = desired
        .data()
        .find(|(r, _)| r.kind() == kind && is_version_of(object, r.name()))
        .map(|(r, _)| r.name().to_string());
    let named = |source: &str| source == object || resource.as_deref() == Some(source);
    let services = desired.services().filter(|(_, spec)| match kind {
        Kind::Secret => spec.secret_names().any(named),
        _ => spec.configs.iter().any(|c| named(&c.source)),
    });
    let services: Vec<ResourceKey> = services
        .map(|(r, _)| ResourceKey::new(Kind::Service, r.name()))
        .collect();
    // Only what looks like a version: the lease, a config too, is renewed every few seconds.
    is_versioned(object)
        .then(|| ResourceKey::new(kind, object))
        .into_iter()
        .chain(resource.map(|name| ResourceKey::new(kind, name)))
        .chain(services)
        .collect()
}

fn filters() -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "type".to_string(),
        [
            "service",
            "node",
            "container",
            "network",
            "secret",
            "config",
        ]
        .map(String::from)
        .to_vec(),
    )])
}

/// Follows the events stream forever, sending triggers. Returns when `triggers` closes.
pub async fn follow(
    docker: Docker,
    shared: std::sync::Arc<Shared>,
    triggers: UnboundedSender<Trigger>,
) {
    let mut backoff = reconnect_backoff();
    let mut lost = false;
    loop {
        if lost {
            // Wait for the engine to answer again before calling the stream reopened.
            tokio::time::sleep(backoff.next().unwrap_or(Duration::from_secs(30))).await;
            if docker.ping().await.is_err() {
                continue;
            }
        }
        let mut stream = docker.events(Some(EventsOptions {
            filters: Some(filters()),
            ..Default::default()
        }));
        if lost {
            backoff = reconnect_backoff();
            shared.update_readiness(|r| r.events_error = None);
            shared.metrics.event_stream_reconnects.inc();
            shared.record(Event::new(
                Reason::EventStreamReconnected,
                None,
                "the engine's events stream is open again: relisting everything",
            ));
            // What happened while the stream was down is found by looking at everything.
            if triggers.send(Trigger::All(Why::Reconnected)).is_err() {
                return;
            }
        }
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => {
                    if event.typ == Some(EventMessageTypeEnum::NODE) {
                        shared.node_event.notify_one();
                    }
                    let Some(snapshot) = shared.snapshot() else {
                        continue;
                    };
                    for key in keys_for_event(&event, &snapshot.desired) {
                        tracing::debug!(%key, action = ?event.action, "engine event");
                        if triggers.send(Trigger::Key(key, Why::EngineEvent)).is_err() {
                            return;
                        }
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, "events stream failed");
                    break;
                }
            }
        }
        lost = true;
        // Not ready until the engine answers again (a reconcile may not come for minutes).
        shared.update_readiness(|r| {
            r.events_error = Some("the events stream ended; waiting for the engine".into())
        });
        shared.record(Event::new(
            Reason::EngineUnreachable,
            None,
            "the engine's events stream ended: reopening it once the engine answers",
        ));
    }
}

fn reconnect_backoff() -> backon::ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::recorded::{self, ENGINES};
    use crate::source::validate::{ValidateOptions, validate_dir};
    use std::path::PathBuf;

    #[test]
    fn engine_events_map_to_the_resources_they_touch() {
        let desired = validate_dir(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lab-desired"),
            &ValidateOptions::default(),
        )
        .unwrap()
        .desired;
        // Recorded from each lab engine by tests/fixtures/record: a service update, a
        // task's container dying and one starting, a node update, a network removed, a
        // secret created.
        for engine in ENGINES {
            let keys: Vec<Vec<String>> = recorded::events(engine)
                .iter()
                .map(|e| {
                    keys_for_event(e, &desired)
                        .iter()
                        .map(|k| k.to_string())
                        .collect()
                })
                .collect();
            assert_eq!(
                keys,
                [
                    vec!["Service/web"],
                    vec!["Service/web"],
                    vec![],
                    vec!["Node/node2"],
                    // web joins appnet.
                    vec!["Network/appnet", "Service/web"],
                    vec!["Service/web"],
                ],
                "engine {engine}"
            );
        }
    }
}
