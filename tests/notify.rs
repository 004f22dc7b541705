//! `shoal run --notify` against the lab: drift found and corrected is posted to a webhook
//! receiver the test runs, as JSON (`--notify`) and as a Slack message (`--notify-file`),
//! with the expected fields; what the default reasons leave out is not posted; a target
//! that is down does not keep the others from being told; and no body, nor the log,
//! carries an env value or a webhook's path.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use shoal_tests::lab;
use shoal_tests::operator::Operator;

const MINUTE: Duration = Duration::from_secs(60);
const OPERATOR_PORT: u16 = 19880;
const RECEIVER_PORT: u16 = 19881;

/// The value desired-state gives web's DATABASE_URL, and the one set by hand: neither may
/// reach a notification.
const DESIRED_SECRET: &str = "s3cr3t-value-123";
const HAND_SECRET: &str = "other-secret-456";
/// In the webhooks' paths: a webhook URL is a credential, never logged.
const HOOK_SECRET: &str = "T0HOOKSECRET";

/// One request the receiver got: its path and body.
#[derive(Clone, Debug)]
struct Posted {
    path: String,
    body: String,
}

/// An HTTP receiver on 127.0.0.1:`port` that answers 200 to everything and keeps what it
/// was posted (one request a connection, which it closes).
fn receiver(port: u16) -> Arc<Mutex<Vec<Posted>>> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("the receiver cannot listen on {port}: {e}"));
    let posted = Arc::new(Mutex::new(Vec::new()));
    let kept = posted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let Some(request) = read_request(&mut reader) else {
                continue;
            };
            kept.lock().unwrap().push(request);
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    posted
}

fn read_request(reader: &mut impl BufRead) -> Option<Posted> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Posted {
        path,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// web of the lab's tests, with an env value that must never be posted.
fn web() -> String {
    format!(
        "{}  env:\n    - name: DATABASE_URL\n      value: postgres://app:{DESIRED_SECRET}@db/app\n",
        shoal_tests::WEB_SERVICE
    )
}

/// The JSON bodies posted to `path` with `reason` about Service/web.
fn json_posted(posted: &[Posted], path: &str, reason: &str) -> Vec<Value> {
    posted
        .iter()
        .filter(|p| p.path == path)
        .filter_map(|p| serde_json::from_str::<Value>(&p.body).ok())
        .filter(|b| b["reason"] == reason && b["resource"] == "Service/web")
        .collect()
}

/// The Slack texts posted to `path` starting with `start`.
fn slack_posted(posted: &[Posted], path: &str, start: &str) -> Vec<String> {
    posted
        .iter()
        .filter(|p| p.path == path)
        .filter_map(|p| serde_json::from_str::<Value>(&p.body).ok())
        .filter_map(|b| b["text"].as_str().map(str::to_string))
        .filter(|t| t.starts_with(start))
        .collect()
}

/// The value of `shoal_notifications_total` for `target` and `result`.
fn notifications(operator: &Operator, target: &str, result: &str) -> Option<u64> {
    let (_, metrics) = operator.get("/metrics");
    let prefix = format!("shoal_notifications_total{{target=\"{target}\",result=\"{result}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

#[test]
fn drift_is_notified_as_json_and_slack_without_secrets() {
    let lab = lab();
    lab.reset();
    let posted = receiver(RECEIVER_PORT);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), web()).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let json_path = format!("/hooks/{HOOK_SECRET}/json");
    let slack_path = format!("/hooks/{HOOK_SECRET}/slack");
    let hooks = logs.path().join("notify.txt");
    std::fs::write(
        &hooks,
        format!("# the team's channel\nslack+http://127.0.0.1:{RECEIVER_PORT}{slack_path}\n"),
    )
    .unwrap();
    let json_url = format!("http://127.0.0.1:{RECEIVER_PORT}{json_path}");
    let operator = lab.start_operator(
        OPERATOR_PORT,
        &logs.path().join("run.log"),
        &[
            "--no-agents",
            "--lease-name",
            "shoal-lease-notify",
            "--lease-ttl",
            "6s",
            "--notify",
            &json_url,
            // Nothing listens there: the others are told all the same.
            "--notify",
            &format!("http://127.0.0.1:1/hooks/{HOOK_SECRET}/down"),
            "--notify-file",
            hooks.to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ],
    );
    operator.wait_for("Service/web Synced and Healthy", MINUTE * 2, |o| {
        let r = o.resource("Service", "web");
        (r["sync"] == "Synced" && r["health"] == "Healthy").then_some(())
    });
    assert!(operator.event("Applied", Some("Service/web")).is_some());

    // Scaled by hand: detected and corrected, and both targets are told.
    lab.docker(&["service", "scale", "--detach", "web=5"]);
    let replicas = json!([{"path": "replicas", "desired": "2", "live": "5"}]);
    for reason in ["DriftDetected", "DriftCorrected"] {
        let body = operator.wait_for(&format!("{reason} posted as JSON"), MINUTE, |_| {
            let posted = posted.lock().unwrap();
            json_posted(&posted, &json_path, reason)
                .into_iter()
                .find(|b| b["fields"] == replicas)
        });
        assert_eq!(body["warning"], reason == "DriftDetected", "{body}");
        assert_eq!(body["count"], 1, "{body}");
        assert!(
            body["instance"].as_str().is_some_and(|i| !i.is_empty()),
            "{body}"
        );
        let severity = if reason == "DriftDetected" {
            "warning"
        } else {
            "info"
        };
        let start = format!("{severity}: {reason} Service/web: ");
        let text = operator.wait_for(&format!("{reason} posted to Slack"), MINUTE, |_| {
            let posted = posted.lock().unwrap();
            slack_posted(&posted, &slack_path, &start)
                .into_iter()
                .next()
        });
        assert!(text.contains("\n• replicas: desired 2, live 5\n"), "{text}");
        assert!(text.contains("from shoal "), "{text}");
    }

    // An env value changed by hand: told as a drift of the variable, never its value.
    lab.docker(&[
        "service",
        "update",
        "--detach",
        "--env-add",
        &format!("DATABASE_URL=postgres://app:{HAND_SECRET}@db/app"),
        "web",
    ]);
    let hidden = json!([{"path": "env.DATABASE_URL", "desired": "(hidden)", "live": "(hidden)"}]);
    for reason in ["DriftDetected", "DriftCorrected"] {
        operator.wait_for(&format!("{reason} of the env value posted"), MINUTE, |_| {
            let posted = posted.lock().unwrap();
            let json = json_posted(&posted, &json_path, reason)
                .into_iter()
                .any(|b| b["fields"] == hidden);
            let slack = slack_posted(&posted, &slack_path, "").into_iter().any(|t| {
                t.contains(&format!("{reason} Service/web"))
                    && t.contains("• env.DATABASE_URL: desired (hidden), live (hidden)")
            });
            (json && slack).then_some(())
        });
    }
    let env = lab.service_field("web", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}");
    assert!(
        env.contains(DESIRED_SECRET),
        "web's env was not set back: {env}"
    );

    // The unreachable target's tries end, counted as failed.
    operator.wait_for("a failed notification to 127.0.0.1:1", MINUTE * 2, |o| {
        notifications(o, "127.0.0.1:1", "failed").filter(|n| *n > 0)
    });
    let posted = posted.lock().unwrap().clone();
    for (label, path) in [
        ("127.0.0.1:19881", &json_path),
        ("127.0.0.1:19881#2", &slack_path),
    ] {
        let received = posted.iter().filter(|p| p.path == *path).count() as u64;
        operator.wait_for(&format!("{received} sent to {label}"), MINUTE, |o| {
            (notifications(o, label, "sent") == Some(received)).then_some(())
        });
        assert_eq!(notifications(&operator, label, "failed"), Some(0));
    }
    assert_eq!(
        posted
            .iter()
            .filter(|p| p.path != json_path && p.path != slack_path)
            .count(),
        0,
        "{posted:#?}"
    );
    // Applied is not among the default reasons.
    assert_eq!(
        json_posted(&posted, &json_path, "Applied"),
        Vec::<Value>::new()
    );
    assert_eq!(
        slack_posted(&posted, &slack_path, "info: Applied"),
        Vec::<String>::new()
    );
    for request in &posted {
        for secret in [DESIRED_SECRET, HAND_SECRET] {
            assert!(
                !request.body.contains(secret),
                "{secret} posted: {request:?}"
            );
        }
    }
    let log = std::fs::read_to_string(&operator.log).unwrap();
    assert!(
        !log.contains(HOOK_SECRET),
        "a webhook's path is in the log:\n{log}"
    );
    assert!(
        log.contains("\"to\":\"127.0.0.1:1\"") && log.contains("notification not delivered"),
        "no warning about the unreachable target in:\n{}",
        operator.log_tail()
    );
    assert_eq!(operator.terminate(), Some(0));
}
