//! Delivery to one target: a task takes the target's notifications in order, holds them to
//! its rate limit and posts each, retried with backoff. A notification that cannot be
//! delivered is logged (with the target's host only) and counted, never raised as an event:
//! that event would be notified in turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::Value;
use tokio::sync::mpsc;

use super::limit::{Admission, Limiter, Rate};
use super::payload::{self, Notification};
use super::target::Target;
use crate::controller::events::Event;
use crate::controller::metrics::{NotificationLabels, NotificationResult};

/// How a post is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all, the first included.
    pub attempts: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// For one request, connecting included.
    pub timeout: Duration,
}

/// Why a post failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The receiver answered this (with the start of its body: Slack says why there).
    Status {
        code: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    /// No answer: connecting, TLS, the timeout.
    Transport(String),
}

impl Failure {
    /// Worth another try: no answer, a timeout, throttling or the receiver's own error;
    /// any other answer would be the same again.
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Status { code, .. } => matches!(code, 408 | 429 | 500..=599),
            Failure::Transport(_) => true,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            Failure::Transport(_) => None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status { code, body, .. } if body.is_empty() => write!(f, "HTTP {code}"),
            Failure::Status { code, body, .. } => write!(f, "HTTP {code}: {body}"),
            Failure::Transport(text) => f.write_str(text),
        }
    }
}

/// Posts notifications and counts how they end.
pub struct Poster {
    client: reqwest::Client,
    /// The instance's identity, in every notification.
    instance: String,
    retry: Retry,
    counts: Family<NotificationLabels, Counter>,
}

impl Poster {
    pub fn new(
        instance: String,
        retry: Retry,
        counts: Family<NotificationLabels, Counter>,
    ) -> Result<Poster, String> {
        // A webhook that redirects elsewhere does not get its events resent there.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(retry.timeout)
            .user_agent(concat!("shoal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| describe(e, None))?;
        Ok(Poster {
            client,
            instance,
            retry,
            counts,
        })
    }

    pub fn count(&self, target: &Target, result: NotificationResult) {
        self.counts
            .get_or_create(&NotificationLabels {
                target: target.label.clone(),
                result,
            })
            .inc();
    }

    /// Posts `notification`, retried as far as it is worth it; counts and logs how it ends.
    pub async fn deliver(&self, target: &Target, notification: &Notification) {
        let body = payload::body(target.format, notification, &self.instance);
        match self.post(target, &body).await {
            Ok(()) => self.count(target, NotificationResult::sent),
            Err((failure, attempts)) => {
                self.count(target, NotificationResult::failed);
                tracing::warn!(
                    to = %target.label,
                    attempts,
                    error = %failure,
                    "notification not delivered; dropped"
                );
            }
        }
    }

    /// Posts `body` with retries; on failure, the last one and how many tries were made.
    pub async fn post(&self, target: &Target, body: &Value) -> Result<(), (Failure, usize)> {
        let max_delay = self.retry.max_delay;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(max_delay)
            .with_max_times(self.retry.attempts.saturating_sub(1))
            .with_jitter();
        let attempts = AtomicUsize::new(1);
        (|| self.post_once(target, body))
            .retry(backoff)
            .when(Failure::retryable)
            .adjust(|failure, delay| next_delay(failure, delay, max_delay))
            .notify(|failure, delay| {
                attempts.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(to = %target.label, error = %failure, retry_in = ?delay, "notification failed; retrying");
            })
            .await
            .map_err(|failure| (failure, attempts.load(Ordering::Relaxed)))
    }

    async fn post_once(&self, target: &Target, body: &Value) -> Result<(), Failure> {
        let response = self
            .client
            .post(target.url().clone())
            .json(body)
            .send()
            .await
            .map_err(|e| Failure::Transport(describe(e, Some(target))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        Err(Failure::Status {
            code: status.as_u16(),
            body: scrub(&one_line(&text, 200), target),
            retry_after,
        })
    }
}

/// The wait before the next try (`delay`, the backoff's; none: no more tries). A receiver
/// that says when to come back (429 with Retry-After) is believed, up to `max`.
fn next_delay(failure: &Failure, delay: Option<Duration>, max: Duration) -> Option<Duration> {
    delay.map(|d| failure.retry_after().map_or(d, |after| after.min(max)))
}

/// The error and its causes on one line, without the URL.
fn describe(error: reqwest::Error, target: Option<&Target>) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    match target {
        Some(target) => scrub(&text, target),
        None => text,
    }
}

fn one_line(text: &str, max: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = words.join(" ");
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// Without the URL's path and query, in case the receiver's answer or an error repeats them.
fn scrub(text: &str, target: &Target) -> String {
    let url = target.url();
    let mut text = text.replace(url.as_str(), "…");
    for part in [url.path(), url.query().unwrap_or_default()] {
        if part.len() > 1 {
            text = text.replace(part, "…");
        }
    }
    text
}

/// The task of one target: until its queue closes, each event is sent or, over the rate
/// limit, counted into a summary that goes when a token is back.
pub async fn serve(
    target: Target,
    mut queue: mpsc::Receiver<Event>,
    poster: Arc<Poster>,
    rate: Rate,
) {
    let mut limiter = Limiter::new(rate, Instant::now());
    loop {
        let due = limiter.summary_due();
        let wake = due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            received = queue.recv() => {
                let Some(event) = received else { return };
                match limiter.offer(&event, Instant::now()) {
                    Admission::Send => {
                        poster.deliver(&target, &Notification::Event(event)).await;
                    }
                    Admission::Suppressed => {
                        poster.count(&target, NotificationResult::suppressed);
                    }
                }
            }
            () = tokio::time::sleep_until(wake.into()), if due.is_some() => {
                if let Some(summary) = limiter.take_summary(Instant::now()) {
                    poster.deliver(&target, &Notification::Summary(summary)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
