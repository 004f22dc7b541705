//! A `shoal run` started by a test against the lab: its own desired-state, listen port
//! and lease; read through its HTTP endpoints; stopped with SIGTERM or killed with
//! SIGKILL, as the test needs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Lab, shoal_bin};

pub struct Operator {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Lab {
    /// Starts `shoal run ARGS` in the root namespace against node1's engine, serving on
    /// 127.0.0.1:`port`, logging (JSON) into `log`.
    pub fn start_operator(&self, port: u16, log: &Path, args: &[&str]) -> Operator {
        self.start_operator_with(port, log, args, &[])
    }

    /// [`Lab::start_operator`] with extra environment variables (fault injection).
    pub fn start_operator_with(
        &self,
        port: u16,
        log: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Operator {
        let file = std::fs::File::create(log).expect("the log file can be created");
        let child = Command::new(shoal_bin())
            // The doctor's canaries (every 5 minutes by default) stay out of the suites
            // that test other things; tests/example/doctor.rs tests it.
            .args([
                "--log-format",
                "json",
                "run",
                "--doctor-interval",
                "0s",
                "--listen",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env("DOCKER_HOST", &self.docker_host)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("shoal run starts");
        let operator = Operator {
            child,
            port,
            log: log.to_path_buf(),
        };
        // Listening comes first, before the engine or the source is touched.
        let deadline = Instant::now() + Duration::from_secs(30);
        while operator.get("/healthz").0 == 0 {
            assert!(
                Instant::now() < deadline,
                "shoal run does not listen on {port}:\n{}",
                operator.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        operator
    }
}

impl Operator {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GET `path`: status code and body (0 and the error when it does not answer).
    pub fn get(&self, path: &str) -> (u16, String) {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        match client.get(self.url(path)).send() {
            Ok(response) => {
                let code = response.status().as_u16();
                (code, response.text().unwrap_or_default())
            }
            Err(error) => (0, error.to_string()),
        }
    }

    /// `/api/v1/status`; an endpoint that does not answer fails the test (an empty
    /// answer would let "no such status" assertions pass).
    pub fn status(&self) -> serde_json::Value {
        self.json("/api/v1/status")
    }

    /// `/api/v1/events`, newest first; fails the test when the endpoint does not answer.
    pub fn events(&self) -> Vec<serde_json::Value> {
        serde_json::from_value(self.json("/api/v1/events")).expect("a list of events")
    }

    fn json(&self, path: &str) -> serde_json::Value {
        let (code, body) = self.get(path);
        assert_eq!(
            code,
            200,
            "{path} answered {code}: {body}\nlog tail:\n{}",
            self.log_tail()
        );
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path} is not JSON ({e}): {body}"))
    }

    /// The status of one resource (`Service`, `web`).
    pub fn resource(&self, kind: &str, name: &str) -> serde_json::Value {
        self.status()["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["kind"] == kind && r["name"] == name)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// Polls `check` every 250 ms until it gives `Some`, or panics after `timeout` with
    /// `what` and the operator's log tail.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Operator) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check(self) {
                return value;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\nstatus: {}\nevents: {:#?}\nlog tail:\n{}",
                    self.status(),
                    self.events().iter().take(10).collect::<Vec<_>>(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The first event (newest first) with `reason` about `resource`.
    pub fn event(&self, reason: &str, resource: Option<&str>) -> Option<serde_json::Value> {
        self.events()
            .into_iter()
            .find(|e| e["reason"] == reason && resource.is_none_or(|r| e["resource"] == r))
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        None
    }

    /// SIGKILL: a crash, nothing cleaned up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        // A test that panics must not leave an operator acting on the next test's swarm.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
