//! What the harness reads from the swarm, the same way for every tool: whether the
//! services of a generation all run, whether they are gone, and how many services a
//! step wrote.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shoal_tests::engine_api::EngineApi;
use shoal_tests::lab_script;

use crate::specs::{LABEL, REPLICAS, round_env};

/// How often the harness looks: the figures are this precise.
const POLL: Duration = Duration::from_millis(200);

/// Every one of `size` labelled services runs exactly `REPLICAS` tasks of `generation`,
/// all in state running, and no task of another generation is meant to run.
pub fn converged(api: &EngineApi, size: usize, generation: u32) -> bool {
    let services = api.services_labelled(LABEL);
    if services.len() != size {
        return false;
    }
    let ids: Vec<&str> = services.iter().filter_map(|s| s["ID"].as_str()).collect();
    let wanted = round_env(generation);
    let mut running: BTreeMap<&str, u64> = BTreeMap::new();
    let tasks = api.tasks_meant_to_run();
    for task in &tasks {
        let Some(service) = task["ServiceID"].as_str().filter(|id| ids.contains(id)) else {
            continue;
        };
        let env = &task["Spec"]["ContainerSpec"]["Env"];
        let current = env
            .as_array()
            .is_some_and(|e| e.iter().any(|v| v == &wanted));
        if !current || task["Status"]["State"] != "running" {
            return false;
        }
        *running.entry(service).or_default() += 1;
    }
    ids.iter()
        .all(|id| running.get(id).copied().unwrap_or(0) == REPLICAS)
}

/// No labelled service is left and the swarm lists no task.
pub fn removed(api: &EngineApi) -> bool {
    api.services_labelled(LABEL).is_empty() && api.tasks().is_empty()
}

/// Polls `done` until it holds; the time since `since`. Panics after `timeout`.
pub fn wait_until(
    what: &str,
    since: Instant,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> Duration {
    loop {
        if done() {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < timeout,
            "{what}: not done after {timeout:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// Each labelled service's `Version.Index`, by name: a write moves it.
pub fn versions(api: &EngineApi) -> BTreeMap<String, u64> {
    api.services_labelled(LABEL)
        .iter()
        .map(|s| {
            let name = s["Spec"]["Name"].as_str().unwrap_or_default().to_string();
            (name, s["Version"]["Index"].as_u64().unwrap_or(0))
        })
        .collect()
}

/// How many services of `before` have another version in `after`.
pub fn written(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> usize {
    before
        .iter()
        .filter(|(name, version)| after.get(*name) != Some(version))
        .count()
}

/// Waits until no node holds a task container: the next tool starts on idle engines.
pub fn wait_for_idle_nodes() {
    let nodes = ["node1", "node2", "node3"].map(EngineApi::node);
    wait_until(
        "task containers gone",
        Instant::now(),
        Duration::from_secs(300),
        || nodes.iter().all(|n| n.task_containers().is_empty()),
    );
}

/// After a reset: waits until no node lists an overlay network but `ingress`. A node
/// still holding a removed overlay's subnet fails the tasks of the next network given the
/// same subnet ("Pool overlaps with other one on this address space"), and the update
/// that started them pauses for good. A worker can keep such a network after the swarm
/// removed it (seen on node2 after an aborted run): nothing but a restart of its engine
/// clears it, so a node still holding one after a minute is power-cycled (`lab crash`,
/// `lab restore`).
pub fn wait_for_no_overlays() {
    let holds_overlay = |node: &str| {
        EngineApi::node(node)
            .list("/networks", serde_json::json!({"driver": ["overlay"]}))
            .iter()
            .any(|n| n["Name"] != "ingress")
    };
    let nodes = ["node1", "node2", "node3"];
    let started = Instant::now();
    while nodes.iter().any(|n| holds_overlay(n)) {
        if started.elapsed() > Duration::from_secs(60) {
            for node in nodes.iter().filter(|n| holds_overlay(n)) {
                eprintln!("{node} holds an overlay network the swarm removed: restarting it");
                lab_script(&["crash", node]);
                lab_script(&["restore", node]);
            }
            wait_until(
                "every node ready",
                Instant::now(),
                Duration::from_secs(120),
                all_ready,
            );
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// Every node of the swarm is Ready.
fn all_ready() -> bool {
    let nodes = EngineApi::node("node1").get("/nodes");
    nodes
        .as_array()
        .is_some_and(|n| n.iter().all(|node| node["Status"]["State"] == "ready"))
}
