//! The HTTP endpoints of `shoal run`: `/healthz` (the loop is alive), `/readyz` (desired
//! and live state loaded, engine reachable, lease held), `/metrics` (OpenMetrics),
//! `/api/v1/status` and `/api/v1/events` (newest first).

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::controller::shared::Shared;

/// The loop goes round at least every 5 s; three times that without a turn is stuck.
const STUCK_AFTER_SECS: u64 = 15;

pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/events", get(events))
        .with_state(shared)
}

type State = axum::extract::State<Arc<Shared>>;

async fn healthz(axum::extract::State(shared): State) -> impl IntoResponse {
    liveness(shared.since_heartbeat())
}

/// `/healthz` when the loop last went round `idle` seconds ago.
fn liveness(idle: u64) -> (StatusCode, String) {
    if idle < STUCK_AFTER_SECS {
        (StatusCode::OK, "ok\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the loop has not run for {idle}s\n"),
        )
    }
}

/// Why the instance is not ready, or `None`.
pub fn not_ready(shared: &Shared) -> Option<String> {
    let readiness = shared.readiness();
    if shared.snapshot().is_none() {
        return Some(match readiness.source_error {
            Some(error) => format!("no valid desired-state yet: {error}"),
            None => "desired-state not loaded yet".into(),
        });
    }
    if let Some(error) = readiness.events_error.or(readiness.engine_error) {
        return Some(format!("engine unreachable: {error}"));
    }
    if !readiness.leader {
        return Some(match (readiness.lease_error, readiness.lease_holder) {
            (Some(error), _) => format!("not acting: {error}"),
            (None, Some(holder)) => format!("standby: waiting for the lease held by {holder}"),
            (None, None) => "waiting for the lease".into(),
        });
    }
    None
}

async fn readyz(axum::extract::State(shared): State) -> impl IntoResponse {
    match not_ready(&shared) {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

async fn metrics(axum::extract::State(shared): State) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
}

async fn status(axum::extract::State(shared): State) -> impl IntoResponse {
    axum::Json(shared.instance_status())
}

async fn events(axum::extract::State(shared): State) -> impl IntoResponse {
    axum::Json(shared.events())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::shared::Snapshot;
    use crate::resources::Desired;

    #[test]
    fn a_stuck_loop_is_not_live() {
        assert_eq!(liveness(3), (StatusCode::OK, "ok\n".to_string()));
        assert_eq!(
            liveness(16),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the loop has not run for 16s\n".to_string()
            )
        );
    }

    #[test]
    fn readiness_says_what_is_missing_first() {
        let shared = Shared::new("test".into(), 8);
        shared.update_readiness(|r| r.source_error = Some("web.yaml:3:1: bad".into()));
        assert_eq!(
            not_ready(&shared).as_deref(),
            Some("no valid desired-state yet: web.yaml:3:1: bad")
        );
        shared.set_snapshot(Snapshot {
            desired: Desired::default(),
            revision: None,
        });
        shared.update_readiness(|r| r.engine_error = Some("connection refused".into()));
        assert_eq!(
            not_ready(&shared).as_deref(),
            Some("engine unreachable: connection refused")
        );
        shared.update_readiness(|r| {
            r.engine_error = None;
            r.events_error = Some("the events stream ended; waiting for the engine".into());
        });
        assert_eq!(
            not_ready(&shared).as_deref(),
            Some("engine unreachable: the events stream ended; waiting for the engine")
        );
        shared.update_readiness(|r| {
            r.events_error = None;
            r.lease_holder = Some("node2-812".into());
        });
        assert_eq!(
            not_ready(&shared).as_deref(),
            Some("standby: waiting for the lease held by node2-812")
        );
        shared.update_readiness(|r| r.leader = true);
        assert_eq!(not_ready(&shared), None);
    }
}
