//! One examination, against the live swarm: read the nodes, the managed overlays and the
//! bricks' ports, start a canary on each overlay, ask every node's agent twice (where is
//! your canary; then probe the others from it, and the TCP ports), remove the canaries,
//! and judge. The only I/O of the doctor.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use bollard::Docker;
use bollard::models::TaskState;
use bollard::query_parameters::{ListNodesOptions, ListTasksOptions};

use crate::agent::probe::{NetworkProbe, ProbeReport, ProbeRequest};
use crate::gluster::cli::GlusterCli;
use crate::gluster::xml;
use crate::resources::Desired;
use crate::swarm::engine::EngineError;

use super::evidence::{BrickFacts, Evidence, NetworkFacts, NodeFacts, Timed};
use super::{Report, canary, links, overlay};

/// An agent's probes run for seconds (a fetch, a ping and lookups per peer and name).
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);
/// After the canaries start, the nodes' gossip needs a moment to share their endpoints.
const SETTLE: Duration = Duration::from_secs(3);
const DEFAULT_DATA_PATH_PORT: u16 = 4789;

#[derive(Clone, Debug)]
pub struct DoctorOptions {
    pub agent_port: u16,
    /// The canary's image: busybox (httpd, wget, ping, nslookup), on every node.
    pub canary_image: String,
    /// How long the canaries may take to run on every node.
    pub canary_timeout: Duration,
    /// How long to wait for another examination under way to end.
    pub patience: Duration,
}

/// Examines the swarm for `desired`'s overlays and volumes; the canaries are removed
/// whatever happens. Another examination under way is waited for (`options.patience`),
/// then refused.
pub async fn examine(
    docker: &Docker,
    desired: &Desired,
    options: &DoctorOptions,
) -> Result<Report, EngineError> {
    let mut evidence = gather(docker, desired, options).await?;
    let names: Vec<String> = evidence.networks.iter().map(|n| n.name.clone()).collect();
    if !names.is_empty() && !canary::clear_the_way(docker, options.patience).await? {
        return Err(EngineError::Refused(
            "another examination of the network is under way (its canary services run): try again when it is done".into(),
        ));
    }
    let examination = format!(
        "{}-{}-{}",
        crate::host::hostname(),
        std::process::id(),
        unix_ms()
    );
    let probed = probe_with_canaries(docker, &mut evidence, &names, options, &examination).await;
    let removed = canary::remove(docker, &examination).await;
    probed?;
    removed?;
    Ok(Report::of(&evidence))
}

async fn probe_with_canaries(
    docker: &Docker,
    evidence: &mut Evidence,
    networks: &[String],
    options: &DoctorOptions,
    examination: &str,
) -> Result<(), EngineError> {
    if !networks.is_empty() {
        canary::create(docker, networks, &options.canary_image, examination).await?;
        // Where swarm places a global service's tasks: ready, active nodes.
        let placed: BTreeMap<String, String> = evidence
            .ready_nodes()
            .filter(|n| n.active)
            .map(|n| (n.id.clone(), n.hostname.clone()))
            .collect();
        evidence.canary_problems =
            canary::wait_running(docker, networks, &placed, options.canary_timeout).await?;
        tracing::debug!(problems = ?evidence.canary_problems, "doctor: canaries running");
        tokio::time::sleep(SETTLE).await;
        // First round: where each node's canary is (a quick answer: the clocks too).
        let where_is = |_: &NodeFacts| ProbeRequest {
            tcp: Vec::new(),
            networks: evidence
                .networks
                .iter()
                .map(|n| NetworkProbe {
                    network: n.name.clone(),
                    canary: n.canary.clone(),
                    peers: Vec::new(),
                    names: Vec::new(),
                })
                .collect(),
        };
        evidence.first_round = ask_agents(evidence, options.agent_port, where_is).await;
        evidence.probes = evidence.first_round.clone();
        evidence.meant_to_run = running_task_ids(docker).await?;
        tracing::debug!("doctor: first round answered");
    }
    let requests: BTreeMap<String, ProbeRequest> = evidence
        .ready_nodes()
        .map(|node| {
            let request = ProbeRequest {
                tcp: links::tcp_targets(evidence, node),
                networks: overlay::network_probes(evidence, &node.hostname),
            };
            (node.hostname.clone(), request)
        })
        .collect();
    evidence.probes = ask_agents(evidence, options.agent_port, |node| {
        requests.get(&node.hostname).cloned().unwrap_or_default()
    })
    .await;
    tracing::debug!("doctor: probes answered");
    Ok(())
}

/// The tasks swarm wants running and that run: those DNS should answer.
async fn running_task_ids(docker: &Docker) -> Result<BTreeSet<String>, EngineError> {
    let tasks = docker
        .list_tasks(Some(ListTasksOptions {
            filters: crate::swarm::engine::filter("desired-state", "running"),
        }))
        .await
        .map_err(EngineError::call("listing tasks"))?;
    Ok(tasks
        .into_iter()
        .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
        .filter_map(|t| t.id)
        .collect())
}

/// What the examination needs from the swarm, gluster and the agents' status.
async fn gather(
    docker: &Docker,
    desired: &Desired,
    options: &DoctorOptions,
) -> Result<Evidence, EngineError> {
    let nodes = docker
        .list_nodes(None::<ListNodesOptions>)
        .await
        .map_err(EngineError::call("listing nodes"))?;
    let swarm = docker
        .inspect_swarm()
        .await
        .map_err(EngineError::call("inspecting the swarm"))?;
    let live_networks: Vec<String> = docker
        .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
        .await
        .map_err(EngineError::call("listing networks"))?
        .into_iter()
        .filter(|n| n.scope.as_deref() == Some("swarm"))
        .filter_map(|n| n.name)
        .collect();
    let mut evidence = Evidence {
        nodes: nodes.iter().filter_map(NodeFacts::of).collect(),
        data_path_port: swarm
            .data_path_port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .unwrap_or(DEFAULT_DATA_PATH_PORT),
        agent_port: options.agent_port,
        networks: managed_networks(desired, &live_networks),
        ..Evidence::default()
    };
    if desired.gluster_volumes().next().is_some() {
        let (bricks, unknown) = bricks(desired, &evidence).await;
        evidence.bricks = bricks;
        evidence.storage_error = (!unknown.is_empty()).then(|| unknown.join("; "));
        evidence.agents = Some(
            crate::observe::agents::observe(&nodes, options.agent_port, Duration::from_secs(3))
                .await,
        );
    }
    Ok(evidence)
}

/// desired-state's overlays that exist, and the services on each.
pub(crate) fn managed_networks(desired: &Desired, live: &[String]) -> Vec<NetworkFacts> {
    desired
        .networks()
        .map(|(resource, _)| resource.name())
        .filter(|name| live.iter().any(|l| l == name))
        .map(|name| NetworkFacts {
            name: name.to_string(),
            canary: canary::name(name),
            services: desired
                .services()
                .filter(|(_, spec)| spec.networks.iter().any(|n| n == name))
                .map(|(resource, _)| resource.name().to_string())
                .collect(),
        })
        .collect()
}

/// `gluster volume status` waits on a peer that does not answer: not for long here.
const GLUSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// Every desired brick, with the port `volume status` gives its process; and why the
/// ports of a volume are unknown (not created or started yet, gluster not answering).
async fn bricks(desired: &Desired, evidence: &Evidence) -> (Vec<BrickFacts>, Vec<String>) {
    let cli = GlusterCli::default();
    let mut bricks = Vec::new();
    let mut unknown = Vec::new();
    for (resource, spec) in desired.gluster_volumes() {
        let name = resource.name();
        let status = tokio::time::timeout(GLUSTER_TIMEOUT, cli.run(&["volume", "status", name]))
            .await
            .map_err(|_| format!("gluster volume status {name}: no answer in {GLUSTER_TIMEOUT:?}"))
            .and_then(|answer| answer.map_err(|e| e.to_string()))
            .and_then(|text| xml::volume_status(&text).map_err(|e| format!("{name}: {e}")));
        let processes = status.unwrap_or_else(|error| {
            unknown.push(error);
            Vec::new()
        });
        for brick in &spec.bricks {
            let port = processes
                .iter()
                .find(|p| p.path == brick.path && same_host(evidence, &p.host, &brick.node))
                .and_then(|p| p.port);
            bricks.push(BrickFacts {
                volume: name.to_string(),
                host: brick.node.clone(),
                path: brick.path.clone(),
                port,
            });
        }
    }
    (bricks, unknown)
}

/// Whether gluster's name of a host (a name or an address) is the node `node`.
fn same_host(evidence: &Evidence, gluster: &str, node: &str) -> bool {
    gluster == node
        || gluster
            .parse()
            .ok()
            .and_then(|address| evidence.node_at(address))
            .is_some_and(|n| n.hostname == node)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Asks every ready node's agent, concurrently, with the request `request` makes for it.
async fn ask_agents(
    evidence: &Evidence,
    port: u16,
    request: impl Fn(&NodeFacts) -> ProbeRequest,
) -> BTreeMap<String, Result<Timed, String>> {
    let client = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .build()
        .expect("an HTTP client with a timeout builds");
    let asks = evidence.ready_nodes().map(|node| {
        let client = client.clone();
        let body = request(node);
        let address = node.address;
        let host = node.hostname.clone();
        async move {
            let Some(address) = address else {
                return (host, Err("the swarm knows no address of it".to_string()));
            };
            let url = format!("http://{address}:{port}/api/v1/probe");
            let sent_ms = unix_ms();
            let answer = async {
                client
                    .post(&url)
                    .json(&body)
                    .send()
                    .await?
                    .error_for_status()?
                    .json::<ProbeReport>()
                    .await
            }
            .await;
            let received_ms = unix_ms();
            let timed = answer
                .map(|report| Timed {
                    report,
                    sent_ms,
                    received_ms,
                })
                .map_err(|e| format!("{url}: {}", crate::observe::agents::root_cause(&e)));
            (host, timed)
        }
    });
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .collect()
}
