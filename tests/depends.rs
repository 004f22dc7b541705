//! `dependsOn` under `shoal run`, in the lab: a service that depends on another is created
//! only once the other's tasks all run, and when both change in one revision, the
//! dependent's rollout starts after the dependency's has completed.

use std::time::{Duration, Instant};

use shoal_tests::operator::Operator;
use shoal_tests::{Lab, lab};

const TWO_MINUTES: Duration = Duration::from_secs(120);

fn service(name: &str, image: &str, depends_on: &str) -> String {
    format!(
        "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: {name}
spec:
  image: {image}
  replicas: 2
  dependsOn: {depends_on}
  updateConfig:
    parallelism: 1
    delay: 3s
  resources:
    limits:
      memory: 32M
"
    )
}

fn wait_synced(operator: &Operator, name: &str) {
    operator.wait_for(&format!("Service/{name} Synced"), TWO_MINUTES, |o| {
        let r = o.resource("Service", name);
        (r["sync"] == "Synced" && r["health"] == "Healthy").then_some(())
    });
}

/// `docker service ls`: each service's name and `running/desired`.
fn replicas(lab: &Lab) -> Vec<(String, String)> {
    lab.docker(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, replicas)| (name.to_string(), replicas.to_string()))
        .collect()
}

fn update_time(lab: &Lab, service: &str, field: &str) -> humantime::Timestamp {
    let format = format!("{{{{.UpdateStatus.{field}}}}}");
    let text = lab.service_field(service, &format);
    let rfc3339 = text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join("T")
        + "Z";
    rfc3339
        .parse()
        .unwrap_or_else(|e| panic!("{service} {field} {text:?}: {e}"))
}

#[test]
fn a_dependent_is_created_and_rolled_out_only_after_its_dependency() {
    let lab = lab();
    lab.reset();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("platform");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("base.yaml"), service("base", "lab/web:1", "[]")).unwrap();
    std::fs::write(
        dir.join("app.yaml"),
        service("app", "lab/web:1", "[Service/base]"),
    )
    .unwrap();
    let operator = lab.start_operator(
        19882,
        &scratch.path().join("run.log"),
        &[
            "--no-agents",
            "--lease-name",
            "shoal-lease-depends",
            "--lease-ttl",
            "6s",
            dir.to_str().unwrap(),
        ],
    );
    // The first moment app exists, base already runs all its tasks.
    let deadline = Instant::now() + TWO_MINUTES;
    let base_when_app_appeared = loop {
        let listed = replicas(&lab);
        if listed.iter().any(|(name, _)| name == "app") {
            break listed.into_iter().find(|(name, _)| name == "base");
        }
        assert!(Instant::now() < deadline, "app never created");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        base_when_app_appeared,
        Some(("base".to_string(), "2/2".to_string()))
    );
    let waited = operator.events().into_iter().any(|e| {
        e["resource"] == "Service/app"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("waiting for Service/base (dependsOn)"))
    });
    assert!(waited, "no event told app waited: {:#?}", operator.events());
    wait_synced(&operator, "base");
    wait_synced(&operator, "app");

    // Both change in one revision: app's rollout starts once base's has completed.
    std::fs::write(dir.join("base.yaml"), service("base", "lab/web:2", "[]")).unwrap();
    std::fs::write(
        dir.join("app.yaml"),
        service("app", "lab/web:2", "[Service/base]"),
    )
    .unwrap();
    operator.wait_for("app on lab/web:2", TWO_MINUTES * 2, |_| {
        let image = lab.service_field("app", "{{.Spec.TaskTemplate.ContainerSpec.Image}}");
        let state = lab.service_field("app", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}");
        (image.starts_with("lab/web:2") && state == "completed").then_some(())
    });
    let base_done = update_time(&lab, "base", "CompletedAt");
    let app_started = update_time(&lab, "app", "StartedAt");
    assert!(
        std::time::SystemTime::from(app_started) >= std::time::SystemTime::from(base_done),
        "app's rollout started at {app_started}, before base's completed at {base_done}"
    );
    assert_eq!(operator.terminate(), Some(0));
}
