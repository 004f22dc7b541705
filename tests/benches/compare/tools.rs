//! The tools compared, each driven as its users drive it: `docker stack deploy` (with
//! and without `--prune`) and `docker stack rm`; `shoal apply`; `shoal run` following a
//! git repository (fetched every second: a commit is the change); and the engine's
//! floor, the same services written by concurrent API calls with nothing in between.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use shoal_tests::engine_api::EngineApi;
use shoal_tests::operator::Operator;
use shoal_tests::{DOCKER, Lab, stderr};

use crate::specs::{self, FLOOR_NETWORK, LABEL};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tool {
    StackDeploy,
    StackDeployPrune,
    ShoalApply,
    ShoalRun,
    EngineFloor,
}

pub const ALL: [Tool; 5] = [
    Tool::StackDeploy,
    Tool::StackDeployPrune,
    Tool::ShoalApply,
    Tool::ShoalRun,
    Tool::EngineFloor,
];

impl Tool {
    /// How TOOLS names it.
    pub fn key(self) -> &'static str {
        match self {
            Tool::StackDeploy => "stack",
            Tool::StackDeployPrune => "stack-prune",
            Tool::ShoalApply => "apply",
            Tool::ShoalRun => "run",
            Tool::EngineFloor => "floor",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::StackDeploy => "docker stack deploy",
            Tool::StackDeployPrune => "docker stack deploy --prune",
            Tool::ShoalApply => "shoal apply",
            Tool::ShoalRun => "shoal run",
            Tool::EngineFloor => "engine floor (concurrent API creates)",
        }
    }
}

/// One tool's session over a round: its files, and the operator for `shoal run`.
pub struct Session<'a> {
    pub tool: Tool,
    lab: &'a Lab,
    size: usize,
    dir: tempfile::TempDir,
    operator: Option<Operator>,
}

const OPERATOR_PORT: u16 = 19870;

impl<'a> Session<'a> {
    pub fn start(tool: Tool, lab: &'a Lab, size: usize) -> Session<'a> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("desired")).unwrap();
        let operator = (tool == Tool::ShoalRun).then(|| {
            git(&dir.path().join("desired"), &["init", "-q", "-b", "main"]);
            std::fs::write(dir.path().join("desired/README.md"), "benchmark\n").unwrap();
            commit(&dir.path().join("desired"), "an empty desired-state");
            start_operator(lab, dir.path())
        });
        Session {
            tool,
            lab,
            size,
            dir,
            operator,
        }
    }

    fn desired(&self) -> std::path::PathBuf {
        self.dir.path().join("desired")
    }

    /// Sends `generation` of the services; returns when the tool does.
    pub fn deploy(&self, generation: u32) {
        match self.tool {
            Tool::StackDeploy | Tool::StackDeployPrune => self.stack_deploy(generation),
            Tool::ShoalApply => {
                self.write_files(generation);
                self.shoal_apply(&[]);
            }
            Tool::ShoalRun => {
                self.write_files(generation);
                commit(&self.desired(), &format!("generation {generation}"));
            }
            Tool::EngineFloor => floor_deploy(self.size, generation),
        }
    }

    /// Sends what is already there again; returns when the tool is done with it.
    pub fn no_op(&self) {
        match self.tool {
            Tool::StackDeploy | Tool::StackDeployPrune => self.stack_deploy(1),
            Tool::ShoalApply => self.shoal_apply(&[]),
            Tool::ShoalRun => self.empty_commit(),
            Tool::EngineFloor => {}
        }
    }

    /// Removes every service; returns when the tool does.
    pub fn remove(&self) {
        match self.tool {
            Tool::StackDeploy | Tool::StackDeployPrune => {
                docker(self.lab, &["stack", "rm", "bench"]);
            }
            Tool::ShoalApply => {
                self.clear_files();
                self.shoal_apply(&["--allow-mass-prune"]);
            }
            Tool::ShoalRun => {
                self.clear_files();
                commit(&self.desired(), "remove everything");
            }
            Tool::EngineFloor => floor_remove(),
        }
    }

    /// Stops the operator of `shoal run`.
    pub fn finish(self) {
        if let Some(operator) = self.operator {
            assert_eq!(
                operator.terminate(),
                Some(0),
                "shoal run did not stop cleanly"
            );
        }
    }

    fn stack_deploy(&self, generation: u32) {
        let file = self.dir.path().join("compose.yaml");
        std::fs::write(&file, specs::compose(self.size, generation)).unwrap();
        let file = file.to_str().unwrap();
        let mut args = vec!["stack", "deploy", "--resolve-image", "never", "-c", file];
        if self.tool == Tool::StackDeployPrune {
            args.push("--prune");
        }
        args.push("bench");
        docker(self.lab, &args);
    }

    fn shoal_apply(&self, extra: &[&str]) {
        let mut args = vec!["apply", "--no-wait", "--no-agents"];
        args.extend(extra);
        let desired = self.desired();
        args.push(desired.to_str().unwrap());
        let output = self.lab.shoal(&args);
        assert!(output.status.success(), "shoal apply: {}", stderr(&output));
    }

    fn write_files(&self, generation: u32) {
        for (name, content) in specs::shoal_files(self.size, generation) {
            std::fs::write(self.desired().join(name), content).unwrap();
        }
    }

    fn clear_files(&self) {
        for entry in std::fs::read_dir(self.desired()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                std::fs::remove_file(path).unwrap();
            }
        }
    }

    /// A commit that changes no resource, then waits until `shoal run` has reconciled
    /// every resource against the new revision.
    fn empty_commit(&self) {
        let operator = self.operator.as_ref().expect("shoal run has an operator");
        let before = reconciles(operator);
        git(
            &self.desired(),
            &["commit", "-q", "--allow-empty", "-m", "nothing"],
        );
        let resources = self.size as u64 + 1;
        let started = Instant::now();
        while reconciles(operator) < before + resources {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no reconcile pass"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn start_operator(lab: &Lab, dir: &Path) -> Operator {
    let url = format!("file://{}", dir.join("desired").display());
    let cache = dir.join("git-cache");
    let operator = lab.start_operator(
        OPERATOR_PORT,
        &dir.join("run.log"),
        &[
            "--git-url",
            &url,
            "--git-interval",
            "1s",
            "--git-cache",
            cache.to_str().unwrap(),
            "--no-agents",
            "--allow-mass-prune",
            "--lease-name",
            "shoal-lease-bench",
            "--lease-ttl",
            "6s",
        ],
    );
    operator.wait_for("the lease", Duration::from_secs(60), |o| {
        (o.get("/readyz").0 == 200).then_some(())
    });
    operator
}

/// `shoal_reconciles_total`, all kinds and results summed.
fn reconciles(operator: &Operator) -> u64 {
    let (_, text) = operator.get("/metrics");
    text.lines()
        .filter(|l| l.starts_with("shoal_reconciles_total{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum()
}

fn git(repo: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "user.name=bench", "-c", "user.email=bench@lab"])
        .args(args)
        .current_dir(repo)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {}: {}",
        args.join(" "),
        stderr(&output)
    );
}

fn commit(repo: &Path, message: &str) {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "--allow-empty", "-m", message]);
}

fn docker(lab: &Lab, args: &[&str]) {
    let output = Command::new(DOCKER)
        .args(args)
        .env("DOCKER_HOST", &lab.docker_host)
        .output()
        .expect("docker runs");
    assert!(
        output.status.success(),
        "docker {}: {}",
        args.join(" "),
        stderr(&output)
    );
}

/// Creates (or updates) every floor service at once, one thread per service.
fn floor_deploy(size: usize, generation: u32) {
    let api = EngineApi::node("node1");
    if generation == 1 {
        let network = serde_json::json!({
            "Name": FLOOR_NETWORK, "Driver": "overlay", "Labels": { LABEL: "1" }
        });
        api.send(reqwest::Method::POST, "/networks/create", Some(&network))
            .expect("the floor's network is created");
    }
    let existing = api.services_labelled(LABEL);
    std::thread::scope(|scope| {
        for name in specs::service_names(size) {
            let existing = &existing;
            scope.spawn(move || {
                let api = EngineApi::node("node1");
                let spec = specs::floor_spec(&name, generation);
                match existing.iter().find(|s| s["Spec"]["Name"] == spec["Name"]) {
                    None => api.send(reqwest::Method::POST, "/services/create", Some(&spec)),
                    Some(service) => update(&api, service, &spec),
                }
                .unwrap_or_else(|e| panic!("floor service {name}: {e}"));
            });
        }
    });
}

fn update(api: &EngineApi, service: &Value, spec: &Value) -> Result<Value, String> {
    let path = format!(
        "/services/{}/update?version={}",
        service["ID"].as_str().unwrap(),
        service["Version"]["Index"]
    );
    api.send(reqwest::Method::POST, &path, Some(spec))
}

fn floor_remove() {
    let api = EngineApi::node("node1");
    let services = api.services_labelled(LABEL);
    std::thread::scope(|scope| {
        for service in &services {
            scope.spawn(move || {
                let path = format!("/services/{}", service["ID"].as_str().unwrap());
                EngineApi::node("node1")
                    .send(reqwest::Method::DELETE, &path, None)
                    .expect("a floor service is removed");
            });
        }
    });
}
