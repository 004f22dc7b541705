//! The same services written three ways: a compose file for `docker stack deploy`,
//! shoal resources, and the engine's own service specs for the floor. Every service runs
//! `REPLICAS` tasks of the lab's web image on one overlay network with a 16M memory
//! limit; `ROUND=GENERATION` in its environment is the field a change moves.

use serde_json::{Value, json};

/// The service label every tool puts on its services: how the harness finds them.
pub const LABEL: &str = "shoal-bench";
pub const REPLICAS: u64 = 2;
pub const IMAGE: &str = "lab/web:1";
const MEMORY_LIMIT: u64 = 16 * 1024 * 1024;

/// `s001`, `s002`, ...
pub fn service_names(size: usize) -> Vec<String> {
    (1..=size).map(|i| format!("s{i:03}")).collect()
}

/// The environment entry a task of `generation` carries.
pub fn round_env(generation: u32) -> String {
    format!("ROUND={generation}")
}

pub fn compose(size: usize, generation: u32) -> String {
    let mut text = String::from("version: \"3.8\"\nservices:\n");
    for name in service_names(size) {
        text.push_str(&format!(
            "  {name}:
    image: {IMAGE}
    environment:
      ROUND: \"{generation}\"
    networks: [net]
    deploy:
      replicas: {REPLICAS}
      labels:
        {LABEL}: \"1\"
      resources:
        limits:
          memory: 16M
"
        ));
    }
    text.push_str("networks:\n  net:\n    driver: overlay\n");
    text
}

/// One file per resource, as a repository would keep them: `(file name, content)`.
pub fn shoal_files(size: usize, generation: u32) -> Vec<(String, String)> {
    let mut files = vec![(
        "network.yaml".to_string(),
        "apiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: bench-net\nspec: {}\n"
            .to_string(),
    )];
    for name in service_names(size) {
        files.push((
            format!("{name}.yaml"),
            format!(
                "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: bench-{name}
spec:
  image: {IMAGE}
  replicas: {REPLICAS}
  env:
    - name: ROUND
      value: \"{generation}\"
  networks: [bench-net]
  labels:
    {LABEL}: \"1\"
  resources:
    limits:
      memory: 16M
"
            ),
        ));
    }
    files
}

pub const FLOOR_NETWORK: &str = "floor-net";

/// The engine's service spec for `docker service create` through the API.
pub fn floor_spec(name: &str, generation: u32) -> Value {
    json!({
        "Name": format!("floor-{name}"),
        "Labels": { LABEL: "1" },
        "TaskTemplate": {
            "ContainerSpec": { "Image": IMAGE, "Env": [round_env(generation)] },
            "Resources": { "Limits": { "MemoryBytes": MEMORY_LIMIT } },
            "Networks": [{ "Target": FLOOR_NETWORK }],
        },
        "Mode": { "Replicated": { "Replicas": REPLICAS } },
    })
}
