//! A webhook receiver for the tests: an axum server on 127.0.0.1 that answers each
//! request with the next planned status (200 once the plan is used up) and records what
//! it was sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc;

/// One request: its path, its body, what it was answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub path: String,
    pub body: Value,
    pub answered: u16,
}

#[derive(Clone)]
struct Plan {
    answers: Arc<Mutex<VecDeque<(u16, &'static str)>>>,
    received: mpsc::UnboundedSender<Request>,
}

pub struct Receiver {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    received: mpsc::UnboundedReceiver<Request>,
}

impl Receiver {
    /// Serves until the test's runtime ends; answers with `answers` (status, body) in turn.
    pub async fn start(answers: &[(u16, &'static str)]) -> Receiver {
        let (sender, received) = mpsc::unbounded_channel();
        let plan = Plan {
            answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
            received: sender,
        };
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::post(hook))
            .with_state(plan);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { base, received }
    }

    /// The next request; a test that waits longer than a minute has failed.
    pub async fn next(&mut self) -> Request {
        tokio::time::timeout(Duration::from_secs(60), self.received.recv())
            .await
            .expect("a request within a minute")
            .expect("the receiver runs")
    }

    /// The requests received so far, without waiting.
    pub fn so_far(&mut self) -> Vec<Request> {
        std::iter::from_fn(|| self.received.try_recv().ok()).collect()
    }
}

async fn hook(
    State(plan): State<Plan>,
    Path(path): Path<String>,
    body: axum::body::Bytes,
) -> (StatusCode, &'static str) {
    let (answered, text) = plan
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, "ok"));
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = plan.received.send(Request {
        path: format!("/{path}"),
        body,
        answered,
    });
    (StatusCode::from_u16(answered).unwrap(), text)
}

/// Waits until `check` holds (what the receiver saw may be counted a moment later); a
/// test that waits longer than a minute has failed.
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "still not {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
