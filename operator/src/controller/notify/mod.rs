//! Notifications from `shoal run` (`--notify URL`): the events someone should hear about,
//! posted to webhooks as generic JSON or as Slack-compatible messages. Every event goes
//! through `Shared::record`, which hands it here without ever waiting: the filter and the
//! deduplication decide at once, and each target's bounded queue takes it or, full, drops
//! and counts it. One task a target delivers, under the target's rate limit, with retries.
//! Webhook URLs are credentials: only their host is ever shown.

pub mod dedup;
pub mod deliver;
pub mod filter;
pub mod limit;
pub mod payload;
pub mod target;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::sync::mpsc;

use super::events::Event;
use super::metrics::{NotificationLabels, NotificationResult};
use dedup::{Dedup, Verdict};
use deliver::{Poster, Retry};
pub use filter::Severity;
use filter::{Filter, ReasonsError};
use limit::Rate;
use target::{Format, Target, TargetError};

/// The `--notify*` flags as given.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NotifyOptions {
    /// `--notify` URLs (repeatable).
    pub urls: Vec<String>,
    /// `--notify-file`: more URLs, one a line.
    pub file: Option<PathBuf>,
    /// `--notify-reasons`, comma-separated or `all`; none: the default list.
    pub reasons: Option<String>,
    pub severity: Severity,
}

impl std::fmt::Debug for NotifyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URLs are credentials: how many, not which.
        f.debug_struct("NotifyOptions")
            .field("urls", &self.urls.len())
            .field("file", &self.file)
            .field("reasons", &self.reasons)
            .field("severity", &self.severity)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Reasons(#[from] ReasonsError),
    #[error("--notify: cannot set the HTTP client up: {0}")]
    Client(String),
}

/// How notifications are held back and tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// A repeat within this is not sent again.
    pub dedup_window: Duration,
    /// Events remembered for that.
    pub dedup_capacity: usize,
    pub rate: Rate,
    pub retry: Retry,
    /// Notifications a target's task may have waiting (while it retries).
    pub queue: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            dedup_window: Duration::from_secs(600),
            dedup_capacity: 512,
            rate: Rate {
                burst: 10,
                every: Duration::from_secs(6),
            },
            retry: Retry {
                attempts: 5,
                min_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(30),
                timeout: Duration::from_secs(10),
            },
            queue: 256,
        }
    }
}

/// Checked options: the targets and the filter.
#[derive(Debug)]
pub struct Config {
    targets: Vec<Target>,
    filter: Filter,
}

impl Config {
    /// Reads the URLs (and the file) and the filter; `None` when no URL is given. The
    /// filter is checked either way: a typo in it is an error before it matters.
    pub fn read(options: &NotifyOptions) -> Result<Option<Config>, NotifyError> {
        let filter = Filter::new(options.reasons.as_deref(), options.severity)?;
        let targets = target::targets(&options.urls, options.file.as_deref())?;
        Ok((!targets.is_empty()).then_some(Config { targets, filter }))
    }
}

/// One target's queue.
struct Outbox {
    label: String,
    queue: mpsc::Sender<Event>,
}

/// What `Shared::record` hands events to.
pub struct Notifier {
    filter: Filter,
    dedup: Mutex<Dedup>,
    outboxes: Vec<Outbox>,
    counts: Family<NotificationLabels, Counter>,
}

/// Starts a delivery task for each target (inside the runtime); events go to them through
/// the notifier.
pub fn start(
    config: Config,
    instance: String,
    counts: Family<NotificationLabels, Counter>,
    policy: Policy,
) -> Result<Notifier, NotifyError> {
    let poster =
        Arc::new(Poster::new(instance, policy.retry, counts.clone()).map_err(NotifyError::Client)?);
    let mut outboxes = Vec::new();
    for target in config.targets {
        // Every series from the start: a rate of failures needs its zero.
        for result in [
            NotificationResult::sent,
            NotificationResult::failed,
            NotificationResult::dropped,
            NotificationResult::suppressed,
        ] {
            let _ = counts.get_or_create(&NotificationLabels {
                target: target.label.clone(),
                result,
            });
        }
        let format = match target.format {
            Format::Json => "json",
            Format::Slack => "slack",
        };
        tracing::info!(to = %target.label, format, "notifying");
        let (queue, queued) = mpsc::channel(policy.queue.max(1));
        outboxes.push(Outbox {
            label: target.label.clone(),
            queue,
        });
        tokio::spawn(deliver::serve(target, queued, poster.clone(), policy.rate));
    }
    Ok(Notifier {
        filter: config.filter,
        dedup: Mutex::new(Dedup::new(policy.dedup_window, policy.dedup_capacity)),
        outboxes,
        counts,
    })
}

impl Notifier {
    /// Hands `event` to every target if the filter lets it through and it is no repeat.
    /// Never waits: a target whose queue is full loses it (counted as dropped).
    pub fn notify(&self, event: &Event) {
        if !self.filter.admits(event) {
            return;
        }
        let verdict = self
            .dedup
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .admit(event, Instant::now());
        let Verdict::Send(event) = verdict else {
            return;
        };
        for outbox in &self.outboxes {
            if outbox.queue.try_send(event.clone()).is_err() {
                self.counts
                    .get_or_create(&NotificationLabels {
                        target: outbox.label.clone(),
                        result: NotificationResult::dropped,
                    })
                    .inc();
            }
        }
    }
}

#[cfg(test)]
mod test_receiver;
#[cfg(test)]
mod tests;
