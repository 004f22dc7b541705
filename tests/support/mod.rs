//! Shared helpers for shoal's integration tests: the lab (brought up once per test run,
//! shared by tests one at a time), and running `shoal` and `docker` against it.
//!
//! A test that needs the lab fails when the lab cannot come up; it never skips.

pub mod bench;
pub mod browser;
pub mod counting_proxy;
pub mod engine_api;
pub mod operator;
pub mod probe;
pub mod wordpress;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the repository")
        .to_path_buf()
}

/// A small service of the lab's web image: 2 replicas, a memory limit; what the
/// operator's tests and benchmarks converge and then drift by hand.
pub const WEB_SERVICE: &str = "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: web
spec:
  image: lab/web:1
  replicas: 2
  resources:
    limits:
      memory: 32M
";

/// The lab's state directory (`SHOAL_LAB_DIR`, as deploy/lab/lab reads it).
pub fn lab_dir() -> PathBuf {
    std::env::var("SHOAL_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/var/lib/shoal-lab"))
}

/// The Docker client matching the lab's engines (Debian's docker.io).
pub const DOCKER: &str = "/usr/bin/docker";

/// The running lab, held by one test at a time: they all share one swarm.
pub struct Lab {
    pub docker_host: String,
}

static LAB: OnceLock<Mutex<Lab>> = OnceLock::new();

/// The lab, taken by one test. Dropping it (also when the test fails) removes what the
/// test created, so the next test, and the suites after this one, find an empty swarm.
pub struct LabSession {
    guard: MutexGuard<'static, Lab>,
    // Held until the session ends: test processes of other checkouts wait for it.
    _across_processes: std::fs::File,
}

impl std::ops::Deref for LabSession {
    type Target = Lab;

    fn deref(&self) -> &Lab {
        &self.guard
    }
}

impl Drop for LabSession {
    fn drop(&mut self) {
        if let Err(error) = self.guard.try_reset() {
            eprintln!("could not clean the lab up after the test: {error}");
        }
    }
}

/// Brings the lab up (once per test process: `lab up` is idempotent) and takes it for the
/// calling test. Panics when the lab cannot come up.
pub fn lab() -> LabSession {
    let across_processes = lock_across_processes();
    LabSession {
        guard: lock_lab(),
        _across_processes: across_processes,
    }
}

/// The lab is one per machine, and two checkouts' tests may run at once (a second
/// worktree, a benchmark): an exclusive lock on a file beside the lab serialises them.
fn lock_across_processes() -> std::fs::File {
    let path = std::env::var("SHOAL_LAB_TEST_LOCK")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/run/shoal-lab.test-lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open the lab's lock {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    file
}

fn lock_lab() -> MutexGuard<'static, Lab> {
    let lab = LAB.get_or_init(|| {
        let script = repo_root().join("deploy/lab/lab");
        let up = Command::new(&script)
            .arg("up")
            .output()
            .expect("deploy/lab/lab runs");
        assert!(
            up.status.success(),
            "the lab did not come up (tests that need it fail, never skip):\n{}",
            String::from_utf8_lossy(&up.stderr)
        );
        let env = Command::new(&script)
            .arg("env")
            .output()
            .expect("lab env runs");
        let text = String::from_utf8_lossy(&env.stdout);
        let docker_host = text
            .lines()
            .find_map(|l| l.strip_prefix("export DOCKER_HOST="))
            .expect("lab env prints DOCKER_HOST")
            .trim_matches(['"', '\''])
            .to_string();
        Mutex::new(Lab { docker_host })
    });
    // A test that panicked while holding the lab leaves it usable for the next one.
    lab.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Set by [`bench::use_release_build`]: tests run the debug build.
static RELEASE: OnceLock<bool> = OnceLock::new();

/// The shoal binary of this very source tree: built (or found fresh) by cargo once per
/// test process, so a test never runs an older build left in target/.
pub fn shoal_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let release = *RELEASE.get_or_init(|| false);
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            // The whole workspace's features, as `cargo test --workspace` builds it: no
            // rebuild when the binary is fresh.
            let mut args = vec!["build", "--quiet", "--workspace", "--bin", "shoal"];
            if release {
                args.push("--release");
            }
            let built = Command::new(cargo)
                .args(args)
                .current_dir(repo_root())
                .status()
                .expect("cargo runs");
            assert!(built.success(), "cargo build --bin shoal failed");
            let target = std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| repo_root().join("target"));
            target.join(if release {
                "release/shoal"
            } else {
                "debug/shoal"
            })
        })
        .clone()
}

impl Lab {
    /// Runs `shoal ARGS` against the lab.
    pub fn shoal(&self, args: &[&str]) -> Output {
        Command::new(shoal_bin())
            .args(args)
            .env("DOCKER_HOST", &self.docker_host)
            .output()
            .expect("shoal runs")
    }

    /// Runs `docker ARGS` against node1's engine; panics when it fails.
    pub fn docker(&self, args: &[&str]) -> String {
        let output = self.docker_unchecked(args);
        assert!(
            output.status.success(),
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    pub fn docker_unchecked(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .args(args)
            .env("DOCKER_HOST", &self.docker_host)
            .output()
            .expect("docker runs")
    }

    /// Removes every service, the secrets and configs shoal made, every swarm network but
    /// ingress, and every node label, so
    /// each test starts from an empty swarm. Panics when it cannot.
    pub fn reset(&self) {
        if let Err(error) = self.try_reset() {
            panic!("cannot reset the lab's swarm: {error}");
        }
    }

    /// [`Lab::reset`] that reports failure instead of panicking (safe in `Drop`).
    pub fn try_reset(&self) -> Result<(), String> {
        self.stop_agents();
        let run = |args: &[&str]| -> Result<String, String> {
            let output = self.docker_unchecked(args);
            if output.status.success() {
                Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
            } else {
                Err(format!("docker {}: {}", args.join(" "), stderr(&output)))
            }
        };
        for node in run(&["node", "ls", "-q"])?.lines() {
            let keys = run(&[
                "node",
                "inspect",
                node,
                "--format",
                "{{range $k, $v := .Spec.Labels}}{{$k}} {{end}}",
            ])?;
            let mut args = vec!["node", "update"];
            for key in keys.split_whitespace() {
                args.extend(["--label-rm", key]);
            }
            if args.len() > 2 {
                args.push(node);
                run(&args)?;
            }
        }
        let services = run(&["service", "ls", "-q"])?;
        if !services.is_empty() {
            let mut args = vec!["service", "rm"];
            args.extend(services.lines());
            run(&args)?;
        }
        // The secrets and configs shoal made (versions of Secret and Config resources).
        for kind in ["secret", "config"] {
            let filter = "label=io.shoal.managed-by=shoal";
            let managed = run(&[kind, "ls", "-q", "--filter", filter])?;
            if !managed.is_empty() {
                let mut args = vec![kind, "rm"];
                args.extend(managed.lines());
                run(&args)?;
            }
        }
        // Networks can be removed once their tasks are gone, and removal is asynchronous
        // in swarm: repeat until the list no longer shows them.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let removable = self.try_swarm_networks()?;
            if removable.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "networks {removable:?} are still there after a minute"
                ));
            }
            let mut args = vec!["network", "rm"];
            args.extend(removable.iter().map(String::as_str));
            let _ = self.docker_unchecked(&args);
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// The swarm-scoped networks but ingress, sorted by name; panics when docker fails.
    pub fn swarm_networks(&self) -> Vec<String> {
        self.try_swarm_networks()
            .unwrap_or_else(|error| panic!("listing networks: {error}"))
    }

    fn try_swarm_networks(&self) -> Result<Vec<String>, String> {
        let args = [
            "network",
            "ls",
            "--filter",
            "scope=swarm",
            "--format",
            "{{.Name}}",
        ];
        let output = self.docker_unchecked(&args);
        if !output.status.success() {
            return Err(format!("docker {}: {}", args.join(" "), stderr(&output)));
        }
        let mut names: Vec<String> = stdout(&output)
            .lines()
            .filter(|n| *n != "ingress")
            .map(str::to_string)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Creates a swarm secret unless it exists.
    pub fn ensure_secret(&self, name: &str) {
        let existing = self.docker(&["secret", "ls", "--format", "{{.Name}}"]);
        if !existing.lines().any(|l| l == name) {
            let mut child = Command::new(DOCKER)
                .args(["secret", "create", name, "-"])
                .env("DOCKER_HOST", &self.docker_host)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("docker runs");
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"not-a-real-secret")
                .unwrap();
            assert!(
                child.wait().unwrap().success(),
                "docker secret create {name}"
            );
        }
    }

    /// Runs a command inside a lab host, as ssh would (`lab exec NODE -- ARGS`).
    pub fn exec(&self, node: &str, args: &[&str]) -> Output {
        Command::new(repo_root().join("deploy/lab/lab"))
            .args(["exec", node, "--"])
            .args(args)
            .output()
            .expect("lab exec runs")
    }

    /// Runs `shoal ARGS` inside a lab host (as on that host: its engine, its glusterd).
    pub fn shoal_on(&self, node: &str, args: &[&str]) -> Output {
        let bin = shoal_bin();
        let mut full = vec![bin.to_str().expect("a UTF-8 path")];
        full.extend(args);
        self.exec(node, &full)
    }

    /// Starts `shoal agent DIR` as a service of `node` (`lab start`), serving its status
    /// on the node's :9851 and making a pass every second.
    pub fn start_agent(&self, node: &str, dir: &Path) {
        let bin = shoal_bin();
        let output = Command::new(repo_root().join("deploy/lab/lab"))
            .args(["start", node, "shoal-agent", "--"])
            .arg(bin)
            .args(["--log-level", "info", "agent", "--interval", "1s"])
            .arg(dir)
            .output()
            .expect("lab start runs");
        assert!(output.status.success(), "lab start: {}", stderr(&output));
    }

    /// Stops the agents [`Lab::start_agent`] started, on every node, and the operator
    /// `deploy/run-example` leaves running on node1 (it would undo a reset).
    pub fn stop_agents(&self) {
        let stop = |node: &str, name: &str| {
            let _ = Command::new(repo_root().join("deploy/lab/lab"))
                .args(["stop", node, name])
                .output();
        };
        stop("node1", "shoal-run");
        for node in ["node1", "node2", "node3"] {
            stop(node, "shoal-agent");
            // And every other unit a test left (killed before its cleanup): `lab up` and
            // `lab restore` would start them again.
            let dir = lab_dir().join(node);
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if let Some(unit) = file.strip_suffix(".unit") {
                    stop(node, unit);
                }
            }
        }
    }

    /// Unmounts, stops and deletes a Gluster volume and its bricks (node1..3), if there.
    /// Stops the agents first, which would mount it again.
    pub fn remove_gluster_volume(&self, name: &str, mount_point: &str, brick: &str) {
        self.stop_agents();
        for node in ["node1", "node2", "node3"] {
            self.exec(node, &["umount", mount_point]);
        }
        let _ = self.exec(
            "node1",
            &["gluster", "--mode=script", "volume", "stop", name, "force"],
        );
        let _ = self.exec(
            "node1",
            &["gluster", "--mode=script", "volume", "delete", name],
        );
        for node in ["node1", "node2", "node3"] {
            self.exec(node, &["rm", "-rf", brick]);
        }
    }

    /// `gluster --mode=script ARGS` on node1; returns stdout, panics on failure.
    pub fn gluster(&self, args: &[&str]) -> String {
        let mut full = vec!["gluster", "--mode=script"];
        full.extend(args);
        let output = self.exec("node1", &full);
        assert!(
            output.status.success(),
            "gluster {} failed: {}{}",
            args.join(" "),
            stdout(&output),
            stderr(&output)
        );
        stdout(&output)
    }

    /// `docker service inspect` of one field, e.g. `{{.Version.Index}}`.
    pub fn service_field(&self, service: &str, format: &str) -> String {
        self.docker(&["service", "inspect", service, "--format", format])
    }
}

/// Runs `deploy/lab/lab ARGS` (`crash node3`, `restore node3`, ...); returns its stdout,
/// panics when it fails. For tests that hold the lab, and for benchmarks that share the
/// example's running lab without a [`LabSession`] (whose end would reset it).
pub fn lab_script(args: &[&str]) -> String {
    let output = Command::new(repo_root().join("deploy/lab/lab"))
        .args(args)
        .output()
        .expect("deploy/lab/lab runs");
    assert!(
        output.status.success(),
        "lab {}: {}",
        args.join(" "),
        stderr(&output)
    );
    stdout(&output)
}

/// Brings a crashed node back when dropped, also when the test fails (`lab up` repairs
/// crashes).
pub struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("deploy/lab/lab"))
            .arg("up")
            .output();
    }
}

/// The nodes that run a task of `service` meant to run (node1's engine, the manager),
/// sorted.
pub fn nodes_running(service: &str) -> Vec<String> {
    let ps = lab_script(&[
        "exec",
        "node1",
        "--",
        DOCKER,
        "service",
        "ps",
        service,
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}}",
    ]);
    let mut nodes: Vec<String> = ps.lines().map(str::to_string).collect();
    nodes.sort();
    nodes
}

/// The worker (node2 or node3) that runs the most tasks of `services`: node2 on a tie.
/// Panics when neither runs one.
pub fn busiest_worker(services: &[&str]) -> String {
    let running: Vec<String> = services.iter().flat_map(|s| nodes_running(s)).collect();
    let tasks = |node: &str| running.iter().filter(|n| *n == node).count();
    let node = if tasks("node3") > tasks("node2") {
        "node3"
    } else {
        "node2"
    };
    assert!(tasks(node) > 0, "no worker runs a task of {services:?}");
    node.to_string()
}

/// Copies a directory tree (desired-state fixtures) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `git ARGS` in `dir` (as a test user); its trimmed output. Panics when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.org"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
