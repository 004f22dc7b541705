use std::time::Duration;

use serde_json::json;

use super::test_receiver::{Receiver, until};
use super::*;
use crate::controller::events::{DriftField, Reason};
use crate::controller::shared::Shared;

fn options(urls: &[&str], reasons: Option<&str>) -> NotifyOptions {
    NotifyOptions {
        urls: urls.iter().map(|u| u.to_string()).collect(),
        reasons: reasons.map(str::to_string),
        ..NotifyOptions::default()
    }
}

fn drift(live: &str) -> Event {
    Event::new(
        Reason::DriftDetected,
        Some("Service/web".into()),
        "live differs from desired-state",
    )
    .with_fields(vec![DriftField {
        path: "replicas".into(),
        desired: Some("2".into()),
        live: Some(live.into()),
    }])
}

fn quick() -> Policy {
    Policy {
        retry: Retry {
            attempts: 3,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            timeout: Duration::from_secs(10),
        },
        ..Policy::default()
    }
}

#[test]
fn options_are_checked_even_without_a_target() {
    assert!(Config::read(&options(&[], None)).unwrap().is_none());
    let error = Config::read(&options(&[], Some("Nope"))).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("--notify-reasons: unknown reason Nope; valid: all, DriftDetected"),
        "{error}"
    );
    let config = Config::read(&options(&["http://127.0.0.1:9/x"], Some("all")))
        .unwrap()
        .unwrap();
    assert_eq!(
        format!("{:?}", config.targets),
        "[Target(Json, 127.0.0.1:9)]"
    );
    let debug = format!(
        "{:?}",
        options(&["https://hooks.slack.com/services/T0/B0/X"], None)
    );
    assert_eq!(
        debug,
        "NotifyOptions { urls: 1, file: None, reasons: None, severity: Info }"
    );
}

/// A notifier whose targets are queues the test reads (capacity `queue`).
fn notifier(queue: usize) -> (Notifier, Vec<mpsc::Receiver<Event>>) {
    let mut receivers = Vec::new();
    let outboxes = ["a.example.com", "b.example.com"]
        .into_iter()
        .map(|label| {
            let (sender, receiver) = mpsc::channel(queue);
            receivers.push(receiver);
            Outbox {
                label: label.into(),
                queue: sender,
            }
        })
        .collect();
    let notifier = Notifier {
        filter: Filter::new(None, Severity::Info).unwrap(),
        dedup: Mutex::new(Dedup::new(Duration::from_secs(600), 16)),
        outboxes,
        counts: Family::default(),
    };
    (notifier, receivers)
}

fn queued(receiver: &mut mpsc::Receiver<Event>) -> Vec<(Reason, String)> {
    std::iter::from_fn(|| receiver.try_recv().ok())
        .map(|e| (e.reason, e.fields[0].live.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn filtered_events_and_repeats_stay_and_a_full_queue_drops() {
    let (notifier, mut receivers) = notifier(2);
    notifier.notify(&drift("5"));
    notifier.notify(&drift("5"));
    let applied = Event::new(Reason::Applied, Some("Service/web".into()), "updated")
        .with_fields(drift("5").fields);
    notifier.notify(&applied);
    notifier.notify(&drift("6"));
    notifier.notify(&drift("7"));
    let dropped = |label: &str| {
        notifier
            .counts
            .get_or_create(&NotificationLabels {
                target: label.into(),
                result: NotificationResult::dropped,
            })
            .get()
    };
    assert_eq!((dropped("a.example.com"), dropped("b.example.com")), (1, 1));
    for receiver in &mut receivers {
        assert_eq!(
            queued(receiver),
            [
                (Reason::DriftDetected, "5".to_string()),
                (Reason::DriftDetected, "6".to_string())
            ]
        );
    }
}

#[tokio::test]
async fn recorded_events_reach_json_and_slack_targets() {
    let mut receiver = Receiver::start(&[(500, "")]).await;
    let urls = [
        format!("{}/hooks/json", receiver.base),
        format!("slack+{}/hooks/slack", receiver.base),
    ];
    let config = Config::read(&NotifyOptions {
        urls: urls.to_vec(),
        ..NotifyOptions::default()
    })
    .unwrap()
    .unwrap();
    let shared = Shared::new("node1-812-ab12".into(), 8);
    shared.set_notifier(
        start(
            config,
            shared.identity.clone(),
            shared.metrics.notifications.clone(),
            quick(),
        )
        .unwrap(),
    );
    shared.record(Event::new(
        Reason::Applied,
        Some("Service/web".into()),
        "updated",
    ));
    shared.record(drift("5"));

    let mut delivered = Vec::new();
    while delivered.len() < 2 {
        let request = receiver.next().await;
        if request.answered == 200 {
            delivered.push(request);
        }
    }
    delivered.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(delivered[0].path, "/hooks/json");
    let mut expected = serde_json::to_value(&shared.events()[0]).unwrap();
    expected["instance"] = json!("node1-812-ab12");
    assert_eq!(delivered[0].body, expected);
    assert_eq!(delivered[1].path, "/hooks/slack");
    assert_eq!(
        delivered[1].body,
        json!({"text": "warning: DriftDetected Service/web: live differs from desired-state\n\
                     • replicas: desired 2, live 5\nfrom shoal node1-812-ab12"})
    );
    let host = &receiver.base["http://".len()..];
    let counted = |line: &str| shared.metrics.encode().lines().any(|l| l == line);
    for line in [
        format!("shoal_notifications_total{{target=\"{host}\",result=\"sent\"}} 1"),
        format!("shoal_notifications_total{{target=\"{host}#2\",result=\"sent\"}} 1"),
    ] {
        until(&line, || counted(&line)).await;
    }
    for line in [
        format!("shoal_notifications_total{{target=\"{host}\",result=\"failed\"}} 0"),
        format!("shoal_notifications_total{{target=\"{host}#2\",result=\"dropped\"}} 0"),
    ] {
        assert!(
            counted(&line),
            "{line} missing in:\n{}",
            shared.metrics.encode()
        );
    }
}

#[tokio::test]
async fn repeats_recorded_are_counted_once_each() {
    let mut receiver = Receiver::start(&[]).await;
    let config = Config::read(&options(&[&format!("{}/hook", receiver.base)], None))
        .unwrap()
        .unwrap();
    let shared = Shared::new("node1-812-ab12".into(), 8);
    // No dedup window: every repeat goes out, with how many times it happened.
    let policy = Policy {
        dedup_window: Duration::ZERO,
        ..quick()
    };
    let notifications = shared.metrics.notifications.clone();
    shared.set_notifier(start(config, shared.identity.clone(), notifications, policy).unwrap());
    for _ in 0..4 {
        shared.record(drift("5"));
    }
    let mut counts = Vec::new();
    while counts.len() < 4 {
        let request = receiver.next().await;
        counts.push(request.body["count"].as_u64().unwrap());
        // The id is the one the API shows.
        assert_eq!(request.body["id"], 1);
    }
    counts.sort();
    assert_eq!(counts, [1, 2, 3, 4]);
}
