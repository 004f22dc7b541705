//! Repeats are not notified again within a window: an event that comes back on every
//! reconcile or resync (a reported drift, an apply that keeps failing) would otherwise post
//! every few minutes. A repeat is the same event as the event ring counts it (reason,
//! resource, message, fields, revision); after the window it goes out again with how many
//! times it happened since it was first seen.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::controller::events::Event;

/// What to do with an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Send this: the event with its `count` and `first_seen` since it was first seen.
    Send(Event),
    /// Sent less than a window ago: not again.
    Repeat,
}

/// The events sent lately, newest first, at most `capacity`.
#[derive(Debug)]
pub struct Dedup {
    window: Duration,
    capacity: usize,
    /// Each event as it would be sent (its count so far) and when it last was.
    seen: VecDeque<(Event, Instant)>,
}

impl Dedup {
    pub fn new(window: Duration, capacity: usize) -> Dedup {
        Dedup {
            window,
            capacity: capacity.max(1),
            seen: VecDeque::new(),
        }
    }

    /// Whether `event`, happening at `now`, is sent.
    pub fn admit(&mut self, event: &Event, now: Instant) -> Verdict {
        let Some(index) = self.seen.iter().position(|(e, _)| e.same_as(event)) else {
            self.seen.push_front((event.clone(), now));
            self.seen.truncate(self.capacity);
            return Verdict::Send(event.clone());
        };
        let (mut kept, mut sent) = self.seen.remove(index).expect("the index was just found");
        kept.count += event.count;
        kept.last_seen = event.last_seen;
        let verdict = if now.saturating_duration_since(sent) >= self.window {
            sent = now;
            Verdict::Send(kept.clone())
        } else {
            Verdict::Repeat
        };
        self.seen.push_front((kept, sent));
        verdict
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::controller::events::{DriftField, Reason};

    const MINUTE: Duration = Duration::from_secs(60);

    fn drift(live: &str, at: SystemTime) -> Event {
        let mut event = Event::new(
            Reason::DriftDetected,
            Some("Service/web".into()),
            "live differs from desired-state",
        )
        .with_fields(vec![DriftField {
            path: "replicas".into(),
            desired: Some("2".into()),
            live: Some(live.into()),
        }]);
        (event.first_seen, event.last_seen) = (at, at);
        event
    }

    /// The count and first_seen a verdict sends, or None for a repeat.
    fn sent(verdict: Verdict) -> Option<(u64, SystemTime)> {
        match verdict {
            Verdict::Send(event) => Some((event.count, event.first_seen)),
            Verdict::Repeat => None,
        }
    }

    #[test]
    fn a_repeat_within_the_window_is_not_sent_and_after_it_is_sent_with_its_count() {
        let mut dedup = Dedup::new(MINUTE * 10, 8);
        let start = Instant::now();
        let first = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |minutes: u32| (start + MINUTE * minutes, first + MINUTE * minutes);

        let (now, wall) = at(0);
        assert_eq!(sent(dedup.admit(&drift("5", wall), now)), Some((1, first)));
        for minutes in [1, 5, 9] {
            let (now, wall) = at(minutes);
            assert_eq!(sent(dedup.admit(&drift("5", wall), now)), None);
        }
        let (now, wall) = at(10);
        match dedup.admit(&drift("5", wall), now) {
            Verdict::Send(event) => {
                assert_eq!(
                    (event.count, event.first_seen, event.last_seen),
                    (5, first, wall)
                );
            }
            Verdict::Repeat => panic!("a repeat after the window is sent"),
        }
        // The window starts again at that send.
        let (now, wall) = at(15);
        assert_eq!(sent(dedup.admit(&drift("5", wall), now)), None);

        // Anything that differs is another event.
        let (now, wall) = at(15);
        assert_eq!(sent(dedup.admit(&drift("7", wall), now)), Some((1, wall)));
    }

    #[test]
    fn the_oldest_events_are_forgotten_past_the_capacity() {
        let mut dedup = Dedup::new(MINUTE * 10, 2);
        let now = Instant::now();
        let wall = SystemTime::now();
        for live in ["3", "4", "5"] {
            assert!(matches!(
                dedup.admit(&drift(live, wall), now),
                Verdict::Send(_)
            ));
        }
        // "3" was pushed out: sent again, counted from 1.
        assert_eq!(sent(dedup.admit(&drift("3", wall), now)), Some((1, wall)));
        assert_eq!(sent(dedup.admit(&drift("5", wall), now)), None);
    }
}
