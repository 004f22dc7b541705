//! The engines' HTTP API over their unix sockets, for benchmarks: polling the swarm a few
//! times a second through the docker CLI would cost a process start per poll, and
//! writing services concurrently through it would measure the CLI, not the engine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::lab_dir;

/// The API version the lab's oldest engines (20.10) speak.
const VERSION: &str = "v1.41";

pub struct EngineApi {
    client: reqwest::blocking::Client,
    socket: PathBuf,
}

impl EngineApi {
    /// The engine of a lab node (`node1` is the manager).
    pub fn node(node: &str) -> EngineApi {
        EngineApi::at(&lab_dir().join(node).join("docker.sock"))
    }

    pub fn at(socket: &Path) -> EngineApi {
        let client = reqwest::blocking::Client::builder()
            .unix_socket(socket)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client on a unix socket");
        EngineApi {
            client,
            socket: socket.to_path_buf(),
        }
    }

    /// `GET path` (`/services`); panics when the engine does not answer 200.
    pub fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None)
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// `GET path?filters=FILTERS` (the engine's filter JSON), as a list.
    pub fn list(&self, path: &str, filters: Value) -> Vec<Value> {
        let url = format!("http://engine/{VERSION}{path}");
        let request = self
            .client
            .get(url)
            .query(&[("all", "1"), ("filters", &filters.to_string())]);
        let answer = request
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json::<Vec<Value>>());
        answer.unwrap_or_else(|error| panic!("GET {path} {filters}: {error}"))
    }

    /// One request; the engine's JSON answer (Null when empty) or its error message.
    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let url = format!("http://engine/{VERSION}{path}");
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .map_err(|e| format!("{}: {e}", self.socket.display()))?;
        let status = response.status();
        let text = response.text().map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {}", text.trim()));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("not JSON ({e}): {text}"))
    }

    /// The swarm's services carrying `label`.
    pub fn services_labelled(&self, label: &str) -> Vec<Value> {
        self.list("/services", serde_json::json!({ "label": [label] }))
    }

    /// The swarm's tasks meant to run (desired state `running`).
    pub fn tasks_meant_to_run(&self) -> Vec<Value> {
        self.list(
            "/tasks",
            serde_json::json!({ "desired-state": ["running"] }),
        )
    }

    /// Every task the swarm still lists.
    pub fn tasks(&self) -> Vec<Value> {
        self.list("/tasks", serde_json::json!({}))
    }

    /// The containers of swarm tasks on this engine's node, running or not.
    pub fn task_containers(&self) -> Vec<Value> {
        self.list(
            "/containers/json",
            serde_json::json!({ "label": ["com.docker.swarm.task.id"] }),
        )
    }
}
