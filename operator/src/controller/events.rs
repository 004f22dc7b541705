//! Events: what `shoal run` noticed and did (drift found, corrected or reported, changes
//! applied, bad revisions, lost connections). Each is a structured tracing record and
//! an entry of a bounded ring buffer served at /api/v1/events, where a repeat of the same
//! event bumps a count instead of pushing older ones out (as Kubernetes events do).
//! Values come from plans, which already mask secret-looking env values; nothing else
//! carries values.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use serde::Serialize;

use crate::diff::FieldChange;

/// Whether logs are read by people (the human format) rather than machines (JSON).
static FOR_PEOPLE: AtomicBool = AtomicBool::new(true);

/// Sets whether event logs are for people: `--log-format json` keeps every field.
pub fn log_for_people(for_people: bool) {
    FOR_PEOPLE.store(for_people, Ordering::Relaxed);
}

/// The fields that identify what was created: kind-specific, the rest is detail.
const IDENTIFYING: [&str; 7] = [
    "image",
    "replicas",
    "mode",
    "placement",
    "driver",
    "replica",
    "bricks",
];

/// Why an event was raised; the names users grep logs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Reason {
    DriftDetected,
    DriftCorrected,
    DriftReported,
    Applied,
    ApplyFailed,
    Waiting,
    PruneRefused,
    InvalidRevision,
    SourceFailed,
    RevisionLoaded,
    EngineUnreachable,
    EventStreamReconnected,
    LeaseAcquired,
    LeaseWaiting,
    SplitBrain,
    NodeDown,
    NodeReady,
    NodeDrained,
    TasksRescheduled,
    TasksPending,
    VolumeDegraded,
    HealStarted,
    HealProgress,
    Healed,
    HealStalled,
    TaskOOMKilled,
    TaskUnhealthy,
    CrashLooping,
    RebalanceStarted,
    Rebalanced,
    RebalanceFailed,
    CapacityAtRisk,
    /// A check of `shoal doctor` started failing (the pair of nodes and the port).
    NetworkDegraded,
    /// A failing check passes again, or every check passed.
    NetworkHealthy,
}

impl Reason {
    /// Warnings are what someone should look at.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Reason::DriftDetected
                | Reason::DriftReported
                | Reason::ApplyFailed
                | Reason::PruneRefused
                | Reason::InvalidRevision
                | Reason::SourceFailed
                | Reason::EngineUnreachable
                | Reason::SplitBrain
                | Reason::NodeDown
                | Reason::TasksPending
                | Reason::VolumeDegraded
                | Reason::HealStalled
                | Reason::TaskOOMKilled
                | Reason::TaskUnhealthy
                | Reason::CrashLooping
                | Reason::RebalanceFailed
                | Reason::CapacityAtRisk
                | Reason::NetworkDegraded
        )
    }
}

/// One field that differs: where, what desired-state says, what runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DriftField {
    pub path: String,
    pub desired: Option<String>,
    pub live: Option<String>,
}

impl From<&FieldChange> for DriftField {
    /// Env values are never carried: a value added by hand was never validated, and its
    /// name need not look secret (`DATABASE_URL=postgres://user:password@...`). That a
    /// variable differs is what the event needs to say.
    fn from(change: &FieldChange) -> DriftField {
        let shown = |value: &Option<String>| {
            if change.path.starts_with("env.") {
                value.as_ref().map(|_| "(hidden)".to_string())
            } else {
                value.clone()
            }
        };
        DriftField {
            path: change.path.clone(),
            desired: shown(&change.to),
            live: shown(&change.from),
        }
    }
}

/// One event, as served and logged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Given when first recorded and kept by its repeats: the live event stream sends a
    /// repeat with the same id, and the dashboard moves that entry up with its count.
    pub id: u64,
    pub reason: Reason,
    pub warning: bool,
    /// `Service/web`, or none for events about shoal itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<DriftField>,
    /// The desired-state revision (git commit) in force when it happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// It tells of a creation: the human log names what identifies the object only.
    #[serde(skip)]
    pub creation: bool,
    /// How many times it happened; `first_seen` and `last_seen` bound them.
    pub count: u64,
    #[serde(with = "rfc3339")]
    pub first_seen: SystemTime,
    #[serde(with = "rfc3339")]
    pub last_seen: SystemTime,
}

impl Event {
    pub fn new(reason: Reason, resource: Option<String>, message: impl Into<String>) -> Event {
        let now = SystemTime::now();
        Event {
            id: 0,
            reason,
            warning: reason.is_warning(),
            resource,
            message: message.into(),
            fields: Vec::new(),
            revision: None,
            creation: false,
            count: 1,
            first_seen: now,
            last_seen: now,
        }
    }

    pub fn with_fields(mut self, fields: Vec<DriftField>) -> Event {
        self.fields = fields;
        self
    }

    /// Marks it as telling of a creation.
    pub fn of_creation(mut self) -> Event {
        self.creation = true;
        self
    }

    pub fn with_revision(mut self, revision: Option<String>) -> Event {
        self.revision = revision;
        self
    }

    pub(crate) fn same_as(&self, other: &Event) -> bool {
        self.reason == other.reason
            && self.resource == other.resource
            && self.message == other.message
            && self.fields == other.fields
            && self.revision == other.revision
    }

    /// Writes the event as a tracing record (human on a TTY, JSON with --log-format json).
    fn log(&self) {
        let resource = self.resource.as_deref().unwrap_or("-");
        let fields = if FOR_PEOPLE.load(Ordering::Relaxed) {
            self.fields_for_people()
        } else {
            self.fields_text(&self.fields)
        };
        let revision = self.revision.as_deref().unwrap_or("-");
        if self.warning {
            tracing::warn!(target: "shoal::event", reason = ?self.reason, resource, fields, revision, count = self.count, "{}", self.message);
        } else {
            tracing::info!(target: "shoal::event", reason = ?self.reason, resource, fields, revision, count = self.count, "{}", self.message);
        }
    }

    /// A creation lists every field set, often dozens: a person needs the few that say
    /// what was made. Every other event keeps all its fields.
    fn fields_for_people(&self) -> String {
        if !self.creation {
            return self.fields_text(&self.fields);
        }
        let identifying: Vec<DriftField> = self
            .fields
            .iter()
            .filter(|f| {
                IDENTIFYING.iter().any(|p| {
                    f.path
                        .strip_prefix(p)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
                })
            })
            .cloned()
            .collect();
        format!(
            "{} (and {} more fields)",
            self.fields_text(&identifying),
            self.fields.len() - identifying.len()
        )
    }

    fn fields_text(&self, fields: &[DriftField]) -> String {
        fields
            .iter()
            .map(|f| {
                format!(
                    "{}: desired {} live {}",
                    f.path,
                    f.desired.as_deref().unwrap_or("(unset)"),
                    f.live.as_deref().unwrap_or("(unset)")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The newest events, at most `capacity`, newest first.
#[derive(Debug)]
pub struct EventLog {
    capacity: usize,
    events: VecDeque<Event>,
    /// The id the next new event gets.
    next_id: u64,
}

impl EventLog {
    pub fn new(capacity: usize) -> EventLog {
        EventLog {
            capacity: capacity.max(1),
            events: VecDeque::new(),
            next_id: 1,
        }
    }

    /// Logs `event` and keeps it; a repeat of a kept event counts there instead. Returns
    /// the event as kept (with its id, and its count when a repeat).
    pub fn record(&mut self, mut event: Event) -> &Event {
        if let Some(index) = self.events.iter().position(|e| e.same_as(&event)) {
            let mut kept = self.events.remove(index).expect("the index was just found");
            kept.count += 1;
            kept.last_seen = event.last_seen;
            kept.log();
            self.events.push_front(kept);
        } else {
            event.id = self.next_id;
            self.next_id += 1;
            event.log();
            self.events.push_front(event);
            self.events.truncate(self.capacity);
        }
        &self.events[0]
    }

    /// Newest first.
    pub fn newest_first(&self) -> Vec<Event> {
        self.events.iter().cloned().collect()
    }
}

/// RFC 3339 timestamps in JSON (`2026-11-27T20:31:05Z`).
pub mod rfc3339 {
    use std::time::SystemTime;

    pub fn serialize<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_seconds(*time))
    }

    /// An optional time: the same, or null.
    pub fn optional<S: serde::Serializer>(
        time: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serialize(time, s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drift(path: &str) -> Event {
        Event::new(
            Reason::DriftDetected,
            Some("Service/web".into()),
            "live differs from desired-state",
        )
        .with_fields(vec![DriftField {
            path: path.into(),
            desired: Some("3".into()),
            live: Some("5".into()),
        }])
    }

    #[test]
    fn repeats_are_counted_and_the_log_is_bounded_newest_first() {
        let mut log = EventLog::new(3);
        log.record(drift("replicas"));
        log.record(Event::new(
            Reason::Applied,
            Some("Service/web".into()),
            "updated",
        ));
        // A repeat keeps its id: the live stream sends it again as that entry.
        let repeat = log.record(drift("replicas")).clone();
        assert_eq!((repeat.id, repeat.count), (1, 2));
        let events = log.newest_first();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].reason, Reason::DriftDetected);
        assert_eq!(events[0].count, 2);
        assert_eq!(events[1].reason, Reason::Applied);
        assert_eq!(events[1].id, 2);

        log.record(drift("image"));
        log.record(Event::new(Reason::SourceFailed, None, "fetch failed"));
        let events = log.newest_first();
        let summary: Vec<(Reason, &str, u64)> = events
            .iter()
            .map(|e| {
                (
                    e.reason,
                    e.fields.first().map_or("", |f| f.path.as_str()),
                    e.count,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Reason::SourceFailed, "", 1),
                (Reason::DriftDetected, "image", 1),
                (Reason::DriftDetected, "replicas", 2),
            ]
        );
    }

    #[test]
    fn a_creation_is_told_to_people_by_what_identifies_it() {
        let set = |path: &str, value: &str| DriftField {
            path: path.into(),
            desired: Some(value.into()),
            live: None,
        };
        let created = Event::new(Reason::Applied, Some("Service/web".into()), "created")
            .of_creation()
            .with_fields(vec![
                set("image", "lab/web:1"),
                set("replicas", "2"),
                set("placement.constraints[0]", "node.role==manager"),
                set("resources.limits.memory", "16M"),
                set("env.GREETING", "(hidden)"),
                set("ports[0].target", "8080"),
            ]);
        assert_eq!(
            created.fields_for_people(),
            "image: desired lab/web:1 live (unset); replicas: desired 2 live (unset); \
             placement.constraints[0]: desired node.role==manager live (unset) (and 3 more fields)"
        );
        // Anything else keeps every field, as machines always do, however many were unset.
        let unset = Event::new(Reason::DriftDetected, Some("Service/web".into()), "drift")
            .with_fields(created.fields.clone());
        assert_eq!(unset.fields_for_people(), unset.fields_text(&unset.fields));
        let corrected = drift("replicas");
        assert_eq!(
            corrected.fields_for_people(),
            corrected.fields_text(&corrected.fields)
        );
        assert_eq!(corrected.fields_for_people(), "replicas: desired 3 live 5");
    }

    #[test]
    fn env_values_never_reach_events() {
        let change = FieldChange {
            path: "env.DATABASE_URL".into(),
            from: Some("postgres://app:hunter2@db/app".into()),
            to: None,
        };
        assert_eq!(
            DriftField::from(&change),
            DriftField {
                path: "env.DATABASE_URL".into(),
                desired: None,
                live: Some("(hidden)".into()),
            }
        );
    }

    #[test]
    fn events_serialize_with_rfc3339_times_and_desired_and_live_values() {
        let json = serde_json::to_value(drift("replicas")).unwrap();
        assert_eq!(json["reason"], "DriftDetected");
        assert_eq!(json["warning"], true);
        assert_eq!(json["fields"][0]["desired"], "3");
        assert_eq!(json["fields"][0]["live"], "5");
        let time = json["first_seen"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
    }
}
