//! The Prometheus metrics of `shoal run`, `shoal_` prefixed, in base units, served as
//! OpenMetrics text at /metrics.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::status::{Health, Sync};
use crate::resources::Kind;

/// How a reconcile ended, the `result` label of `shoal_reconciles_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values users query
pub enum ReconcileResult {
    synced,
    applied,
    drift,
    waiting,
    rolled_back,
    rejected,
    error,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindResult {
    pub kind: Kind,
    pub result: ReconcileResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: Kind,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceState {
    pub kind: Kind,
    pub sync: Sync,
    pub health: Health,
}

/// Label values are the names users see everywhere else (`Service`, `OutOfSync`).
fn encode_name(name: &dyn std::fmt::Debug, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
    use std::fmt::Write;
    write!(encoder, "{name:?}")
}

impl EncodeLabelValue for Kind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        use std::fmt::Write;
        encoder.write_str(self.as_str())
    }
}

impl EncodeLabelValue for Sync {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encode_name(self, encoder)
    }
}

impl EncodeLabelValue for Health {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encode_name(self, encoder)
    }
}

/// How a notification ended, the `result` label of `shoal_notifications_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values users query
pub enum NotificationResult {
    sent,
    failed,
    dropped,
    suppressed,
}

/// `target` is the webhook's host (its URL is a credential).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    pub target: String,
    pub result: NotificationResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RevisionLabel {
    pub revision: String,
}

/// What became of a webhook request: fetch, ignored, unauthorized, rate_limited.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabel {
    pub result: &'static str,
}

/// Every metric, registered once.
pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<KindResult, Counter>,
    pub reconcile_duration: Family<KindLabel, Histogram>,
    pub drift_events: Family<KindLabel, Counter>,
    pub queue_depth: Gauge,
    pub resources: Family<ResourceState, Gauge>,
    pub git_last_sync: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub revision: Family<RevisionLabel, Gauge>,
    pub event_stream_reconnects: Counter,
    pub observations: Counter,
    pub webhook_requests: Family<WebhookLabel, Counter>,
    pub notifications: Family<NotificationLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("shoal");
        let reconciles = Family::<KindResult, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by kind and result (synced, applied, drift, waiting, rolled_back, rejected, error)",
            reconciles.clone(),
        );
        let reconcile_duration = Family::<KindLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        registry.register(
            "reconcile_duration_seconds",
            "Time of one reconcile: observe, plan and apply",
            reconcile_duration.clone(),
        );
        let drift_events = Family::<KindLabel, Counter>::default();
        registry.register(
            "drift_events",
            "Live changes found that desired-state did not make",
            drift_events.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Resources waiting for or in a reconcile",
            queue_depth.clone(),
        );
        let resources = Family::<ResourceState, Gauge>::default();
        registry.register(
            "resources",
            "Resources by kind, sync and health",
            resources.clone(),
        );
        let git_last_sync = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "git_last_sync_timestamp_seconds",
            "When the last git fetch succeeded (Unix time)",
            git_last_sync.clone(),
        );
        let revision = Family::<RevisionLabel, Gauge>::default();
        registry.register(
            "revision_info",
            "The desired-state revision in force (value 1)",
            revision.clone(),
        );
        let event_stream_reconnects = Counter::default();
        registry.register(
            "event_stream_reconnects",
            "Times the Docker events stream was lost and opened again",
            event_stream_reconnects.clone(),
        );
        let observations = Counter::default();
        registry.register(
            "observations",
            "Full observations of the live state (shared by the reconciles of a burst)",
            observations.clone(),
        );
        let webhook_requests = Family::<WebhookLabel, Counter>::default();
        registry.register(
            "webhook_requests",
            "Push webhook requests by what became of them (fetch, ignored, unauthorized, rate_limited)",
            webhook_requests.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "notifications",
            "Notifications by target host and result: sent, failed (after retries), dropped \
             (the target's queue was full), suppressed (over the rate limit, told in a summary)",
            notifications.clone(),
        );
        Metrics {
            webhook_requests,
            registry,
            notifications,
            observations,
            reconciles,
            reconcile_duration,
            drift_events,
            queue_depth,
            resources,
            git_last_sync,
            revision,
            event_stream_reconnects,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    pub fn set_revision(&self, revision: &str) {
        self.revision.clear();
        self.revision
            .get_or_create(&RevisionLabel {
                revision: revision.to_string(),
            })
            .set(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_prefixed_and_in_base_units() {
        let metrics = Metrics::default();
        metrics
            .reconciles
            .get_or_create(&KindResult {
                kind: Kind::Service,
                result: ReconcileResult::rolled_back,
            })
            .inc();
        metrics
            .reconcile_duration
            .get_or_create(&KindLabel {
                kind: Kind::GlusterVolume,
            })
            .observe(0.02);
        metrics
            .resources
            .get_or_create(&ResourceState {
                kind: Kind::Network,
                sync: Sync::OutOfSync,
                health: Health::Degraded,
            })
            .set(2);
        metrics.set_revision("abc123");
        metrics.event_stream_reconnects.inc();
        metrics
            .notifications
            .get_or_create(&NotificationLabels {
                target: "hooks.slack.com".into(),
                result: NotificationResult::suppressed,
            })
            .inc();
        let text = metrics.encode();
        for line in [
            "shoal_reconciles_total{kind=\"Service\",result=\"rolled_back\"} 1",
            "shoal_reconcile_duration_seconds_count{kind=\"GlusterVolume\"} 1",
            "shoal_resources{kind=\"Network\",sync=\"OutOfSync\",health=\"Degraded\"} 2",
            "shoal_revision_info{revision=\"abc123\"} 1",
            "shoal_event_stream_reconnects_total 1",
            "shoal_notifications_total{target=\"hooks.slack.com\",result=\"suppressed\"} 1",
            "# TYPE shoal_git_last_sync_timestamp_seconds gauge",
            "# TYPE shoal_queue_depth gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing in:\n{text}"
            );
        }
    }
}
