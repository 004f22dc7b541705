//! `shoal run` against the lab: it converges a desired-state directory and keeps it so
//! (drift corrected, or only reported), follows a git repository commit by commit (a bad
//! commit is not applied), survives a SIGKILL in the middle of an apply and a restart of
//! the engine, and of two instances exactly one acts.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use shoal_tests::operator::Operator;
use shoal_tests::{Lab, git, lab, stderr};

const WEB: &str = shoal_tests::WEB_SERVICE;

const REPORTED: &str = "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: reported
  annotations:
    shoal.io/drift: report
spec:
  image: lab/web:1
  replicas: 1
  resources:
    limits:
      memory: 32M
";

const MINUTE: Duration = Duration::from_secs(60);

fn replicas(lab: &Lab, service: &str) -> String {
    lab.service_field(service, "{{.Spec.Mode.Replicated.Replicas}}")
}

/// Waits until `Kind/name` is Synced and Healthy.
fn wait_synced(operator: &Operator, kind: &str, name: &str) {
    operator.wait_for(
        &format!("{kind}/{name} Synced and Healthy"),
        MINUTE * 2,
        |o| {
            let r = o.resource(kind, name);
            (r["sync"] == "Synced" && r["health"] == "Healthy").then_some(())
        },
    );
}

/// `shoal_reconciles_total` of services that found them in sync.
fn synced_reconciles(operator: &Operator) -> u64 {
    let (_, metrics) = operator.get("/metrics");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("shoal_reconciles_total{kind=\"Service\",result=\"synced\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn remove_lease(lab: &Lab, name: &str) {
    let _ = lab.docker_unchecked(&["config", "rm", name]);
}

#[test]
fn run_converges_and_corrects_or_reports_drift() {
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), WEB).unwrap();
    std::fs::write(dir.path().join("reported.yaml"), REPORTED).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let operator = lab.start_operator(
        19850,
        &logs.path().join("run.log"),
        &[
            "--no-agents",
            "--lease-name",
            "shoal-lease-drift",
            "--lease-ttl",
            "6s",
            dir.path().to_str().unwrap(),
        ],
    );
    wait_synced(&operator, "Service", "web");
    wait_synced(&operator, "Service", "reported");
    assert_eq!(operator.get("/readyz"), (200, "ready\n".to_string()));
    assert_eq!(operator.get("/healthz"), (200, "ok\n".to_string()));
    // It says which engine it talks to, and at which API version (the engine's own: both
    // lab engines are older than bollard's default).
    let engine = lab.docker(&[
        "version",
        "--format",
        "{{.Server.Version}} {{.Server.APIVersion}}",
    ]);
    let (release, api) = engine.split_once(' ').unwrap();
    let log = std::fs::read_to_string(&operator.log).unwrap();
    assert!(
        log.contains(&format!("connected to Docker Engine {release} (API {api})"))
            && log.contains(&format!("\"api\":\"{api}\"")),
        "no line naming engine {release} and API {api} in:\n{}",
        operator.log_tail()
    );

    // Someone scales web by hand: detected from the event stream and set back.
    let scaled = Instant::now();
    lab.docker(&["service", "scale", "--detach", "web=5"]);
    let corrected = operator.wait_for("DriftCorrected for web", MINUTE, |o| {
        o.event("DriftCorrected", Some("Service/web"))
    });
    let latency = scaled.elapsed();
    eprintln!("drift detection to correction, as seen by the test: {latency:?}");
    let detected = operator
        .event("DriftDetected", Some("Service/web"))
        .unwrap();
    assert_eq!(
        detected["fields"],
        serde_json::json!([{"path": "replicas", "desired": "2", "live": "5"}])
    );
    assert_eq!(corrected["fields"], detected["fields"]);
    assert_eq!(replicas(&lab, "web"), "2");

    // Under `report`, the same change is reported and left alone.
    lab.docker(&["service", "scale", "--detach", "reported=3"]);
    let reported = operator.wait_for("DriftReported for reported", MINUTE, |o| {
        o.event("DriftReported", Some("Service/reported"))
    });
    assert_eq!(
        reported["fields"],
        serde_json::json!([{"path": "replicas", "desired": "1", "live": "3"}])
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(replicas(&lab, "reported"), "3");
    assert!(
        operator
            .event("DriftCorrected", Some("Service/reported"))
            .is_none()
    );
    let status = operator.resource("Service", "reported");
    assert_eq!(status["sync"], "OutOfSync", "{status}");
    assert_eq!(
        status["conditions"][0]["reason"], "DriftReported",
        "{status}"
    );

    // Counted once per reconcile that finds it: web once, reported at least once.
    let (_, metrics) = operator.get("/metrics");
    let drift_events: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("shoal_drift_events_total{kind=\"Service\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(drift_events >= 2, "{metrics}");
    // `shoal status` prints the table and exits 1: one resource is out of sync.
    operator.wait_for("reported's 3 tasks running", MINUTE, |o| {
        (o.resource("Service", "reported")["health"] == "Healthy").then_some(())
    });
    let printed = lab.shoal(&["status", "--server", "http://127.0.0.1:19850"]);
    let table = String::from_utf8_lossy(&printed.stdout);
    assert_eq!(
        printed.status.code(),
        Some(1),
        "{table}{}",
        stderr(&printed)
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Service  reported  OutOfSync  Healthy  report ")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Service  web       Synced     Healthy  enforce")),
        "{table}"
    );

    // SIGTERM: a clean stop.
    assert_eq!(operator.terminate(), Some(0));
    remove_lease(&lab, "shoal-lease-drift");
}

fn commit(repo: &Path, file: &str, text: &str, message: &str) -> String {
    std::fs::create_dir_all(repo.join("platform")).unwrap();
    std::fs::write(repo.join("platform").join(file), text).unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

#[test]
fn run_follows_git_commits_and_refuses_a_bad_one() {
    let lab = lab();
    lab.reset();
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(repo.join("platform")).unwrap();
    std::fs::write(
        repo.join("platform/extra.yaml"),
        WEB.replace("name: web", "name: extra"),
    )
    .unwrap();
    let first = commit(&repo, "web.yaml", WEB, "web, 2 replicas; extra");
    let url = format!("file://{}", repo.display());
    let cache = scratch.path().join("cache");
    let operator = lab.start_operator(
        19851,
        &scratch.path().join("run.log"),
        &[
            "--no-agents",
            "--git-url",
            &url,
            "--git-ref",
            "main",
            "--git-path",
            "platform",
            "--git-interval",
            "1s",
            "--git-cache",
            cache.to_str().unwrap(),
            "--lease-name",
            "shoal-lease-git",
            "--lease-ttl",
            "6s",
        ],
    );
    wait_synced(&operator, "Service", "web");
    wait_synced(&operator, "Service", "extra");
    assert_eq!(operator.status()["revision"], first.as_str());
    assert_eq!(
        lab.service_field("web", "{{index .Spec.Labels \"io.shoal.revision\"}}"),
        first
    );

    // A commit changing replicas is applied, and recorded.
    let second = commit(
        &repo,
        "web.yaml",
        &WEB.replace("replicas: 2", "replicas: 3"),
        "3 replicas",
    );
    operator.wait_for("the second commit applied", MINUTE, |o| {
        let web = o.resource("Service", "web");
        (web["last_applied_revision"] == second.as_str()).then_some(())
    });
    assert_eq!(replicas(&lab, "web"), "3");
    assert_eq!(operator.status()["revision"], second.as_str());
    // Where it comes from and which commit, as the dashboard's header shows them.
    let source = &operator.status()["source"];
    assert_eq!(
        (
            &source["kind"],
            &source["location"],
            &source["reference"],
            &source["path"]
        ),
        (
            &serde_json::json!("git"),
            &serde_json::json!(url),
            &serde_json::json!("main"),
            &serde_json::json!("platform")
        )
    );
    assert_eq!(source["commit"]["subject"], "3 replicas");
    assert!(source["last_fetch"].is_string(), "{source}");
    assert_eq!(
        lab.service_field("web", "{{index .Spec.Labels \"io.shoal.revision\"}}"),
        second
    );

    // A commit that deletes a resource prunes its service.
    git(&repo, &["rm", "-q", "platform/extra.yaml"]);
    git(&repo, &["commit", "-q", "-m", "no more extra"]);
    let pruned = git(&repo, &["rev-parse", "HEAD"]);
    operator.wait_for("extra pruned", MINUTE, |o| {
        o.event("Applied", Some("Service/extra"))
            .filter(|e| e["message"] == "deleted (no longer in desired-state)")
    });
    assert!(
        !lab.docker(&["service", "ls", "--format", "{{.Name}}"])
            .lines()
            .any(|l| l == "extra")
    );

    // A bad commit: not applied, the event names file, line and field; the last good
    // revision stays in force.
    let bad = commit(
        &repo,
        "web.yaml",
        &WEB.replace("replicas: 2", "replicas: many"),
        "a typo",
    );
    let invalid = operator.wait_for("the bad commit refused", MINUTE, |o| {
        o.event("InvalidRevision", None)
    });
    let message = invalid["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("desired-state {} is invalid", &bad[..12])),
        "{message}"
    );
    assert!(message.contains("web.yaml:7:"), "{message}");
    assert!(message.contains("spec.replicas"), "{message}");
    assert_eq!(invalid["revision"], bad.as_str());
    assert_eq!(operator.status()["revision"], pruned.as_str());
    assert_eq!(
        operator.status()["source"]["commit"]["subject"],
        "no more extra"
    );
    let (code, why) = operator.get("/readyz");
    assert_eq!(code, 200, "{why}");
    assert_eq!(replicas(&lab, "web"), "3");

    // The repository goes away: an event, and the last good revision stays.
    let moved = scratch.path().join("moved");
    std::fs::rename(&repo, &moved).unwrap();
    let failed = operator.wait_for("a failed fetch reported", MINUTE, |o| {
        o.event("SourceFailed", None)
    });
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.starts_with("git sync failed, the last good revision stays: fetching"),
        "{message}"
    );
    assert_eq!(operator.status()["revision"], pruned.as_str());
    // The fetch error replaced the bad commit's own, before the repository comes back.
    let during = operator.status()["readiness"]["source_error"].clone();
    assert!(
        during
            .as_str()
            .is_some_and(|e| e.starts_with("git sync failed, the last good revision stays")),
        "{during}"
    );
    // Back: the fetch error clears; the newest revision's own error (the bad commit) stays.
    std::fs::rename(&moved, &repo).unwrap();
    operator.wait_for("the fetch error cleared", MINUTE, |o| {
        let error = o.status()["readiness"]["source_error"].clone();
        error
            .as_str()
            .is_some_and(|e| e.starts_with(&format!("desired-state {} is invalid", &bad[..12])))
            .then_some(())
    });

    assert_eq!(operator.terminate(), Some(0));
    remove_lease(&lab, "shoal-lease-git");
}

#[test]
fn a_killed_operator_converges_after_restart_leaving_what_it_made_untouched() {
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "svc-a", "svc-b", "svc-c", "svc-d", "svc-e", "svc-f", "svc-g", "svc-h", "svc-i", "svc-j",
    ];
    for name in names {
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            WEB.replace("name: web", &format!("name: {name}")),
        )
        .unwrap();
    }
    let args = [
        "--no-agents",
        "--concurrency",
        "1",
        "--lease-name",
        "shoal-lease-kill",
        "--lease-ttl",
        "6s",
        dir.path().to_str().unwrap(),
    ];
    let logs = tempfile::tempdir().unwrap();
    // Each creation takes a second longer than it should, so the kill lands mid-apply.
    let operator = lab.start_operator_with(
        19852,
        &logs.path().join("run-1.log"),
        &args,
        &[("SHOAL_FAULT_CREATE_DELAY", "1s")],
    );
    // Killed as soon as it has created something, with more left to do.
    operator.wait_for("a first service applied", MINUTE, |o| {
        o.event("Applied", None)
    });
    operator.kill();
    let before = lab.docker(&["service", "ls", "--format", "{{.Name}}"]);
    assert!(
        before.lines().count() < names.len(),
        "the kill came too late: {before}"
    );
    // What was created before the kill, by ID and version: kept as it is, not made again.
    let identity = |name: &str| lab.service_field(name, "{{.ID}} {{.Version.Index}}");
    let created: Vec<(String, String)> = before
        .lines()
        .map(|name| (name.to_string(), identity(name)))
        .collect();
    assert!(!created.is_empty());

    // Restarted, it waits out its own stale lease and finishes the work.
    let operator = lab.start_operator(19852, &logs.path().join("run-2.log"), &args);
    for name in names {
        wait_synced(&operator, "Service", name);
    }
    let mut listed: Vec<String> = lab
        .docker(&["service", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(String::from)
        .collect();
    listed.sort();
    assert_eq!(listed, names);
    for (name, before) in &created {
        assert_eq!(
            &identity(name),
            before,
            "{name} was written again after the restart"
        );
    }
    assert_eq!(operator.terminate(), Some(0));
    remove_lease(&lab, "shoal-lease-kill");
}

#[test]
fn the_event_stream_reconnects_after_an_engine_restart() {
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), WEB).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let operator = lab.start_operator(
        19853,
        &logs.path().join("run.log"),
        &[
            "--no-agents",
            "--lease-name",
            "shoal-lease-restart",
            "--lease-ttl",
            "6s",
            dir.path().to_str().unwrap(),
        ],
    );
    wait_synced(&operator, "Service", "web");

    // node1's engine stops (SIGTERM, as systemctl restart does) and `lab up` starts it.
    let pid = std::fs::read_to_string("/var/lib/shoal-lab/node1/dockerd.pid").unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + MINUTE;
    while Path::new(&format!("/proc/{}", pid.trim())).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    // While the engine is away the instance says so: not ready, an event, still live.
    let (_, unready) = operator.wait_for("/readyz 503 during the outage", MINUTE, |o| {
        Some(o.get("/readyz")).filter(|(code, _)| *code == 503)
    });
    assert_eq!(
        unready,
        "engine unreachable: the events stream ended; waiting for the engine\n"
    );
    assert!(operator.event("EngineUnreachable", None).is_some());
    assert_eq!(operator.get("/healthz"), (200, "ok\n".to_string()));
    // No reconcile succeeds while the engine is away: counted from here, one that does is
    // after the return.
    let synced_before_return = synced_reconciles(&operator);
    let up = Command::new(shoal_tests::repo_root().join("deploy/lab/lab"))
        .arg("up")
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    operator.wait_for("the event stream reopened", MINUTE * 2, |o| {
        o.event("EventStreamReconnected", None)
    });
    let (_, metrics) = operator.get("/metrics");
    let reconnects: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("shoal_event_stream_reconnects_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(reconnects >= 1, "{metrics}");

    operator.wait_for("ready again", MINUTE, |o| {
        (o.get("/readyz").0 == 200).then_some(())
    });

    // Drift is still caught through the new stream: the relist after the reconnect has
    // reconciled web (Synced, Healthy), so no recheck is pending, and the correcting
    // reconcile's span names the engine event.
    operator.wait_for("a reconcile after the return", MINUTE, |o| {
        (synced_reconciles(o) > synced_before_return).then_some(())
    });
    wait_synced(&operator, "Service", "web");
    lab.docker(&["service", "scale", "--detach", "web=4"]);
    operator.wait_for("DriftCorrected after the restart", MINUTE, |o| {
        o.event("DriftCorrected", Some("Service/web"))
    });
    assert_eq!(replicas(&lab, "web"), "2");
    let log = std::fs::read_to_string(logs.path().join("run.log")).unwrap();
    let corrected = log
        .lines()
        .rfind(|l| l.contains("\"reason\":\"DriftCorrected\""))
        .unwrap_or_else(|| panic!("no DriftCorrected in the log:\n{log}"));
    assert!(
        corrected.contains("\"reason\":\"EngineEvent\""),
        "not corrected on an engine event: {corrected}"
    );
    assert_eq!(operator.terminate(), Some(0));
    remove_lease(&lab, "shoal-lease-restart");
}

/// A web service whose updates roll back when a task fails.
const ROLLOUT: &str = "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: rollout
spec:
  image: lab/web:1
  replicas: 2
  updateConfig:
    failureAction: rollback
    monitor: 5s
  resources:
    limits:
      memory: 32M
";

#[test]
fn a_spec_swarm_rolled_back_is_reported_once_and_not_written_again() {
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rollout.yaml");
    std::fs::write(&file, ROLLOUT).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let operator = lab.start_operator(
        19855,
        &logs.path().join("run.log"),
        &[
            "--no-agents",
            "--resync",
            "10s",
            "--lease-name",
            "shoal-lease-rollback",
            "--lease-ttl",
            "6s",
            dir.path().to_str().unwrap(),
        ],
    );
    wait_synced(&operator, "Service", "rollout");

    // A commit whose tasks exit at once: swarm rolls the update back.
    let failing = ROLLOUT.replace(
        "  replicas: 2\n",
        "  replicas: 2\n  command: [\"/bin/sh\", \"-c\", \"exit 3\"]\n",
    );
    std::fs::write(&file, failing).unwrap();
    let reported = operator.wait_for("ApplyFailed after the rollback", MINUTE * 2, |o| {
        o.event("ApplyFailed", Some("Service/rollout"))
    });
    let message = reported["message"].as_str().unwrap();
    assert!(
        message.starts_with("swarm rolled the update back (")
            && message.ends_with("): fix desired-state; shoal will not write this spec again"),
        "{message}"
    );
    let rolled_back = || lab.service_field("rollout", "{{.UpdateStatus.State}}");
    operator.wait_for("swarm's rollback completed", MINUTE, |_| {
        (rolled_back() == "rollback_completed").then_some(())
    });
    let version = || lab.service_field("rollout", "{{.Version.Index}}");
    let before = version();

    // Resyncs every 10 s and the engine's own events trigger reconciles: none writes.
    std::thread::sleep(MINUTE);
    assert_eq!(version(), before, "shoal wrote the rolled-back spec again");
    assert_eq!(rolled_back(), "rollback_completed");
    let failures: Vec<serde_json::Value> = operator
        .events()
        .into_iter()
        .filter(|e| e["resource"] == "Service/rollout")
        .filter(|e| {
            ["ApplyFailed", "DriftDetected", "DriftCorrected"]
                .contains(&e["reason"].as_str().unwrap())
        })
        .collect();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert_eq!(failures[0]["count"], 1, "{failures:#?}");
    let status = operator.resource("Service", "rollout");
    assert_eq!(status["sync"], "OutOfSync", "{status}");
    assert_eq!(status["health"], "Degraded", "{status}");
    assert_eq!(
        status["conditions"][0]["reason"], "RolloutFailed",
        "{status}"
    );
    let (_, metrics) = operator.get("/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l
                .starts_with("shoal_reconciles_total{kind=\"Service\",result=\"rolled_back\"} ")),
        "{metrics}"
    );

    // Fixed in desired-state: written and converged.
    std::fs::write(&file, ROLLOUT.replace("replicas: 2", "replicas: 3")).unwrap();
    wait_synced(&operator, "Service", "rollout");
    assert_eq!(replicas(&lab, "rollout"), "3");
    assert_eq!(operator.terminate(), Some(0));
    remove_lease(&lab, "shoal-lease-rollback");
}

#[test]
fn of_two_instances_exactly_one_acts_and_the_other_takes_over() {
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), WEB).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let start = |port: u16, identity: &str| {
        lab.start_operator(
            port,
            &logs.path().join(format!("{identity}.log")),
            &[
                "--no-agents",
                "--identity",
                identity,
                "--lease-name",
                "shoal-lease-pair",
                "--lease-ttl",
                "6s",
                dir.path().to_str().unwrap(),
            ],
        )
    };
    let first = start(19854, "first");
    first.wait_for("first acting", MINUTE, |o| {
        (o.get("/readyz").0 == 200).then_some(())
    });
    let second = start(19855, "second");
    let (code, why) = second.wait_for("second standing by", MINUTE, |o| {
        let (code, why) = o.get("/readyz");
        why.contains("standby").then_some((code, why))
    });
    assert_eq!(
        (code, why.as_str()),
        (503, "standby: waiting for the lease held by first\n")
    );
    wait_synced(&first, "Service", "web");

    lab.docker(&["service", "scale", "--detach", "web=3"]);
    first.wait_for("first corrects", MINUTE, |o| {
        o.event("DriftCorrected", Some("Service/web"))
    });
    assert!(second.event("DriftDetected", None).is_none());
    assert!(second.event("Applied", None).is_none());

    // The acting one dies without a word: the other takes over once the lease is stale.
    first.kill();
    second.wait_for("second acting", MINUTE, |o| {
        (o.get("/readyz").0 == 200).then_some(())
    });
    assert!(second.event("LeaseAcquired", None).is_some());
    lab.docker(&["service", "scale", "--detach", "web=4"]);
    second.wait_for("second corrects", MINUTE, |o| {
        o.event("DriftCorrected", Some("Service/web"))
    });
    assert_eq!(replicas(&lab, "web"), "2");

    // SIGTERM gives the lease up: the next instance takes it on its first attempt, without
    // waiting for it to go stale.
    assert_eq!(second.terminate(), Some(0));
    let renewed = lab.docker(&[
        "config",
        "inspect",
        "shoal-lease-pair",
        "--format",
        "{{index .Spec.Labels \"io.shoal.lease.renewed\"}}",
    ]);
    assert_eq!(renewed.trim(), "0");
    let third = start(19857, "third");
    third.wait_for("third acting", MINUTE, |o| {
        (o.get("/readyz").0 == 200).then_some(())
    });
    assert!(third.event("LeaseAcquired", None).is_some());
    assert_eq!(third.event("LeaseWaiting", None), None);
    assert_eq!(third.terminate(), Some(0));
    remove_lease(&lab, "shoal-lease-pair");
}

/// `name` publishing `port` in ingress mode.
fn publishing(name: &str, port: u16) -> String {
    format!("{WEB}  ports:\n    - target: 8080\n      published: {port}\n")
        .replace("name: web", &format!("name: {name}"))
}

fn events_about(operator: &Operator, reason: &str, resource: &str) -> Vec<serde_json::Value> {
    operator
        .events()
        .into_iter()
        .filter(|e| e["reason"] == reason && e["resource"] == resource)
        .collect()
}

fn version(lab: &Lab, service: &str) -> String {
    lab.service_field(service, "{{.Version.Index}}")
}

/// One operator through a directory's life: converged, it writes nothing over resyncs;
/// an edit under `report` is a change, not drift; a spec the engine rejects is written
/// once; a deleted file prunes its service, a deletion of every service is refused; after
/// a restart, drift is still known from the spec-hash label.
#[test]
fn a_directory_followed_through_edits_rejections_and_deletions() {
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, text: &str| std::fs::write(dir.path().join(file), text).unwrap();
    write("web.yaml", WEB);
    write("reported.yaml", REPORTED);
    let logs = tempfile::tempdir().unwrap();
    let args = [
        "--no-agents",
        "--resync",
        "5s",
        "--lease-name",
        "shoal-lease-dir",
        "--lease-ttl",
        "6s",
        dir.path().to_str().unwrap(),
    ];
    let operator = lab.start_operator(19856, &logs.path().join("run-1.log"), &args);
    wait_synced(&operator, "Service", "web");
    wait_synced(&operator, "Service", "reported");

    // Converged: resyncs (every 5 s, give or take a tenth) and their reconciles, at least
    // three of each service in 22 s, write nothing.
    let before = (version(&lab, "web"), version(&lab, "reported"));
    let synced = synced_reconciles;
    let synced_before = synced(&operator);
    std::thread::sleep(Duration::from_secs(22));
    assert_eq!((version(&lab, "web"), version(&lab, "reported")), before);
    assert!(
        synced(&operator) >= synced_before + 6,
        "{} then {}",
        synced_before,
        synced(&operator)
    );

    // An edit of a resource under `report` is desired-state changing: applied.
    write(
        "reported.yaml",
        &REPORTED.replace("replicas: 1", "replicas: 2"),
    );
    operator.wait_for("reported updated", MINUTE, |o| {
        o.event("Applied", Some("Service/reported"))
            .filter(|e| e["message"] == "updated in place")
    });
    assert_eq!(replicas(&lab, "reported"), "2");
    assert_eq!(
        events_about(&operator, "DriftReported", "Service/reported"),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(
        events_about(&operator, "DriftDetected", "Service/reported"),
        Vec::<serde_json::Value>::new()
    );

    // A port an unmanaged service holds: the engine rejects the create (400), once.
    lab.docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        "squatter",
        "--publish",
        "28090:8080",
        "lab/web:1",
    ]);
    write("taker.yaml", &publishing("taker", 28090));
    let failed = operator.wait_for("taker rejected", MINUTE, |o| {
        o.event("ApplyFailed", Some("Service/taker"))
    });
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{failed}"
    );
    std::thread::sleep(Duration::from_secs(12));
    let failures = events_about(&operator, "ApplyFailed", "Service/taker");
    assert_eq!(
        (failures.len(), &failures[0]["count"]),
        (1, &serde_json::json!(1)),
        "{failures:#?}"
    );
    let status = operator.resource("Service", "taker");
    assert_eq!(
        (&status["sync"], &status["conditions"][0]["reason"]),
        (
            &serde_json::json!("OutOfSync"),
            &serde_json::json!("ApplyFailed")
        ),
        "{status}"
    );
    // Fixed in desired-state: created.
    write("taker.yaml", &publishing("taker", 28091));
    wait_synced(&operator, "Service", "taker");

    // A deleted file prunes its service; deleting every service is refused.
    std::fs::remove_file(dir.path().join("reported.yaml")).unwrap();
    operator.wait_for("reported pruned", MINUTE, |o| {
        o.event("Applied", Some("Service/reported"))
            .filter(|e| e["message"] == "deleted (no longer in desired-state)")
    });
    assert!(
        !lab.docker(&["service", "ls", "--format", "{{.Name}}"])
            .lines()
            .any(|l| l == "reported")
    );
    std::fs::remove_file(dir.path().join("web.yaml")).unwrap();
    std::fs::remove_file(dir.path().join("taker.yaml")).unwrap();
    operator.wait_for("the mass prune refused", MINUTE, |o| {
        o.event("PruneRefused", None)
    });
    std::thread::sleep(Duration::from_secs(3));
    let mut left: Vec<String> = lab
        .docker(&["service", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(String::from)
        .collect();
    left.sort();
    assert_eq!(left, ["squatter", "taker", "web"]);
    write("web.yaml", WEB);
    write("taker.yaml", &publishing("taker", 28091));
    assert_eq!(operator.terminate(), Some(0));

    // Scaled while no operator runs: the restarted one remembers nothing, but web's
    // spec-hash label names the desired spec it was written from, so this is drift.
    lab.docker(&["service", "scale", "--detach", "web=3"]);
    let operator = lab.start_operator(19856, &logs.path().join("run-2.log"), &args);
    let corrected = operator.wait_for("DriftCorrected after a restart", MINUTE, |o| {
        o.event("DriftCorrected", Some("Service/web"))
    });
    assert_eq!(
        corrected["fields"],
        serde_json::json!([{"path": "replicas", "desired": "2", "live": "3"}])
    );
    assert_eq!(replicas(&lab, "web"), "2");
    assert_eq!(operator.terminate(), Some(0));
    remove_lease(&lab, "shoal-lease-dir");
}

/// With `--poll-interval`, the directory is polled (no inotify watch exists then; the log
/// names the watcher of each change), through a symlink that a git-sync sidecar swaps to
/// a new checkout.
#[test]
fn a_polled_directory_behind_a_swapped_symlink_is_followed() {
    let lab = lab();
    lab.reset();
    let root = tempfile::tempdir().unwrap();
    let (first, second) = (root.path().join("rev-1"), root.path().join("rev-2"));
    std::fs::create_dir(&first).unwrap();
    std::fs::create_dir(&second).unwrap();
    std::fs::write(first.join("web.yaml"), WEB).unwrap();
    let current = root.path().join("current");
    std::os::unix::fs::symlink(&first, &current).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("run.log");
    let operator = lab.start_operator(
        19858,
        &log,
        &[
            "--no-agents",
            "--poll-interval",
            "1s",
            "--lease-name",
            "shoal-lease-poll",
            "--lease-ttl",
            "6s",
            current.to_str().unwrap(),
        ],
    );
    wait_synced(&operator, "Service", "web");

    // An edit in place, seen by polling.
    std::fs::write(
        first.join("web.yaml"),
        WEB.replace("replicas: 2", "replicas: 3"),
    )
    .unwrap();
    operator.wait_for("web scaled to 3", MINUTE, |_| {
        (replicas(&lab, "web") == "3").then_some(())
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let seen: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("desired-state changed"))
        .collect();
    assert!(!seen.is_empty(), "{text}");
    assert!(
        seen.iter().all(|l| l.contains("\"watcher\":\"poll\"")),
        "{seen:#?}"
    );

    // git-sync's swap: a new link renamed over the old one.
    std::fs::write(
        second.join("web.yaml"),
        WEB.replace("replicas: 2", "replicas: 1"),
    )
    .unwrap();
    let swap = root.path().join("current.tmp");
    std::os::unix::fs::symlink(&second, &swap).unwrap();
    std::fs::rename(&swap, &current).unwrap();
    operator.wait_for("web scaled to 1 from the new checkout", MINUTE, |_| {
        (replicas(&lab, "web") == "1").then_some(())
    });
    assert_eq!(operator.terminate(), Some(0));
    remove_lease(&lab, "shoal-lease-poll");
}
