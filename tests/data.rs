//! Secrets and Configs from desired-state under `shoal run`, in the lab: a generated
//! secret, an age-encrypted one and a Config reach the service's task; a new content of
//! the Config makes a new version, the service moves to it (its task restarts once) and
//! the old version goes; a key that cannot decrypt fails only that Secret (the version in
//! use stays, another change still applies); no value ever reaches the status, the events
//! or the log.

use std::path::Path;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use shoal_tests::operator::Operator;
use shoal_tests::{Lab, lab, stdout};

const TWO_MINUTES: Duration = Duration::from_secs(120);

fn web(replicas: u32) -> String {
    format!(
        "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: web
spec:
  image: lab/web:1
  replicas: {replicas}
  placement:
    constraints:
      - node.role == manager
  env:
    - name: API_KEY_FILE
      secretFile: api_key
  secrets:
    - source: token
  configs:
    - source: greeting
      target: /etc/greeting
  resources:
    limits:
      memory: 32M
"
    )
}

const DATA: &str = "apiVersion: shoal/v1alpha1
kind: Config
metadata:
  name: greeting
spec:
  file: greeting.txt
---
apiVersion: shoal/v1alpha1
kind: Secret
metadata:
  name: token
spec:
  age: token.age
---
apiVersion: shoal/v1alpha1
kind: Secret
metadata:
  name: api_key
spec:
  generate:
    length: 32
";

const TOKEN: &str = "tok-value-5f1c";

fn hash8(data: &str) -> String {
    Sha256::digest(data.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `age` identities written to `path`; their recipient.
fn age_key(path: &Path) -> age::x25519::Recipient {
    let identity = age::x25519::Identity::generate();
    std::fs::write(path, identity.to_string().expose_secret()).unwrap();
    identity.to_public()
}

fn encrypt(recipient: &age::x25519::Recipient, text: &str) -> String {
    age::encrypt_and_armor(recipient, text.as_bytes()).unwrap()
}

/// What `command` prints inside the web task's container on node1.
fn in_web(lab: &Lab, command: &str) -> String {
    let ps = lab.exec(
        "node1",
        &[
            "docker",
            "ps",
            "-q",
            "--filter",
            "label=com.docker.swarm.service.name=web",
        ],
    );
    let container = stdout(&ps).lines().next().unwrap_or_default().to_string();
    assert!(!container.is_empty(), "no web container on node1");
    stdout(&lab.exec(
        "node1",
        &["docker", "exec", &container, "sh", "-c", command],
    ))
}

/// The names of the swarm `kind`s (secret, config) shoal made of resource `name`.
fn versions(lab: &Lab, kind: &str, name: &str) -> Vec<String> {
    let filter = format!("label=io.shoal.resource={name}");
    let listed = lab.docker(&[kind, "ls", "--filter", &filter, "--format", "{{.Name}}"]);
    let mut names: Vec<String> = listed.lines().map(str::to_string).collect();
    names.sort();
    names
}

fn wait_synced(operator: &Operator, kind: &str, name: &str) {
    operator.wait_for(
        &format!("{kind}/{name} Synced and Healthy"),
        TWO_MINUTES,
        |o| {
            let r = o.resource(kind, name);
            (r["sync"] == "Synced" && r["health"] == "Healthy").then_some(())
        },
    );
}

fn task_count(lab: &Lab) -> usize {
    lab.docker(&["service", "ps", "-q", "web"]).lines().count()
}

#[test]
fn secrets_and_configs_reach_the_task_rotate_by_content_and_fail_alone() {
    let lab = lab();
    lab.reset();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("platform");
    std::fs::create_dir(&dir).unwrap();
    let key = scratch.path().join("key.txt");
    let recipient = age_key(&key);
    std::fs::write(dir.join("web.yaml"), web(1)).unwrap();
    std::fs::write(dir.join("data.yaml"), DATA).unwrap();
    std::fs::write(dir.join("greeting.txt"), "hello 1\n").unwrap();
    std::fs::write(dir.join("token.age"), encrypt(&recipient, TOKEN)).unwrap();
    let operator = lab.start_operator(
        19885,
        &scratch.path().join("run.log"),
        &[
            "--no-agents",
            "--age-key-file",
            key.to_str().unwrap(),
            "--lease-name",
            "shoal-lease-data",
            "--lease-ttl",
            "6s",
            dir.to_str().unwrap(),
        ],
    );
    for (kind, name) in [
        ("Config", "greeting"),
        ("Secret", "token"),
        ("Secret", "api_key"),
        ("Service", "web"),
    ] {
        wait_synced(&operator, kind, name);
    }
    let first = format!("greeting-{}", hash8("hello 1\n"));
    assert_eq!(versions(&lab, "config", "greeting"), [first]);
    assert_eq!(
        versions(&lab, "secret", "token"),
        [format!("token-{}", hash8(TOKEN))]
    );
    assert_eq!(in_web(&lab, "cat /etc/greeting"), "hello 1\n");
    assert_eq!(in_web(&lab, "cat /run/secrets/token"), TOKEN);
    let api_key = in_web(&lab, "cat \"$API_KEY_FILE\"");
    assert_eq!(api_key.len(), 32, "{api_key:?}");
    assert!(api_key.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(task_count(&lab), 1);

    // A new content: a new version, the service moved to it, the old one removed.
    std::fs::write(dir.join("greeting.txt"), "hello 2\n").unwrap();
    let second = format!("greeting-{}", hash8("hello 2\n"));
    operator.wait_for("the old greeting removed", TWO_MINUTES, |_| {
        (versions(&lab, "config", "greeting") == [second.clone()]).then_some(())
    });
    wait_synced(&operator, "Service", "web");
    assert_eq!(in_web(&lab, "cat /etc/greeting"), "hello 2\n");
    assert_eq!(task_count(&lab), 2, "the task restarted once");
    assert_eq!(
        in_web(&lab, "cat \"$API_KEY_FILE\""),
        api_key,
        "generated once"
    );

    // A key that cannot decrypt the token: only the Secret waits; the version in use
    // stays, and the service's own change (2 replicas) is made.
    let other = scratch.path().join("other-key.txt");
    std::fs::write(dir.join("token.age"), encrypt(&age_key(&other), "tok-new")).unwrap();
    std::fs::write(dir.join("web.yaml"), web(2)).unwrap();
    operator.wait_for("2 replicas of web", TWO_MINUTES, |_| {
        (lab.service_field("web", "{{.Spec.Mode.Replicated.Replicas}}") == "2").then_some(())
    });
    let token = operator.wait_for("Secret/token blocked", TWO_MINUTES, |o| {
        let r = o.resource("Secret", "token");
        (r["sync"] != "Synced").then_some(r)
    });
    let said = token.to_string();
    assert!(
        said.contains("cannot decrypt token.age: No matching keys found"),
        "{said}"
    );
    assert!(
        said.contains(&format!("token-{} stays in use", hash8(TOKEN))),
        "{said}"
    );
    assert_eq!(
        versions(&lab, "secret", "token"),
        [format!("token-{}", hash8(TOKEN))]
    );
    wait_synced(&operator, "Service", "web");

    // No value anywhere shoal speaks.
    let spoken = format!(
        "{}\n{}\n{}",
        operator.get("/api/v1/status").1,
        operator.get("/api/v1/events").1,
        std::fs::read_to_string(&operator.log).unwrap()
    );
    for value in [TOKEN, "tok-new", api_key.as_str(), "hello 1", "hello 2"] {
        assert!(!spoken.contains(value), "{value:?} was shown");
    }
    assert_eq!(operator.terminate(), Some(0));
}
