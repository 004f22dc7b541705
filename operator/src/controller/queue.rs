//! The work queue of `shoal run`, after kube-runtime's scheduler and runner: one entry
//! per resource key; a trigger (a file change, an engine event) is debounced (a burst of
//! triggers makes one reconcile, after the burst); a key is never reconciled twice at
//! once (a trigger during its reconcile runs it again afterwards); at most
//! `max_concurrent` reconciles run; a failure is retried with per-key exponential
//! backoff with jitter, reset by a success. Pure bookkeeping over instants given by the
//! caller, so it is tested without clocks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// How a reconcile ended, as far as scheduling goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done; look again after this long if set (a resource waiting on another).
    Done { requeue_after: Option<Duration> },
    /// Failed for a reason that may pass (engine unreachable, a node down): back off.
    Transient,
    /// Someone else wrote at the same time: retry soon.
    Conflict,
    /// Cannot succeed until desired-state changes (an invalid spec): not retried.
    Terminal,
}

#[derive(Debug)]
pub struct WorkQueue<K> {
    debounce: Duration,
    max_concurrent: usize,
    due: BTreeMap<K, Instant>,
    /// When each waiting key was first triggered: a steady stream of triggers must not
    /// put its reconcile off forever, so debouncing stops after ten debounce periods.
    first_triggered: BTreeMap<K, Instant>,
    running: BTreeSet<K>,
    rerun: BTreeSet<K>,
    backoff: BTreeMap<K, ExponentialBackoff>,
}

fn transient_backoff() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(300))
        .with_jitter()
        .without_max_times()
        .build()
}

fn conflict_backoff() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
        .build()
}

impl<K: Ord + Clone> WorkQueue<K> {
    pub fn new(debounce: Duration, max_concurrent: usize) -> WorkQueue<K> {
        WorkQueue {
            debounce,
            max_concurrent: max_concurrent.max(1),
            due: BTreeMap::new(),
            first_triggered: BTreeMap::new(),
            running: BTreeSet::new(),
            rerun: BTreeSet::new(),
            backoff: BTreeMap::new(),
        }
    }

    /// Something about `key` changed: reconcile it once the burst is over.
    pub fn trigger(&mut self, key: K, now: Instant) {
        if self.running.contains(&key) {
            self.rerun.insert(key);
        } else {
            let first = *self.first_triggered.entry(key.clone()).or_insert(now);
            self.due
                .insert(key, (now + self.debounce).min(first + self.debounce * 10));
        }
    }

    /// Reconcile `key` at `at` at the latest (an earlier schedule stays).
    fn schedule(&mut self, key: K, at: Instant) {
        let entry = self.due.entry(key).or_insert(at);
        *entry = (*entry).min(at);
    }

    /// The keys to reconcile now, earliest first, within the concurrency bound. They
    /// count as running until [`WorkQueue::finish`].
    pub fn pop_ready(&mut self, now: Instant) -> Vec<K> {
        let mut ready: Vec<(Instant, K)> = self
            .due
            .iter()
            .filter(|(key, at)| **at <= now && !self.running.contains(*key))
            .map(|(key, at)| (*at, key.clone()))
            .collect();
        ready.sort();
        ready.truncate(self.max_concurrent.saturating_sub(self.running.len()));
        ready
            .into_iter()
            .map(|(_, key)| {
                self.due.remove(&key);
                self.first_triggered.remove(&key);
                self.running.insert(key.clone());
                key
            })
            .collect()
    }

    /// `key`'s reconcile ended with `outcome`; returns the retry delay when it backs off.
    pub fn finish(&mut self, key: &K, outcome: Outcome, now: Instant) -> Option<Duration> {
        self.running.remove(key);
        let delay = match outcome {
            Outcome::Done { requeue_after } => {
                self.backoff.remove(key);
                requeue_after
            }
            Outcome::Terminal => {
                self.backoff.remove(key);
                None
            }
            Outcome::Transient => self
                .backoff
                .entry(key.clone())
                .or_insert_with(transient_backoff)
                .next(),
            Outcome::Conflict => self
                .backoff
                .entry(key.clone())
                .or_insert_with(conflict_backoff)
                .next(),
        };
        if let Some(delay) = delay {
            self.schedule(key.clone(), now + delay);
        }
        if self.rerun.remove(key) {
            self.trigger(key.clone(), now);
        }
        delay.filter(|_| matches!(outcome, Outcome::Transient | Outcome::Conflict))
    }

    /// When the next key falls due, if any is waiting.
    pub fn next_due(&self) -> Option<Instant> {
        self.due
            .iter()
            .filter(|(key, _)| !self.running.contains(*key))
            .map(|(_, at)| *at)
            .min()
    }

    /// Whether another reconcile may start now.
    pub fn has_capacity(&self) -> bool {
        self.running.len() < self.max_concurrent
    }

    /// Keys waiting or running.
    pub fn depth(&self) -> usize {
        self.due.len() + self.running.len()
    }

    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBOUNCE: Duration = Duration::from_millis(500);

    #[test]
    fn a_burst_of_triggers_makes_one_reconcile_after_the_burst() {
        let start = Instant::now();
        let mut queue = WorkQueue::new(DEBOUNCE, 4);
        queue.trigger("web", start);
        queue.trigger("web", start + Duration::from_millis(300));
        assert_eq!(
            queue.pop_ready(start + Duration::from_millis(600)),
            Vec::<&str>::new()
        );
        assert_eq!(queue.next_due(), Some(start + Duration::from_millis(800)));
        assert_eq!(queue.pop_ready(start + Duration::from_millis(800)), ["web"]);
        assert_eq!(queue.depth(), 1);
    }

    #[test]
    fn a_steady_stream_of_triggers_does_not_put_a_reconcile_off_forever() {
        let start = Instant::now();
        let mut queue = WorkQueue::new(DEBOUNCE, 4);
        let mut now = start;
        let mut ran = None;
        while now < start + Duration::from_secs(20) {
            queue.trigger("web", now);
            if !queue.pop_ready(now).is_empty() {
                ran = Some(now - start);
                break;
            }
            now += Duration::from_millis(250);
        }
        assert_eq!(ran, Some(DEBOUNCE * 10));
    }

    #[test]
    fn a_key_never_runs_twice_at_once_and_a_trigger_meanwhile_runs_it_again() {
        let start = Instant::now();
        let mut queue = WorkQueue::new(DEBOUNCE, 4);
        queue.trigger("web", start);
        let later = start + DEBOUNCE;
        assert_eq!(queue.pop_ready(later), ["web"]);
        queue.trigger("web", later);
        assert_eq!(queue.pop_ready(later + DEBOUNCE * 4), Vec::<&str>::new());
        let done = later + Duration::from_secs(3);
        queue.finish(
            &"web",
            Outcome::Done {
                requeue_after: None,
            },
            done,
        );
        assert_eq!(queue.next_due(), Some(done + DEBOUNCE));
        assert_eq!(queue.pop_ready(done + DEBOUNCE), ["web"]);
    }

    #[test]
    fn concurrency_is_bounded_and_the_earliest_go_first() {
        let start = Instant::now();
        let mut queue = WorkQueue::new(Duration::ZERO, 2);
        queue.trigger("c", start + Duration::from_millis(2));
        queue.trigger("a", start);
        queue.trigger("b", start + Duration::from_millis(1));
        let now = start + Duration::from_secs(1);
        assert_eq!(queue.pop_ready(now), ["a", "b"]);
        assert_eq!(queue.pop_ready(now), Vec::<&str>::new());
        queue.finish(
            &"a",
            Outcome::Done {
                requeue_after: None,
            },
            now,
        );
        assert_eq!(queue.pop_ready(now), ["c"]);
    }

    #[test]
    fn failures_back_off_exponentially_and_a_success_resets_it() {
        let now = Instant::now();
        let mut queue = WorkQueue::new(Duration::ZERO, 1);
        let run = |queue: &mut WorkQueue<&str>, outcome| {
            queue.trigger("web", now);
            assert_eq!(queue.pop_ready(now), ["web"]);
            queue.finish(&"web", outcome, now)
        };
        let grown: Vec<Duration> = (0..5)
            .map(|_| run(&mut queue, Outcome::Transient).unwrap())
            .collect();
        // From 1 s, doubling, each with jitter of up to one more delay.
        let second = Duration::from_secs(1);
        assert!(grown[0] >= second && grown[0] < second * 2, "{grown:?}");
        assert!(
            grown[4] >= second * 16 && grown[4] < second * 32,
            "{grown:?}"
        );
        assert_eq!(
            run(
                &mut queue,
                Outcome::Done {
                    requeue_after: None
                }
            ),
            None
        );
        let again = run(&mut queue, Outcome::Transient).unwrap();
        assert!(again >= second && again < second * 2, "{again:?}");
        // Conflicts retry sooner.
        run(
            &mut queue,
            Outcome::Done {
                requeue_after: None,
            },
        );
        let conflict = run(&mut queue, Outcome::Conflict).unwrap();
        assert!(conflict < Duration::from_millis(200), "{conflict:?}");
    }

    #[test]
    fn terminal_failures_wait_for_a_trigger_and_requeues_keep_the_earliest_time() {
        let start = Instant::now();
        let mut queue = WorkQueue::new(Duration::ZERO, 1);
        queue.trigger("web", start);
        queue.pop_ready(start);
        assert_eq!(queue.finish(&"web", Outcome::Terminal, start), None);
        assert_eq!(queue.next_due(), None);

        queue.trigger("web", start);
        queue.pop_ready(start);
        let requeue = Some(Duration::from_secs(10));
        queue.finish(
            &"web",
            Outcome::Done {
                requeue_after: requeue,
            },
            start,
        );
        assert_eq!(queue.next_due(), Some(start + Duration::from_secs(10)));
        queue.trigger("web", start + Duration::from_secs(1));
        assert_eq!(queue.next_due(), Some(start + Duration::from_secs(1)));
    }
}
