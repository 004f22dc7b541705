use std::time::{Duration, SystemTime};

use super::*;
use crate::controller::events::{DriftField, Reason};
use crate::controller::notify::limit::Summary;
use crate::diff::FieldChange;

/// 2026-11-27T20:31:05Z
fn at(offset: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_811_465 + offset)
}

fn drift() -> Event {
    let mut event = Event::new(
        Reason::DriftDetected,
        Some("Service/web".into()),
        "live differs from desired-state",
    )
    .with_fields(vec![DriftField {
        path: "replicas".into(),
        desired: Some("2".into()),
        live: Some("5".into()),
    }])
    .with_revision(Some("0123456789abcdef0123456789abcdef01234567".into()));
    (event.first_seen, event.last_seen) = (at(0), at(0));
    event.id = 7;
    event
}

#[test]
fn json_is_the_event_as_the_api_shows_it_with_the_instance() {
    let body = body(
        Format::Json,
        &Notification::Event(drift()),
        "node1-812-ab12",
    );
    assert_eq!(
        body,
        json!({
            "id": 7,
            "reason": "DriftDetected",
            "warning": true,
            "resource": "Service/web",
            "message": "live differs from desired-state",
            "fields": [{"path": "replicas", "desired": "2", "live": "5"}],
            "revision": "0123456789abcdef0123456789abcdef01234567",
            "count": 1,
            "first_seen": "2026-11-27T20:31:05Z",
            "last_seen": "2026-11-27T20:31:05Z",
            "instance": "node1-812-ab12",
        })
    );
    let mut api = serde_json::to_value(drift()).unwrap();
    api.as_object_mut()
        .unwrap()
        .insert("instance".into(), "node1-812-ab12".into());
    assert_eq!(body, api);
}

#[test]
fn slack_is_one_readable_message() {
    let body = body(
        Format::Slack,
        &Notification::Event(drift()),
        "node1-812-ab12",
    );
    assert_eq!(
        body,
        json!({
            "text": "warning: DriftDetected Service/web: live differs from desired-state\n\
                     • replicas: desired 2, live 5\n\
                     revision 0123456 · from shoal node1-812-ab12"
        })
    );
}

#[test]
fn slack_tells_a_repeat_unset_values_and_events_without_resource() {
    let mut corrected = drift();
    corrected.reason = Reason::DriftCorrected;
    corrected.warning = false;
    corrected.message = "live state set back to desired-state".into();
    corrected.fields[0].desired = None;
    corrected.count = 4;
    corrected.last_seen = at(600);
    assert_eq!(
        slack_text(&Notification::Event(corrected), "i"),
        "info: DriftCorrected Service/web: live state set back to desired-state\n\
         • replicas: desired (unset), live 5\n\
         revision 0123456 · 4 times since 2026-11-27T20:31:05Z · from shoal i"
    );
    let failed = Event::new(Reason::SourceFailed, None, "git fetch: <no route> & gone");
    assert_eq!(
        slack_text(&Notification::Event(failed), "i"),
        "warning: SourceFailed: git fetch: &lt;no route&gt; &amp; gone\nfrom shoal i"
    );
}

#[test]
fn slack_lists_ten_fields_at_most() {
    let fields = (0..12)
        .map(|i| DriftField {
            path: format!("labels.l{i}"),
            desired: Some("x".into()),
            live: None,
        })
        .collect();
    let created =
        Event::new(Reason::Applied, Some("Service/web".into()), "created").with_fields(fields);
    let text = slack_text(&Notification::Event(created), "i");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13, "{text}");
    assert_eq!(lines[10], "• labels.l9: desired x, live (unset)");
    assert_eq!(lines[11], "• (and 2 more fields)");
}

#[test]
fn a_summary_names_what_was_suppressed() {
    let summary = Notification::Summary(Summary {
        count: 12,
        reasons: vec![(Reason::DriftDetected, 10), (Reason::NodeReady, 2)],
        warning: true,
        first_seen: at(0),
        last_seen: at(30),
    });
    assert_eq!(
        body(Format::Json, &summary, "i"),
        json!({
            "reason": "NotificationsSuppressed",
            "warning": true,
            "message": "12 more events suppressed by the rate limit: DriftDetected 10, NodeReady 2",
            "suppressed": {"DriftDetected": 10, "NodeReady": 2},
            "count": 12,
            "first_seen": "2026-11-27T20:31:05Z",
            "last_seen": "2026-11-27T20:31:35Z",
            "instance": "i",
        })
    );
    assert_eq!(
        body(Format::Slack, &summary, "i"),
        json!({
            "text": "warning: 12 more events suppressed by the rate limit: DriftDetected 10, \
                     NodeReady 2 since 2026-11-27T20:31:05Z; see /api/v1/events\nfrom shoal i"
        })
    );
}

#[test]
fn no_payload_carries_an_env_value() {
    let change = FieldChange {
        path: "env.PASSWORD".into(),
        from: Some("hunter2-live".into()),
        to: Some("hunter2-desired".into()),
    };
    let event = Event::new(
        Reason::DriftDetected,
        Some("Service/db".into()),
        "live differs from desired-state",
    )
    .with_fields(vec![DriftField::from(&change)]);
    let notification = Notification::Event(event);
    let json = body(Format::Json, &notification, "i");
    assert_eq!(
        json["fields"],
        json!([{"path": "env.PASSWORD", "desired": "(hidden)", "live": "(hidden)"}])
    );
    let slack = body(Format::Slack, &notification, "i");
    assert_eq!(
        slack["text"],
        "warning: DriftDetected Service/db: live differs from desired-state\n\
         • env.PASSWORD: desired (hidden), live (hidden)\nfrom shoal i"
    );
    for body in [json, slack] {
        let text = body.to_string();
        assert!(!text.contains("hunter2"), "{text}");
    }
}
