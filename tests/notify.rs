//! `shoal run --notify` against the lab: drift found and corrected is posted to a webhook
//! receiver the test runs, as JSON (`--notify`) and as a Slack message (`--notify-file`),
//! with the expected fields; what the default reasons leave out is not posted; a target
//! that is down does not keep the others from being told; and no body, nor the log,
//! carries an env value or a webhook's path.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use shoal_tests::operator::Operator;
use shoal_tests::{Lab, lab};

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

/// What the receiver got, and the paths of the two webhooks it serves.
struct Hooks {
    posted: Arc<Mutex<Vec<Posted>>>,
    json: String,
    slack: String,
}

impl Hooks {
    fn posted(&self) -> Vec<Posted> {
        self.posted.lock().unwrap().clone()
    }
}

/// `shoal run` on `dir`, notifying the receiver as JSON (`--notify`) and as Slack
/// (`--notify-file`), and a target where nothing listens.
fn start(lab: &Lab, dir: &Path, logs: &Path) -> (Operator, Hooks) {
    let hooks = Hooks {
        posted: receiver(RECEIVER_PORT),
        json: format!("/hooks/{HOOK_SECRET}/json"),
        slack: format!("/hooks/{HOOK_SECRET}/slack"),
    };
    let file = logs.join("notify.txt");
    let slack_url = format!("slack+http://127.0.0.1:{RECEIVER_PORT}{}", hooks.slack);
    std::fs::write(&file, format!("# the team's channel\n{slack_url}\n")).unwrap();
    let json_url = format!("http://127.0.0.1:{RECEIVER_PORT}{}", hooks.json);
    let down_url = format!("http://127.0.0.1:1/hooks/{HOOK_SECRET}/down");
    let operator = lab.start_operator(
        OPERATOR_PORT,
        &logs.join("run.log"),
        &[
            "--no-agents",
            "--lease-name",
            "shoal-lease-notify",
            "--lease-ttl",
            "6s",
            "--notify",
            &json_url,
            "--notify",
            &down_url,
            "--notify-file",
            file.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    (operator, hooks)
}

/// Waits until DriftDetected (a warning) and DriftCorrected of Service/web with `fields`
/// reached both webhooks, the Slack text listing `line`.
fn wait_drift_told(operator: &Operator, hooks: &Hooks, fields: &Value, line: &str) {
    for (reason, severity) in [("DriftDetected", "warning"), ("DriftCorrected", "info")] {
        let body = operator.wait_for(&format!("{reason} of {fields} as JSON"), MINUTE, |_| {
            json_posted(&hooks.posted(), &hooks.json, reason)
                .into_iter()
                .find(|b| b["fields"] == *fields)
        });
        assert_eq!(body["warning"], severity == "warning", "{body}");
        assert_eq!(body["count"], 1, "{body}");
        let instance = body["instance"].as_str().unwrap_or_default();
        assert!(
            instance.starts_with(&format!("{}-", shoal::host::hostname())),
            "{body}"
        );
        let start = format!("{severity}: {reason} Service/web: ");
        operator.wait_for(&format!("{reason} with {line} on Slack"), MINUTE, |_| {
            slack_posted(&hooks.posted(), &hooks.slack, &start)
                .into_iter()
                .find(|t| t.contains(&format!("\n• {line}\n")) && t.contains("from shoal "))
        });
    }
}

#[test]
fn drift_is_notified_as_json_and_slack_without_secrets() {
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), web()).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let (operator, hooks) = start(&lab, dir.path(), logs.path());
    operator.wait_for("Service/web Synced and Healthy", MINUTE * 2, |o| {
        let r = o.resource("Service", "web");
        (r["sync"] == "Synced" && r["health"] == "Healthy").then_some(())
    });
    assert!(operator.event("Applied", Some("Service/web")).is_some());

    // Scaled by hand: detected and corrected, and both webhooks are told.
    lab.docker(&["service", "scale", "--detach", "web=5"]);
    let replicas = json!([{"path": "replicas", "desired": "2", "live": "5"}]);
    wait_drift_told(&operator, &hooks, &replicas, "replicas: desired 2, live 5");

    // An env value changed by hand: told as a drift of the variable, never its value.
    let by_hand = format!("DATABASE_URL=postgres://app:{HAND_SECRET}@db/app");
    lab.docker(&[
        "service",
        "update",
        "--detach",
        "--env-add",
        &by_hand,
        "web",
    ]);
    let hidden = json!([{"path": "env.DATABASE_URL", "desired": "(hidden)", "live": "(hidden)"}]);
    let line = "env.DATABASE_URL: desired (hidden), live (hidden)";
    wait_drift_told(&operator, &hooks, &hidden, line);
    let env = lab.service_field("web", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}");
    assert!(
        env.contains(DESIRED_SECRET),
        "web's env was not set back: {env}"
    );

    // The unreachable target's tries end, counted as failed and warned about (by host).
    operator.wait_for("a failed notification to 127.0.0.1:1", MINUTE * 2, |o| {
        notifications(o, "127.0.0.1:1", "failed").filter(|n| *n > 0)
    });
    let log = std::fs::read_to_string(&operator.log).unwrap();
    assert!(
        log.contains("\"to\":\"127.0.0.1:1\"") && log.contains("notification not delivered"),
        "no warning about the unreachable target in:\n{}",
        operator.log_tail()
    );
    assert!(
        !log.contains(HOOK_SECRET),
        "a webhook's path is in the log:\n{log}"
    );
    assert_only_what_was_due(&operator, &hooks);
    assert_eq!(operator.terminate(), Some(0));
}

/// Every request went to a webhook and is counted as sent; none tells of Applied (not a
/// default reason) or carries an env value.
fn assert_only_what_was_due(operator: &Operator, hooks: &Hooks) {
    let posted = hooks.posted();
    for (label, path) in [
        (format!("127.0.0.1:{RECEIVER_PORT}"), &hooks.json),
        (format!("127.0.0.1:{RECEIVER_PORT}#2"), &hooks.slack),
    ] {
        let received = posted.iter().filter(|p| p.path == *path).count() as u64;
        operator.wait_for(&format!("{received} sent to {label}"), MINUTE, |o| {
            (notifications(o, &label, "sent") == Some(received)).then_some(())
        });
        assert_eq!(notifications(operator, &label, "failed"), Some(0));
    }
    let elsewhere: Vec<&Posted> = posted
        .iter()
        .filter(|p| p.path != hooks.json && p.path != hooks.slack)
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:#?}");
    assert_eq!(
        json_posted(&posted, &hooks.json, "Applied"),
        Vec::<Value>::new()
    );
    let applied = slack_posted(&posted, &hooks.slack, "info: Applied");
    assert_eq!(applied, Vec::<String>::new());
    for request in &posted {
        for secret in [DESIRED_SECRET, HAND_SECRET] {
            assert!(
                !request.body.contains(secret),
                "{secret} posted: {request:?}"
            );
        }
    }
}
