//! Commit -> converged under `shoal run --git-url`, through a push webhook against the
//! poll, in the lab (a benchmark, never a timed assertion). Needs root and the lab (it
//! brings it up). The operator is the release build.
//!
//! `cargo bench -p shoal-tests --bench webhook_latency` (ROUNDS=N per way, 10 by default;
//! POLL=10s for the operator's `--git-interval`). One operator, both ways alternating:
//! each round commits web's replicas (2 <-> 3) to a local repository; a webhook round then
//! POSTs a GitHub-signed push, a poll round waits for the next fetch. The time from the
//! commit to `docker service ls` showing every task of the new count running is the
//! latency.

use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use shoal_tests::bench::{Spread, use_release_build};
use shoal_tests::{Lab, WEB_SERVICE, git, lab};

const PORT: u16 = 19884;
const SECRET: &str = "bench-webhook-secret";

fn commit(repo: &Path, replicas: u32) {
    let text = WEB_SERVICE.replace("replicas: 2", &format!("replicas: {replicas}"));
    std::fs::write(repo.join("platform/web.yaml"), text).unwrap();
    git(repo, &["commit", "-qam", &format!("web: {replicas}")]);
}

fn push() {
    let body = r#"{"ref":"refs/heads/main","repository":{"default_branch":"main"}}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let answer = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{PORT}/api/v1/webhook/git"))
        .header("X-GitHub-Event", "push")
        .header("X-Hub-Signature-256", signature)
        .body(body)
        .send()
        .expect("shoal run answers");
    assert_eq!(answer.status().as_u16(), 202);
}

/// Waits until web runs `replicas` of `replicas` tasks; the time since `from`.
fn converged(lab: &Lab, replicas: u32, from: Instant) -> Duration {
    let wanted = format!("{replicas}/{replicas}");
    loop {
        let shown = lab.docker(&[
            "service",
            "ls",
            "--filter",
            "name=web",
            "--format",
            "{{.Replicas}}",
        ]);
        if shown.trim() == wanted {
            return from.elapsed();
        }
        assert!(
            from.elapsed() < Duration::from_secs(120),
            "web never ran {wanted}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let poll = std::env::var("POLL").unwrap_or_else(|_| "10s".into());
    use_release_build();
    let lab = lab();
    lab.reset();
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("repo");
    std::fs::create_dir_all(repo.join("platform")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("platform/web.yaml"), WEB_SERVICE).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "web"]);
    let secret = scratch.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    let url = format!("file://{}", repo.display());
    let cache = scratch.path().join("cache");
    let operator = lab.start_operator(
        PORT,
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
            &poll,
            "--git-cache",
            cache.to_str().unwrap(),
            "--webhook-secret-file",
            secret.to_str().unwrap(),
            "--lease-name",
            "shoal-lease-bench-webhook",
            "--lease-ttl",
            "6s",
        ],
    );
    converged(&lab, 2, Instant::now());
    let (mut webhook, mut polled) = (Vec::new(), Vec::new());
    let mut replicas = 2;
    for round in 0..rounds * 2 {
        replicas = if replicas == 2 { 3 } else { 2 };
        commit(&repo, replicas);
        let committed = Instant::now();
        if round % 2 == 0 {
            push();
            webhook.push(converged(&lab, replicas, committed));
        } else {
            polled.push(converged(&lab, replicas, committed));
        }
    }
    println!(
        "commit -> converged over {rounds} rounds each (min / median / max): webhook {}, poll every {poll} {}",
        Spread::of(&webhook),
        Spread::of(&polled)
    );
    assert_eq!(operator.terminate(), Some(0));
    let _ = lab.docker_unchecked(&["config", "rm", "shoal-lease-bench-webhook"]);
}
