use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::controller::events::Reason;
use crate::controller::notify::target::{self, Format};
use crate::controller::notify::test_receiver::{Receiver, until};

const QUICK: Retry = Retry {
    attempts: 5,
    min_delay: Duration::from_millis(10),
    max_delay: Duration::from_millis(50),
    timeout: Duration::from_secs(10),
};

fn target(url: &str) -> Target {
    target::targets(&[url.to_string()], None).unwrap().remove(0)
}

fn poster(retry: Retry) -> (Poster, Family<NotificationLabels, Counter>) {
    let counts = Family::default();
    let poster = Poster::new("test-instance".into(), retry, counts.clone()).unwrap();
    (poster, counts)
}

fn count(
    counts: &Family<NotificationLabels, Counter>,
    target: &Target,
    result: NotificationResult,
) -> u64 {
    counts
        .get_or_create(&NotificationLabels {
            target: target.label.clone(),
            result,
        })
        .get()
}

fn event(reason: Reason) -> Event {
    Event::new(reason, Some("Service/web".into()), "something happened")
}

#[tokio::test]
async fn a_post_is_retried_until_the_receiver_takes_it() {
    let mut receiver = Receiver::start(&[(500, "busy"), (500, "busy")]).await;
    let target = target(&format!("{}/hooks/json", receiver.base));
    let (poster, counts) = poster(QUICK);
    let notification = Notification::Event(event(Reason::NodeDown));
    poster.deliver(&target, &notification).await;

    let expected = payload::body(Format::Json, &notification, "test-instance");
    assert_eq!(expected["reason"], "NodeDown");
    let answered: Vec<(String, u16)> = receiver
        .so_far()
        .into_iter()
        .map(|r| {
            assert_eq!(r.body, expected);
            (r.path, r.answered)
        })
        .collect();
    assert_eq!(
        answered,
        [
            ("/hooks/json".to_string(), 500),
            ("/hooks/json".to_string(), 500),
            ("/hooks/json".to_string(), 200),
        ]
    );
    assert_eq!(count(&counts, &target, NotificationResult::sent), 1);
    assert_eq!(count(&counts, &target, NotificationResult::failed), 0);
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_retries_end() {
    let mut receiver =
        Receiver::start(&[(404, "no_service"), (503, ""), (503, ""), (301, "")]).await;
    let target = target(&format!("slack+{}/services/T000/B000", receiver.base));
    let (poster, counts) = poster(Retry {
        attempts: 2,
        ..QUICK
    });
    let body = json!({"text": "hello"});
    assert_eq!(
        poster.post(&target, &body).await,
        Err((
            Failure::Status {
                code: 404,
                body: "no_service".into(),
                retry_after: None
            },
            1
        ))
    );
    // Two tries at most, both refused.
    let failed = poster.post(&target, &body).await.unwrap_err();
    assert_eq!(
        (failed.0.to_string(), failed.1),
        ("HTTP 503".to_string(), 2)
    );
    // A redirect is not followed (nor retried).
    let moved = poster.post(&target, &body).await.unwrap_err();
    assert_eq!((moved.0.to_string(), moved.1), ("HTTP 301".to_string(), 1));
    assert_eq!(receiver.so_far().len(), 4);
    poster
        .deliver(&target, &Notification::Event(event(Reason::NodeDown)))
        .await;
    assert_eq!(count(&counts, &target, NotificationResult::sent), 1);
    assert_eq!(count(&counts, &target, NotificationResult::failed), 0);
}

#[test]
fn only_what_may_pass_is_retried() {
    let status = |code| Failure::Status {
        code,
        body: String::new(),
        retry_after: None,
    };
    let retried: Vec<u16> = [200, 301, 400, 401, 403, 404, 408, 410, 429, 500, 502, 503]
        .into_iter()
        .filter(|code| status(*code).retryable())
        .collect();
    assert_eq!(retried, [408, 429, 500, 502, 503]);
    assert!(Failure::Transport("connection refused".into()).retryable());
}

#[test]
fn retry_after_is_believed_up_to_the_longest_delay() {
    let max = Duration::from_secs(30);
    let throttled = |after| Failure::Status {
        code: 429,
        body: String::new(),
        retry_after: Some(Duration::from_secs(after)),
    };
    let backoff = Some(Duration::from_secs(2));
    assert_eq!(
        next_delay(&throttled(5), backoff, max),
        Some(Duration::from_secs(5))
    );
    assert_eq!(next_delay(&throttled(600), backoff, max), Some(max));
    // The last try stays the last.
    assert_eq!(next_delay(&throttled(5), None, max), None);
    let refused = Failure::Transport("connection refused".into());
    assert_eq!(next_delay(&refused, backoff, max), backoff);
}

#[tokio::test]
async fn errors_never_show_the_url() {
    // Nothing listens on port 1; https is tried as http is.
    let (poster, _) = poster(Retry {
        attempts: 2,
        ..QUICK
    });
    for url in [
        "http://127.0.0.1:1/T000/B000?token=XXXX",
        "https://127.0.0.1:1/T000/B000",
    ] {
        let (failure, attempts) = poster.post(&target(url), &json!({})).await.unwrap_err();
        let text = failure.to_string();
        assert_eq!(attempts, 2);
        assert!(
            !text.contains("T000") && !text.contains("XXXX") && !text.contains("127.0.0.1:1"),
            "{text}"
        );
        assert!(text.starts_with("error sending request"), "{text}");
        assert!(text.contains("Connection refused"), "{text}");
    }
    let target = target("https://hooks.example.com/T000/B000");
    assert_eq!(
        scrub(
            "404 for https://hooks.example.com/T000/B000: no /T000/B000",
            &target
        ),
        "404 for …: no …"
    );
}

#[tokio::test]
async fn a_burst_over_the_rate_is_summed_up_in_one_notification() {
    let mut receiver = Receiver::start(&[]).await;
    let target = target(&format!("slack+{}/slack", receiver.base));
    let (poster, counts) = poster(QUICK);
    let (queue, queued) = mpsc::channel(16);
    let rate = Rate {
        burst: 2,
        every: Duration::from_millis(100),
    };
    tokio::spawn(serve(target.clone(), queued, Arc::new(poster), rate));
    for reason in [
        Reason::NodeDown,
        Reason::NodeDown,
        Reason::NodeDown,
        Reason::VolumeDegraded,
        Reason::NodeDown,
    ] {
        queue.send(event(reason)).await.unwrap();
    }
    let mut texts = Vec::new();
    for _ in 0..3 {
        let request = receiver.next().await;
        let text = request.body["text"].as_str().unwrap().to_string();
        // The summary's first line ends with when it began.
        texts.push(text.split(" since ").next().unwrap().to_string());
    }
    assert_eq!(
        texts,
        [
            "warning: NodeDown Service/web: something happened\nfrom shoal test-instance",
            "warning: NodeDown Service/web: something happened\nfrom shoal test-instance",
            "warning: 3 more events suppressed by the rate limit: NodeDown 2, VolumeDegraded 1",
        ]
        .map(|t| t.to_string())
    );
    until("3 sent", || {
        count(&counts, &target, NotificationResult::sent) == 3
    })
    .await;
    assert_eq!(count(&counts, &target, NotificationResult::suppressed), 3);
    assert_eq!(count(&counts, &target, NotificationResult::failed), 0);
}
