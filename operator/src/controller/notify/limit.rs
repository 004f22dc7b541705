//! The rate limit of one target: a token bucket (a burst, then one notification every so
//! often), so that a storm of events (a node down with its tasks, a bad revision on every
//! service) neither floods a channel nor gets shoal throttled by the receiver. What goes
//! over is not lost: it is counted into one summary, sent when a token is back.

use std::time::{Duration, Instant, SystemTime};

use crate::controller::events::{Event, Reason};

/// A burst of `burst` notifications, then one every `every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

/// Events suppressed by the limit, told in one notification.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub count: u64,
    /// How many of each reason, in the order they first came.
    pub reasons: Vec<(Reason, u64)>,
    /// Whether any of them was a warning.
    pub warning: bool,
    pub first_seen: SystemTime,
    pub last_seen: SystemTime,
}

impl Summary {
    fn of(event: &Event) -> Summary {
        Summary {
            count: 0,
            reasons: Vec::new(),
            warning: false,
            first_seen: event.last_seen,
            last_seen: event.last_seen,
        }
    }

    fn add(&mut self, event: &Event) {
        self.count += 1;
        match self.reasons.iter_mut().find(|(r, _)| *r == event.reason) {
            Some((_, n)) => *n += 1,
            None => self.reasons.push((event.reason, 1)),
        }
        self.warning |= event.warning;
        self.last_seen = event.last_seen;
    }
}

/// Whether an event goes out now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Send,
    /// Counted into the summary.
    Suppressed,
}

#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    tokens: u32,
    /// From when the next token accrues (meaningless while the bucket is full).
    since: Instant,
    pending: Option<Summary>,
}

impl Limiter {
    /// A full bucket at `now`.
    pub fn new(rate: Rate, now: Instant) -> Limiter {
        Limiter {
            rate,
            tokens: rate.burst,
            since: now,
            pending: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if self.tokens >= self.rate.burst {
            self.since = now;
            return;
        }
        let every = self.rate.every.max(Duration::from_millis(1));
        let earned = now.saturating_duration_since(self.since).as_nanos() / every.as_nanos();
        let earned = u32::try_from(earned).unwrap_or(u32::MAX);
        self.tokens = self.tokens.saturating_add(earned).min(self.rate.burst);
        if self.tokens >= self.rate.burst {
            self.since = now;
        } else {
            self.since += every * earned;
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }

    /// Whether `event`, arriving at `now`, goes out. While a summary waits, everything
    /// joins it, so that it goes first and nothing is told out of order.
    pub fn offer(&mut self, event: &Event, now: Instant) -> Admission {
        if self.pending.is_none() && self.take(now) {
            return Admission::Send;
        }
        self.pending
            .get_or_insert_with(|| Summary::of(event))
            .add(event);
        Admission::Suppressed
    }

    /// When the waiting summary can go, if one waits (maybe already).
    pub fn summary_due(&self) -> Option<Instant> {
        self.pending.as_ref()?;
        Some(if self.tokens > 0 {
            self.since
        } else {
            self.since + self.rate.every
        })
    }

    /// The waiting summary, if a token is there for it at `now`.
    pub fn take_summary(&mut self, now: Instant) -> Option<Summary> {
        if self.pending.is_some() && self.take(now) {
            self.pending.take()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);
    const RATE: Rate = Rate {
        burst: 3,
        every: Duration::from_secs(6),
    };

    fn event(reason: Reason) -> Event {
        Event::new(reason, Some("Service/web".into()), "something")
    }

    #[test]
    fn a_burst_goes_then_one_per_interval() {
        let start = Instant::now();
        let mut limiter = Limiter::new(RATE, start);
        let offers: Vec<Admission> = (0..4)
            .map(|_| limiter.offer(&event(Reason::NodeReady), start))
            .collect();
        assert_eq!(
            offers,
            [
                Admission::Send,
                Admission::Send,
                Admission::Send,
                Admission::Suppressed
            ]
        );
        // The summary waits for the next token, 6 s after the burst began.
        assert_eq!(limiter.summary_due(), Some(start + SECOND * 6));
        assert_eq!(limiter.take_summary(start + SECOND * 5), None);
        let summary = limiter.take_summary(start + SECOND * 6).unwrap();
        assert_eq!(summary.count, 1);
        assert_eq!(limiter.summary_due(), None);
        // Another 6 s, another token.
        assert_eq!(
            limiter.offer(&event(Reason::NodeReady), start + SECOND * 11),
            Admission::Suppressed
        );
        assert_eq!(limiter.summary_due(), Some(start + SECOND * 12));
        assert!(limiter.take_summary(start + SECOND * 12).is_some());
    }

    #[test]
    fn what_goes_over_is_summed_up_by_reason_and_goes_first() {
        let start = Instant::now();
        let mut limiter = Limiter::new(RATE, start);
        for _ in 0..3 {
            assert_eq!(
                limiter.offer(&event(Reason::Applied), start),
                Admission::Send
            );
        }
        for reason in [Reason::NodeDown, Reason::Applied, Reason::NodeDown] {
            assert_eq!(limiter.offer(&event(reason), start), Admission::Suppressed);
        }
        // A token is back, but the summary is due: the new event joins it.
        let later = start + SECOND * 7;
        assert_eq!(
            limiter.offer(&event(Reason::Healed), later),
            Admission::Suppressed
        );
        assert_eq!(limiter.summary_due(), Some(start + SECOND * 6));
        let summary = limiter.take_summary(later).unwrap();
        assert_eq!(
            (summary.count, summary.reasons, summary.warning),
            (
                4,
                vec![
                    (Reason::NodeDown, 2),
                    (Reason::Applied, 1),
                    (Reason::Healed, 1)
                ],
                true
            )
        );
        // The token went to the summary.
        assert_eq!(
            limiter.offer(&event(Reason::Applied), later),
            Admission::Suppressed
        );
    }

    #[test]
    fn a_quiet_while_fills_the_bucket_no_further_than_the_burst() {
        let start = Instant::now();
        let mut limiter = Limiter::new(RATE, start);
        for _ in 0..3 {
            limiter.offer(&event(Reason::Applied), start);
        }
        let later = start + SECOND * 3600;
        let offers: Vec<Admission> = (0..4)
            .map(|_| limiter.offer(&event(Reason::Applied), later))
            .collect();
        assert_eq!(
            offers,
            [
                Admission::Send,
                Admission::Send,
                Admission::Send,
                Admission::Suppressed
            ]
        );
        assert_eq!(limiter.summary_due(), Some(later + SECOND * 6));
    }
}
