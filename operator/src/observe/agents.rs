//! Reading the agents' reports: `plan`, `apply` and `run` ask the agent on every ready
//! swarm node for its `/api/v1/status`, so the plan can show per-node storage state and
//! hold back services until their volume is mounted where their tasks may land.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::models::{Node, NodeState};

use crate::agent::report::AgentStatus;

/// What the agent of each node reported, by hostname, or why it could not be read.
pub type AgentReports = BTreeMap<String, Result<AgentStatus, String>>;

/// The address agents are reached at: the node's own address as the swarm knows it.
fn node_address(node: &Node) -> Option<(String, String)> {
    let hostname = node.description.as_ref()?.hostname.clone()?;
    let status = node.status.as_ref()?;
    if status.state != Some(NodeState::READY) {
        return None;
    }
    // A manager may report 0.0.0.0 as its address; its manager address is the real one.
    let address = status.addr.clone().filter(|a| a != "0.0.0.0").or_else(|| {
        let manager = node.manager_status.as_ref()?.addr.as_deref()?;
        Some(manager.rsplit_once(':')?.0.to_string())
    })?;
    Some((hostname, address))
}

/// Asks every ready node's agent at `port`, concurrently, each within `timeout`.
pub async fn observe(nodes: &[Node], port: u16, timeout: Duration) -> AgentReports {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(client) => client,
        Err(error) => {
            return nodes
                .iter()
                .filter_map(node_address)
                .map(|(host, _)| (host, Err(format!("no HTTP client: {error}"))))
                .collect();
        }
    };
    let requests = nodes
        .iter()
        .filter_map(node_address)
        .map(|(host, address)| {
            let client = client.clone();
            async move {
                let url = format!("http://{address}:{port}/api/v1/status");
                let report = async {
                    client
                        .get(&url)
                        .send()
                        .await?
                        .error_for_status()?
                        .json::<AgentStatus>()
                        .await
                }
                .await
                .map_err(|error| format!("agent at {url} unreachable: {}", root_cause(&error)));
                (host, report)
            }
        });
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .collect()
}

/// reqwest's top error says only "error sending request"; the cause says why.
pub fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
