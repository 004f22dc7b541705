//! Push webhooks under `shoal run --git-url`, in the lab: with the poll an hour away,
//! only the webhook can make it fetch. A wrongly signed push changes nothing; a signed
//! push from GitHub, Gitea or GitLab to the followed branch brings the new commit in; a
//! push to another branch is ignored.

use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use shoal_tests::operator::Operator;
use shoal_tests::{WEB_SERVICE, git, lab};

const PORT: u16 = 19883;
const SECRET: &str = "lab-webhook-secret";

/// Commits web with `replicas`; the new commit.
fn commit(repo: &Path, replicas: u32) -> String {
    let text = WEB_SERVICE.replace("replicas: 2", &format!("replicas: {replicas}"));
    std::fs::write(repo.join("platform/web.yaml"), text).unwrap();
    git(
        repo,
        &["commit", "-qam", &format!("web: {replicas} replicas")],
    );
    git(repo, &["rev-parse", "HEAD"])
}

fn hmac_hex(body: &str, secret: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// POSTs a push of `reference` with `headers`; the answer's status and text.
fn push(headers: &[(&str, String)], body: &str) -> (u16, String) {
    let client = reqwest::blocking::Client::new();
    let mut request = client
        .post(format!("http://127.0.0.1:{PORT}/api/v1/webhook/git"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let answer = request.send().expect("shoal run answers");
    (answer.status().as_u16(), answer.text().unwrap())
}

fn push_body(reference: &str) -> String {
    format!(
        r#"{{"ref":"{reference}","repository":{{"full_name":"ops/platform","default_branch":"main"}}}}"#
    )
}

fn github(body: &str, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("X-GitHub-Event", "push".into()),
        (
            "X-Hub-Signature-256",
            format!("sha256={}", hmac_hex(body, secret)),
        ),
    ]
}

fn revision(operator: &Operator) -> String {
    operator.status()["revision"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_revision(operator: &Operator, sha: &str) {
    operator.wait_for(&format!("revision {sha}"), Duration::from_secs(60), |o| {
        (revision(o) == sha).then_some(())
    });
}

#[test]
fn a_signed_push_fetches_at_once_and_anything_else_changes_nothing() {
    let lab = lab();
    lab.reset();
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("repo");
    std::fs::create_dir_all(repo.join("platform")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("platform/web.yaml"), WEB_SERVICE).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "web"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    let secret_file = scratch.path().join("webhook-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
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
            "1h",
            "--git-cache",
            cache.to_str().unwrap(),
            "--webhook-secret-file",
            secret_file.to_str().unwrap(),
            "--lease-name",
            "shoal-lease-webhook",
            "--lease-ttl",
            "6s",
        ],
    );
    wait_revision(&operator, &first);

    // A new commit, and a push signed with another secret: 401, nothing fetched.
    let second = commit(&repo, 3);
    let body = push_body("refs/heads/main");
    let (status, text) = push(&github(&body, "not-the-secret"), &body);
    assert_eq!(
        (status, text.as_str()),
        (
            401,
            "unauthorized: the signature does not match the body and the secret\n"
        )
    );
    // Another branch, signed: ignored.
    let other = push_body("refs/heads/feature");
    let (status, text) = push(&github(&other, SECRET), &other);
    assert_eq!(
        (status, text.as_str()),
        (
            200,
            "ignored: a push to refs/heads/feature, following main\n"
        )
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(revision(&operator), first, "nothing was fetched");

    // Signed, to main: fetched at once (the poll is an hour away).
    let sent = Instant::now();
    let (status, _) = push(&github(&body, SECRET), &body);
    assert_eq!(status, 202);
    wait_revision(&operator, &second);
    eprintln!("GitHub push -> revision in force: {:?}", sent.elapsed());
    operator.wait_for("3 replicas", Duration::from_secs(60), |_| {
        (lab.service_field("web", "{{.Spec.Mode.Replicated.Replicas}}") == "3").then_some(())
    });

    // Gitea and GitLab, each their own way.
    let third = commit(&repo, 4);
    let gitea = vec![
        ("X-Gitea-Event", "push".to_string()),
        ("X-Gitea-Signature", hmac_hex(&body, SECRET)),
    ];
    assert_eq!(push(&gitea, &body).0, 202);
    wait_revision(&operator, &third);
    let fourth = commit(&repo, 2);
    let gitlab = vec![
        ("X-Gitlab-Event", "Push Hook".to_string()),
        ("X-Gitlab-Token", SECRET.to_string()),
    ];
    assert_eq!(push(&gitlab, &body).0, 202);
    wait_revision(&operator, &fourth);

    let log = std::fs::read_to_string(&operator.log).unwrap();
    assert!(!log.contains(SECRET), "the secret reached the log");
    assert_eq!(operator.terminate(), Some(0));
}
