//! What a target is posted: for a JSON target the event as `/api/v1/events` shows it, with
//! the identity of the instance that saw it; for a Slack-compatible webhook one readable
//! message (`{"text": ...}`). Events carry no secret values (env values are `(hidden)`),
//! and nothing here adds any.

use serde_json::{Value, json};

use super::filter::name;
use super::limit::Summary;
use super::target::Format;
use crate::controller::events::{Event, rfc3339};

/// One notification: an event, or the summary of those the rate limit held back.
#[derive(Clone, Debug, PartialEq)]
pub enum Notification {
    Event(Event),
    Summary(Summary),
}

/// The `reason` of a summary in JSON: no event has it.
pub const SUPPRESSED: &str = "NotificationsSuppressed";

/// How many fields a Slack message lists (a creation sets dozens).
const SLACK_FIELDS: usize = 10;

/// The body to post.
pub fn body(format: Format, notification: &Notification, instance: &str) -> Value {
    match (format, notification) {
        (Format::Json, Notification::Event(event)) => json_event(event, instance),
        (Format::Json, Notification::Summary(summary)) => json_summary(summary, instance),
        (Format::Slack, notification) => json!({ "text": slack_text(notification, instance) }),
    }
}

fn json_event(event: &Event, instance: &str) -> Value {
    let mut value = serde_json::to_value(event).expect("an event serializes");
    if let Value::Object(map) = &mut value {
        map.insert("instance".into(), instance.into());
    }
    value
}

fn json_summary(summary: &Summary, instance: &str) -> Value {
    let reasons: serde_json::Map<String, Value> = summary
        .reasons
        .iter()
        .map(|(reason, n)| (name(*reason), (*n).into()))
        .collect();
    json!({
        "reason": SUPPRESSED,
        "warning": summary.warning,
        "message": suppressed_message(summary),
        "suppressed": reasons,
        "count": summary.count,
        "first_seen": time(summary.first_seen),
        "last_seen": time(summary.last_seen),
        "instance": instance,
    })
}

fn time(at: std::time::SystemTime) -> Value {
    rfc3339::serialize(&at, serde_json::value::Serializer).expect("a time serializes")
}

fn suppressed_message(summary: &Summary) -> String {
    let reasons: Vec<String> = summary
        .reasons
        .iter()
        .map(|(reason, n)| format!("{} {n}", name(*reason)))
        .collect();
    format!(
        "{} more events suppressed by the rate limit: {}",
        summary.count,
        reasons.join(", ")
    )
}

fn severity(warning: bool) -> &'static str {
    if warning { "warning" } else { "info" }
}

/// The text of a Slack message: what happened on the first line, then each field, then
/// where it comes from.
pub fn slack_text(notification: &Notification, instance: &str) -> String {
    let summary = match notification {
        Notification::Event(event) => return slack_event(event, instance),
        Notification::Summary(summary) => summary,
    };
    escape(&format!(
        "{}: {} since {}; see /api/v1/events\nfrom shoal {instance}",
        severity(summary.warning),
        suppressed_message(summary),
        humantime::format_rfc3339_seconds(summary.first_seen),
    ))
}

fn slack_event(event: &Event, instance: &str) -> String {
    let mut lines = vec![match &event.resource {
        Some(resource) => format!(
            "{}: {} {resource}: {}",
            severity(event.warning),
            name(event.reason),
            event.message
        ),
        None => format!(
            "{}: {}: {}",
            severity(event.warning),
            name(event.reason),
            event.message
        ),
    }];
    let unset = |value: &Option<String>| value.clone().unwrap_or_else(|| "(unset)".into());
    lines.extend(event.fields.iter().take(SLACK_FIELDS).map(|f| {
        format!(
            "• {}: desired {}, live {}",
            f.path,
            unset(&f.desired),
            unset(&f.live)
        )
    }));
    if event.fields.len() > SLACK_FIELDS {
        lines.push(format!(
            "• (and {} more fields)",
            event.fields.len() - SLACK_FIELDS
        ));
    }
    let mut origin = Vec::new();
    if let Some(revision) = &event.revision {
        origin.push(format!("revision {}", short(revision)));
    }
    if event.count > 1 {
        origin.push(format!(
            "{} times since {}",
            event.count,
            humantime::format_rfc3339_seconds(event.first_seen)
        ));
    }
    origin.push(format!("from shoal {instance}"));
    lines.push(origin.join(" · "));
    escape(&lines.join("\n"))
}

/// A git commit's short form.
fn short(revision: &str) -> &str {
    revision.get(..7).unwrap_or(revision)
}

/// Slack reads `<...>` as links and mentions, and `&` as an entity: its escapes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests;
