//! Taking over a stack people deployed with `docker stack deploy`, in the lab: `shoal
//! import swarm` and `shoal import compose --stack` both plan adoptions that change no
//! field, and `shoal apply` then writes only shoal's labels (the same
//! task and container IDs before and after: swarm restarted nothing), a second plan shows
//! no change, and `shoal run` then manages the stack (a `docker service scale` by hand is
//! set back).

use std::path::Path;
use std::time::{Duration, Instant};

use shoal_tests::{Lab, lab, repo_root, stderr, stdout};

const STACK_SERVICES: [&str; 3] = ["adopt_app", "adopt_db", "adopt_lb"];
/// The bind mount of the fixture's app: the lab's nodes share this machine's disk.
const SHARED: &str = "/var/lib/shoal-lab/adopt-shared";
const ALLOW: [&str; 2] = ["--allow-host-path", "/var/lib/shoal-lab"];

/// Every task meant to run in the stack: (task ID, container ID), sorted.
fn tasks_and_containers(lab: &Lab) -> Vec<String> {
    let mut args = vec!["service", "ps", "-q", "--filter", "desired-state=running"];
    args.extend(STACK_SERVICES);
    let tasks = lab.docker(&args);
    let mut ids: Vec<String> = tasks
        .lines()
        .map(|task| {
            let task: serde_json::Value =
                serde_json::from_str(&lab.docker(&["inspect", task, "--format", "{{json .}}"]))
                    .unwrap();
            let status = &task["Status"];
            format!(
                "{} {} {}",
                task["ID"].as_str().unwrap_or_default(),
                status["ContainerStatus"]["ContainerID"]
                    .as_str()
                    .unwrap_or("-"),
                status["State"].as_str().unwrap_or_default()
            )
        })
        .collect();
    ids.sort();
    ids
}

/// Waits until the stack's four tasks run (and the database's health check passed).
fn wait_running(lab: &Lab) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ids = tasks_and_containers(lab);
        let healthy = lab
            .docker(&[
                "ps",
                "--filter",
                "label=com.docker.swarm.service.name=adopt_db",
                "--format",
                "{{.Status}}",
            ])
            .contains("(healthy)");
        if ids.len() == 4 && ids.iter().all(|line| line.ends_with(" running")) && healthy {
            return ids;
        }
        assert!(Instant::now() < deadline, "the stack does not run: {ids:?}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn shoal_ok(lab: &Lab, args: &[&str]) -> String {
    let output = lab.shoal(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "shoal {args:?}:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

#[test]
fn a_stack_deployed_by_hand_is_taken_over_without_restarting_a_task() {
    let lab = lab();
    lab.reset();
    lab.ensure_secret("adopt_db_password");
    std::fs::create_dir_all(SHARED).unwrap();
    let compose = repo_root().join("tests/fixtures/compose/adopt/docker-compose.yml");
    let compose = compose.to_str().unwrap();
    lab.docker(&["stack", "deploy", "-c", compose, "adopt"]);
    let before = wait_running(&lab);

    plans_only_adoptions(&lab, import_swarm(&lab).path());

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let imported = shoal_ok(
        &lab,
        &[
            "import", "compose", compose, "--stack", "adopt", "--out", dir,
        ],
    );
    assert!(
        imported.ends_with(&format!(
            "5 resources written to {dir}; 0 field(s) not carried over (above)\n"
        )),
        "{imported}"
    );

    plans_only_adoptions(&lab, out.path());

    let applied = shoal_ok(
        &lab,
        &[&["apply", dir, "--timeout", "2m"][..], &ALLOW].concat(),
    );
    assert!(
        applied.ends_with("Apply complete: 0 created, 0 updated, 0 deleted, 0 replaced, 3 adopted, 0 blocked; 3 engine write(s), 0 conflict(s) retried.\n"),
        "{applied}"
    );
    assert_eq!(tasks_and_containers(&lab), before, "a task was restarted");
    for service in STACK_SERVICES {
        assert_eq!(
            lab.service_field(service, "{{index .Spec.Labels \"io.shoal.managed-by\"}}"),
            "shoal"
        );
    }
    let again = shoal_ok(&lab, &[&["plan", dir][..], &ALLOW].concat());
    assert!(
        again.ends_with("Plan: 0 to create, 0 to update, 0 to delete.\n"),
        "{again}"
    );

    manage_with_run(&lab, out.path());
    // The scale made by hand removed a task; the correction starts one again.
    assert_eq!(wait_running(&lab).len(), 4);
    lab.reset();
}

/// `shoal import swarm --stack adopt` into a new directory.
fn import_swarm(lab: &Lab) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let imported = shoal_ok(lab, &["import", "swarm", "--stack", "adopt", "--out", dir]);
    assert!(
        imported.ends_with(&format!(
            "5 resources written to {dir}; 0 field(s) not carried over (above)\n"
        )),
        "{imported}"
    );
    out
}

/// The plan of `dir` adopts the three services and changes no field of any.
fn plans_only_adoptions(lab: &Lab, dir: &Path) {
    let output = lab.shoal(&[&["plan", dir.to_str().unwrap()][..], &ALLOW].concat());
    let plan = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{plan}\n{}", stderr(&output));
    for service in STACK_SERVICES {
        let adoption = format!(
            "  # Service/{service} will be adopted (shoal takes it over in place), tasks keep running\n  ~ Service/{service}\n\n"
        );
        assert!(plan.contains(&adoption), "{service} in:\n{plan}");
    }
    assert!(
        plan.ends_with("Plan: 0 to create, 0 to update, 0 to delete. 3 to adopt.\n"),
        "{plan}"
    );
}

/// `shoal run` on the adopted stack sets a scale made by hand back.
fn manage_with_run(lab: &Lab, dir: &Path) {
    let logs = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--no-agents",
        "--lease-name",
        "shoal-lease-adopt",
        dir.to_str().unwrap(),
    ];
    args.extend(ALLOW);
    let operator = lab.start_operator(19880, &logs.path().join("run.log"), &args);
    operator.wait_for("adopt_app Synced", Duration::from_secs(120), |o| {
        (o.resource("Service", "adopt_app")["sync"] == "Synced").then_some(())
    });
    lab.docker(&["service", "scale", "--detach", "adopt_app=1"]);
    operator.wait_for(
        "DriftCorrected for adopt_app",
        Duration::from_secs(60),
        |o| o.event("DriftCorrected", Some("Service/adopt_app")),
    );
    assert_eq!(
        lab.service_field("adopt_app", "{{.Spec.Mode.Replicated.Replicas}}"),
        "2"
    );
    assert_eq!(operator.terminate(), Some(0));
}

/// A compose file in the shape of the docker docs' voting app, its images swapped for the
/// lab's own through its `${..._IMAGE}` variables (no registry here): imported without a
/// stack, applied from nothing, converged.
#[test]
fn a_compose_file_imported_applies_and_converges() {
    let lab = lab();
    lab.reset();
    lab.ensure_secret("votes_db_password");
    let compose = repo_root().join("tests/fixtures/compose/voting/docker-compose.yml");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let mut import = std::process::Command::new(shoal_tests::shoal_bin());
    import.args(["import", "compose", compose.to_str().unwrap(), "--out", dir]);
    for variable in ["REDIS", "DB", "VOTE", "RESULT", "WORKER"] {
        import.env(format!("{variable}_IMAGE"), "lab/web:1");
    }
    let imported = import.output().unwrap();
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));
    assert!(
        stdout(&imported).ends_with(&format!(
            "7 resources written to {dir}; 2 field(s) not carried over (above)\n"
        )),
        "{}",
        stdout(&imported)
    );
    let applied = shoal_ok(&lab, &["apply", dir, "--timeout", "2m"]);
    assert!(
        applied.ends_with(
            "Apply complete: 7 created, 0 updated, 0 deleted, 0 replaced, 0 blocked; 7 engine \
             write(s), 0 conflict(s) retried.\n"
        ),
        "{applied}"
    );
    let mut running: Vec<String> = lab
        .docker(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"])
        .lines()
        .map(str::to_string)
        .collect();
    running.sort();
    assert_eq!(
        running,
        [
            "db 1/1",
            "redis 1/1",
            "result 1/1",
            "vote 2/2",
            "worker 1/1"
        ]
    );
    lab.reset();
}
