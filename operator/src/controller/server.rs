//! The HTTP endpoints of `shoal run`: `/healthz` (the loop is alive), `/readyz` (desired
//! and live state loaded, engine reachable, lease held), `/metrics` (OpenMetrics),
//! `/api/v1/status` and `/api/v1/events` (newest first), `/api/v1/events/stream` (the
//! same events live, as server-sent events), `/api/v1/nodes`, `/api/v1/volumes` and
//! `/api/v1/plan` (controller/views), the dashboard at `/` (controller/dashboard.rs), and
//! the push webhook `POST /api/v1/webhook/git` (controller/webhook.rs).

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::controller::shared::Shared;

/// Push events are a few KiB; GitHub caps them at 25 MB, but one that large lists
/// thousands of commits shoal does not read. Larger bodies get 413 unread.
const WEBHOOK_BODY_LIMIT: usize = 1 << 20;

/// The loop goes round at least every 5 s; three times that without a turn is stuck.
const STUCK_AFTER_SECS: u64 = 15;

pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/stream", get(event_stream))
        .route("/api/v1/nodes", get(nodes))
        .route("/api/v1/volumes", get(volumes))
        .route("/api/v1/plan", get(plan))
        .route(
            "/api/v1/webhook/git",
            post(webhook).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)),
        )
        .merge(super::dashboard::routes())
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

/// Every event from now on, as it is recorded: `event: event` with the event's JSON (a
/// repeat comes again with its id and a higher count), `event: lagged` with how many a
/// slow reader missed (it should read `/api/v1/events` again).
async fn event_stream(axum::extract::State(shared): State) -> impl IntoResponse {
    use axum::response::sse::{Event as Sent, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let stream = futures_util::stream::unfold(shared.subscribe_events(), |mut events| async {
        let sent = match events.recv().await {
            Ok(event) => Sent::default().event("event").json_data(event),
            Err(RecvError::Lagged(missed)) => {
                Ok(Sent::default().event("lagged").data(missed.to_string()))
            }
            Err(RecvError::Closed) => return None,
        };
        Some((sent, events))
    });
    // A proxy in front (docs/run.md) must pass events on as they come, not buffer them.
    (
        [("x-accel-buffering", "no")],
        Sse::new(stream).keep_alive(KeepAlive::default()),
    )
}

async fn nodes(axum::extract::State(shared): State) -> axum::response::Response {
    let now = std::time::SystemTime::now();
    off_the_workers(shared.observed(), move |o| super::views::nodes(o, now)).await
}

async fn volumes(axum::extract::State(shared): State) -> axum::response::Response {
    off_the_workers(shared.observed(), super::views::volumes).await
}

/// `view` of `observed` as JSON, made on a blocking thread: a view reads the plan, which
/// the first to ask makes, and planning a large observation is CPU work.
async fn off_the_workers<T: serde::Serialize + Send + 'static>(
    observed: Option<Arc<super::observation::Observed>>,
    view: impl FnOnce(Option<&super::observation::Observed>) -> T + Send + 'static,
) -> axum::response::Response {
    match tokio::task::spawn_blocking(move || view(observed.as_deref())).await {
        Ok(view) => axum::Json(view).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("planning failed: {error}\n"),
        )
            .into_response(),
    }
}

/// The plan from the newest observation; 503 before the first (or on a standby, which
/// does not observe).
async fn plan(axum::extract::State(shared): State) -> axum::response::Response {
    let Some(observed) = shared.observed() else {
        let why = not_ready(&shared).unwrap_or_else(|| "no observation yet".into());
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no plan yet: {why}\n"),
        )
            .into_response();
    };
    // Planning is CPU work on a large observation: off the async workers.
    let rendered = tokio::task::spawn_blocking(move || super::views::plan(&observed)).await;
    match rendered {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("planning failed: {error}\n"),
        )
            .into_response(),
    }
}

/// `POST /api/v1/webhook/git`: a signed push to the followed ref makes the git loop
/// fetch now; anything else changes nothing.
async fn webhook(
    axum::extract::State(shared): State,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    use super::webhook::Verdict;
    let count = |result| {
        shared
            .metrics
            .webhook_requests
            .get_or_create(&super::metrics::WebhookLabel { result })
            .inc();
    };
    let Some(listener) = shared.webhook.get() else {
        return (
            StatusCode::NOT_FOUND,
            "no webhook here: shoal run has it with --git-url and --webhook-secret-file\n".into(),
        );
    };
    if !listener.admit() {
        count("rate_limited");
        return (StatusCode::TOO_MANY_REQUESTS, "too many requests\n".into());
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match listener.decide(&header, &body) {
        Verdict::Fetch { reference } => {
            count("fetch");
            shared.fetch_now.notify_one();
            tracing::info!(reference, "webhook: a push, fetching now");
            (
                StatusCode::ACCEPTED,
                format!("fetching: a push to {reference}\n"),
            )
        }
        Verdict::Pong => {
            count("ignored");
            (StatusCode::OK, "pong\n".into())
        }
        Verdict::Ignored(why) => {
            count("ignored");
            (StatusCode::OK, format!("{why}\n"))
        }
        Verdict::Unauthorized(why) => {
            count("unauthorized");
            tracing::warn!(why, "webhook request refused");
            (StatusCode::UNAUTHORIZED, format!("unauthorized: {why}\n"))
        }
    }
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

    /// A real listener on loopback, as forges reach it.
    async fn serve(shared: Arc<Shared>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(shared)).await });
        format!("http://{address}/api/v1/webhook/git")
    }

    #[tokio::test]
    async fn the_dashboard_is_served_and_events_arrive_live_with_their_counts() {
        use futures_util::StreamExt;
        let shared = Arc::new(Shared::new("test".into(), 8));
        let base = serve(shared.clone())
            .await
            .replace("/api/v1/webhook/git", "");
        let client = reqwest::Client::new();
        let page = client.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            policy.starts_with("default-src 'none'; script-src 'self';"),
            "{policy}"
        );
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("<script src=\"/dashboard.js\" defer>")
        );
        let script = client
            .get(format!("{base}/dashboard.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );

        // Before any observation: no nodes, and no plan (with why).
        let nodes: serde_json::Value = client
            .get(format!("{base}/api/v1/nodes"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            nodes,
            serde_json::json!({"observed_at": null, "nodes": [], "unassigned": []})
        );
        let plan = client
            .get(format!("{base}/api/v1/plan"))
            .send()
            .await
            .unwrap();
        assert_eq!(plan.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            plan.text().await.unwrap(),
            "no plan yet: desired-state not loaded yet\n"
        );

        let stream = client
            .get(format!("{base}/api/v1/events/stream"))
            .send()
            .await
            .unwrap();
        assert_eq!(stream.headers()[header::CONTENT_TYPE], "text/event-stream");
        let mut body = stream.bytes_stream();
        let drift = || {
            crate::controller::events::Event::new(
                crate::controller::events::Reason::DriftDetected,
                Some("Service/web".into()),
                "live differs from desired-state",
            )
        };
        shared.record(drift());
        shared.record(drift());
        let mut text = String::new();
        while text.matches("event: event").count() < 2 {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
                .await
                .expect("the stream sends within 5 s")
                .unwrap()
                .unwrap();
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        let sent: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|data| serde_json::from_str(data).unwrap())
            .collect();
        let seen: Vec<(u64, &str, u64)> = sent
            .iter()
            .map(|e| {
                (
                    e["id"].as_u64().unwrap(),
                    e["reason"].as_str().unwrap(),
                    e["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(seen, [(1, "DriftDetected", 1), (1, "DriftDetected", 2)]);
    }

    fn signed(body: &str, secret: &[u8]) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(body.as_bytes());
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[tokio::test]
    async fn the_webhook_fetches_on_a_signed_push_and_refuses_the_rest() {
        let client = reqwest::Client::new();
        let post = |url: &str, body: String, signature: String| {
            client
                .post(url)
                .header("X-GitHub-Event", "push")
                .header("X-Hub-Signature-256", signature)
                .body(body)
                .send()
        };
        let body = r#"{"ref":"refs/heads/main","repository":{"default_branch":"main"}}"#;
        // Without a webhook secret, there is none.
        let off = serve(Arc::new(Shared::new("test".into(), 8))).await;
        let answer = post(&off, body.into(), signed(body, b"s")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);

        let secret = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(secret.path(), "s3cret\n").unwrap();
        let shared = Arc::new(Shared::new("test".into(), 8));
        let listener =
            crate::controller::webhook::Listener::from_file(secret.path(), Some("main".into()));
        assert!(shared.webhook.set(listener.unwrap()).is_ok());
        let url = serve(shared.clone()).await;

        let wrong = post(&url, body.into(), signed(body, b"s3cret\n"))
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            wrong.text().await.unwrap(),
            "unauthorized: the signature does not match the body and the secret\n"
        );
        let fetch = post(&url, body.into(), signed(body, b"s3cret"))
            .await
            .unwrap();
        assert_eq!(fetch.status(), StatusCode::ACCEPTED);
        let woken = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            shared.fetch_now.notified(),
        );
        assert!(woken.await.is_ok(), "the git loop is woken");

        let large = format!("{{\"ref\":\"{}\"}}", "x".repeat(WEBHOOK_BODY_LIMIT));
        let signature = signed(&large, b"s3cret");
        let too_large = post(&url, large, signature).await.unwrap();
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);

        // A burst beyond the limit: refused before its signature is even checked.
        let mut statuses = Vec::new();
        for _ in 0..12 {
            let answer = post(&url, body.into(), "sha256=00".into()).await.unwrap();
            statuses.push(answer.status());
        }
        assert!(
            statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
            "{statuses:?}"
        );
        let metrics = shared.metrics.encode();
        assert!(
            metrics.contains("shoal_webhook_requests_total{result=\"fetch\"} 1"),
            "{metrics}"
        );
    }
}
