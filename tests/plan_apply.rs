//! `shoal plan` and `shoal apply` against the lab's real swarm (deploy/lab): from
//! scratch to converged, drift made by hand, unmanaged objects, prune and its guard,
//! version conflicts, and an image that cannot run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shoal_tests::{Lab, copy_dir, lab, repo_root, stderr, stdout};

fn fixture() -> PathBuf {
    repo_root().join("tests/fixtures/lab-desired")
}

/// A writable copy of the fixture desired-state.
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), dir.path());
    dir
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Brings the swarm to the fixture's state from nothing.
fn apply_fixture(lab: &Lab) {
    lab.reset();
    lab.ensure_secret("fixture_token");
    let output = lab.shoal(&["apply", fixture().to_str().unwrap(), "--timeout", "2m"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "apply failed:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
}

/// `shoal plan` of `dir`: its exit code and text, without the Capacity section (its
/// figures are this machine's memory and where swarm put the tasks; tests/example.rs and
/// tests/heal.rs check it).
fn plan(lab: &Lab, dir: &Path) -> (Option<i32>, String) {
    let output = lab.shoal(&["plan", dir.to_str().unwrap()]);
    (output.status.code(), without_capacity(&stdout(&output)))
}

fn without_capacity(text: &str) -> String {
    let Some(start) = text.find("Capacity (") else {
        return text.to_string();
    };
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |end| start + end + 2);
    format!("{}{}", &text[..start], &text[end..])
}

const NO_CHANGES: &str = "No changes. The swarm matches desired-state.\n\nPlan: 0 to create, 0 to update, 0 to delete.\n";

#[test]
fn apply_from_scratch_converges_then_plan_and_apply_change_nothing() {
    let lab = lab();
    apply_fixture(&lab);
    assert_eq!(plan(&lab, &fixture()), (Some(0), NO_CHANGES.to_string()));

    let running = lab.docker(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]);
    let mut lines: Vec<&str> = running.lines().collect();
    lines.sort();
    assert_eq!(lines, ["web 2/2 (max 1 per node)", "worker 3/3"]);

    // A second apply makes no write call: the engine's version counters do not move.
    let versions =
        |lab: &Lab| ["web", "worker"].map(|s| lab.service_field(s, "{{.Version.Index}}"));
    let before = versions(&lab);
    let again = lab.shoal(&["apply", fixture().to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).ends_with(
            "Apply complete: 0 created, 0 updated, 0 deleted, 0 replaced, 0 blocked; 0 engine write(s), 0 conflict(s) retried.\n"
        ),
        "{}",
        stdout(&again)
    );
    assert_eq!(versions(&lab), before);
}

#[test]
fn a_changed_copy_plans_exactly_its_changes_and_converges() {
    let lab = lab();
    apply_fixture(&lab);
    let copy = fixture_copy();
    edit(copy.path(), "web.yaml", "replicas: 2", "replicas: 1");
    edit(copy.path(), "web.yaml", "memory: 32M", "memory: 48M");
    edit(
        copy.path(),
        "web.yaml",
        "image: lab/web:1",
        "image: lab/web:2",
    );
    let (code, text) = plan(&lab, copy.path());
    assert_eq!(code, Some(2));
    assert_eq!(
        text,
        "shoal will perform the following actions:\n\n  \
         # Service/web will be updated in place, restarting its tasks\n  \
         ~ Service/web\n      \
         ~ image: lab/web:1 -> lab/web:2\n      \
         ~ replicas: 2 -> 1\n      \
         ~ resources.limits.memory: 32M -> 48M\n\n\
         Plan: 0 to create, 1 to update, 0 to delete.\n"
    );
    let output = lab.shoal(&["apply", copy.path().to_str().unwrap(), "--timeout", "2m"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(plan(&lab, copy.path()), (Some(0), NO_CHANGES.to_string()));
    assert_eq!(
        lab.service_field("web", "{{.Spec.TaskTemplate.ContainerSpec.Image}}"),
        "lab/web:2"
    );

    // Replicas alone leave the running tasks alone.
    edit(copy.path(), "web.yaml", "replicas: 1", "replicas: 2");
    let (code, text) = plan(&lab, copy.path());
    assert_eq!(code, Some(2));
    assert!(
        text.contains("# Service/web will be updated in place, tasks keep running\n  ~ Service/web\n      ~ replicas: 1 -> 2\n\n"),
        "{text}"
    );
}

#[test]
fn a_manual_docker_service_update_is_shown_as_drift() {
    let lab = lab();
    apply_fixture(&lab);
    lab.docker(&["service", "update", "--detach", "--env-add", "X=1", "web"]);
    let (code, text) = plan(&lab, &fixture());
    assert_eq!(code, Some(2));
    assert_eq!(
        text,
        "shoal will perform the following actions:\n\n  \
         # Service/web will be updated in place, restarting its tasks\n  \
         ~ Service/web\n      \
         - env.X: 1\n\n\
         Plan: 0 to create, 1 to update, 0 to delete.\n"
    );
    // Secrets set by hand are shown masked, never in clear.
    lab.docker(&[
        "service",
        "update",
        "--detach",
        "--env-add",
        "DB_PASSWORD=hunter2",
        "web",
    ]);
    let output = lab.shoal(&["plan", "--json", fixture().to_str().unwrap()]);
    let json = stdout(&output);
    assert!(!json.contains("hunter2"), "{json}");
    assert!(
        json.contains("\"path\": \"env.DB_PASSWORD\",\n          \"from\": \"(sensitive)\""),
        "{json}"
    );
}

#[test]
fn unmanaged_services_are_listed_and_never_touched() {
    let lab = lab();
    apply_fixture(&lab);
    lab.docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        "unmanaged-app",
        "lab/tools:1",
        "/bin/idle",
    ]);
    let version = lab.service_field("unmanaged-app", "{{.Version.Index}}");
    let (code, text) = plan(&lab, &fixture());
    assert_eq!(code, Some(0));
    assert!(
        text.contains("\nUnmanaged (never changed):\n  Service/unmanaged-app\n"),
        "{text}"
    );
    let output = lab.shoal(&["apply", fixture().to_str().unwrap(), "--allow-mass-prune"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        lab.service_field("unmanaged-app", "{{.Version.Index}}"),
        version
    );
}

#[test]
fn prune_removes_managed_leftovers_and_refuses_a_mass_prune() {
    let lab = lab();
    apply_fixture(&lab);
    let copy = fixture_copy();

    // Both services gone from desired-state: more than half of them, refused.
    std::fs::remove_file(copy.path().join("worker.yaml")).unwrap();
    std::fs::remove_file(copy.path().join("web.yaml")).unwrap();
    let refused = lab.shoal(&["apply", copy.path().to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(
            "error: 2 of 2 managed services would be deleted, more than half: refusing; pass \
             --allow-mass-prune if you mean it. Nothing was changed."
        ),
        "{}",
        stderr(&refused)
    );
    assert_eq!(lab.docker(&["service", "ls", "-q"]).lines().count(), 2);

    // An empty desired-state is refused too.
    let empty = tempfile::tempdir().unwrap();
    let refused = lab.shoal(&["apply", empty.path().to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("desired-state is empty"),
        "{}",
        stderr(&refused)
    );

    // One of two is not a mass prune: worker is deleted, then its network, which its
    // tasks hold for a moment after the service is gone.
    copy_dir(&fixture(), copy.path());
    std::fs::remove_file(copy.path().join("worker.yaml")).unwrap();
    edit(
        copy.path(),
        "networks.yaml",
        "---\napiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: backnet\nspec:\n  internal: true\n",
        "",
    );
    let (code, text) = plan(&lab, copy.path());
    assert_eq!(code, Some(2));
    assert!(
        text.contains(
            "  # Service/worker will be deleted\n  - Service/worker\n\n  # Network/backnet will be deleted\n  - Network/backnet\n"
        ),
        "{text}"
    );
    let output = lab.shoal(&["apply", copy.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        lab.docker(&["service", "ls", "--format", "{{.Name}}"]),
        "web"
    );
    // Swarm removes a network asynchronously: the list may show it for a moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    while lab.swarm_networks() != ["appnet"] && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(lab.swarm_networks(), ["appnet"]);

    // With the guard lifted, everything managed goes.
    std::fs::remove_file(copy.path().join("web.yaml")).unwrap();
    let output = lab.shoal(&["apply", "--allow-mass-prune", copy.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(lab.docker(&["service", "ls", "-q"]), "");
}

#[test]
fn a_concurrent_writer_forces_version_conflicts_that_are_retried() {
    let lab = lab();
    apply_fixture(&lab);
    let copy = fixture_copy();
    edit(copy.path(), "web.yaml", "value: hello", "value: bonjour");

    // Another writer bumps the service's version back to back for a few seconds: shoal's
    // first attempts are certain to conflict, and its retries outlast the burst.
    let burst = Duration::from_secs(3);
    let writer = {
        let host = lab.docker_host.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut n = 0;
            while started.elapsed() < burst {
                n += 1;
                let _ = std::process::Command::new(shoal_tests::DOCKER)
                    .args([
                        "service",
                        "update",
                        "--detach",
                        "--label-add",
                        &format!("writer={n}"),
                        "web",
                    ])
                    .env("DOCKER_HOST", &host)
                    .output();
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    // Widen shoal's read-to-write window so the other writer lands inside it.
    let output = std::process::Command::new(shoal_tests::shoal_bin())
        .args(["apply", copy.path().to_str().unwrap(), "--timeout", "2m"])
        .env("DOCKER_HOST", &lab.docker_host)
        .env("SHOAL_FAULT_UPDATE_DELAY", "400ms")
        .output()
        .unwrap();
    writer.join().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let summary = stdout(&output);
    let retried: usize = summary
        .rsplit("engine write(s), ")
        .next()
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(retried >= 1, "no conflict was met:\n{summary}");
    assert!(
        lab.service_field("web", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}")
            .contains("GREETING=bonjour")
    );
}

#[test]
fn an_image_that_does_not_exist_fails_with_the_engines_reason() {
    let lab = lab();
    apply_fixture(&lab);
    let copy = fixture_copy();
    edit(
        copy.path(),
        "worker.yaml",
        "image: lab/tools:1",
        "image: lab/does-not-exist:1",
    );
    let started = Instant::now();
    let output = lab.shoal(&["apply", copy.path().to_str().unwrap(), "--timeout", "90s"]);
    assert!(started.elapsed() < Duration::from_secs(120), "apply hung");
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("error: service worker failed: ")
            && stderr(&output).contains("lab/does-not-exist:1"),
        "{}",
        stderr(&output)
    );
}
