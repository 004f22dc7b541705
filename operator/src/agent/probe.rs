//! The probes `shoal doctor` asks of every node's agent (`POST /api/v1/probe`): a fault
//! between hosts shows only from the hosts themselves. The agent connects over TCP to the
//! swarm's own node addresses on the ports swarm and gluster use, and, inside the local
//! doctor canary task of each overlay, fetches from the other canaries, pings them at
//! full overlay size and asks the embedded DNS. Everything is bounded: a fixed number of
//! attempts, one-second timeouts, capped target counts, and only addresses the local
//! engine knows as swarm nodes (TCP) or on the canary's own overlay (canary probes).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use bollard::Docker;
use serde::{Deserialize, Serialize};

mod exec;
mod local;

/// Attempts per probe; a probe passes at its first answer.
pub const ATTEMPTS: u32 = 3;
/// The port the canary serves on (busybox httpd).
pub const CANARY_PORT: u16 = 8080;
/// The doctor's canary services are named `shoal-doctor-NETWORK`: the only containers
/// the probes exec into.
pub const CANARY_PREFIX: &str = "shoal-doctor-";
/// What the canary's page says: a fetch that reads it reached a canary.
pub const CANARY_PAGE: &str = "shoal-doctor-canary";
const TCP_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_TCP_TARGETS: usize = 64;
const MAX_NETWORKS: usize = 8;
const MAX_PEERS: usize = 32;
const MAX_NAMES: usize = 32;

/// What the doctor asks one agent to probe.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRequest {
    #[serde(default)]
    pub tcp: Vec<TcpTarget>,
    #[serde(default)]
    pub networks: Vec<NetworkProbe>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TcpTarget {
    pub address: IpAddr,
    pub port: u16,
}

/// One overlay: where its canary is on this node, and what to ask from inside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkProbe {
    pub network: String,
    /// The canary service on it.
    pub canary: String,
    /// The other canaries' task addresses on the overlay.
    #[serde(default)]
    pub peers: Vec<Ipv4Addr>,
    /// Names to resolve with the embedded DNS (`tasks.SERVICE`).
    #[serde(default)]
    pub names: Vec<String>,
}

/// What one agent found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub hostname: String,
    /// The host's clock when it answered, in milliseconds since the Unix epoch (clock
    /// skew is a matter of milliseconds to seconds).
    pub unix_ms: u64,
    pub tcp: Vec<TcpResult>,
    pub networks: Vec<NetworkReport>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpResult {
    pub address: IpAddr,
    pub port: u16,
    pub connected: bool,
    pub attempts: u32,
    /// The last failure (`connection refused`, `timed out`, `not a swarm node address`).
    pub error: Option<String>,
}

/// One overlay as this node sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkReport {
    pub network: String,
    /// The local canary task's address on the overlay, when one runs here.
    pub canary: Option<Ipv4Addr>,
    /// Every task running here that is attached to the overlay (the truth DNS should tell).
    pub tasks: Vec<LocalTask>,
    pub peers: Vec<PeerResult>,
    pub dns: Vec<DnsAnswer>,
    /// This node's gossip view of the network (`network inspect --verbose`).
    pub view: Option<NetworkView>,
    /// Why the canary probes could not run here.
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LocalTask {
    pub service: String,
    /// `service.slot.taskid`, as swarm names it.
    pub task: String,
    pub address: Ipv4Addr,
    /// Its health check passed, or it has none: swarm's DNS answers it (a task whose
    /// check is still starting, or failing, is not answered yet).
    #[serde(default = "yes")]
    pub serving: bool,
}

fn yes() -> bool {
    true
}

impl LocalTask {
    /// The task ID: the last part of `service.slot.taskid`.
    pub fn id(&self) -> &str {
        self.task.rsplit('.').next().unwrap_or("")
    }
}

/// Probes from the local canary to another: HTTP fetches answered, and whether a
/// packet of the overlay's full size crossed with don't-fragment set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerResult {
    pub address: Ipv4Addr,
    pub answered: u32,
    pub attempts: u32,
    /// `None` when not tried (no fetch answered).
    pub full_size: Option<bool>,
    /// The packet size tried (the overlay's MTU).
    pub mtu: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAnswer {
    pub name: String,
    pub addresses: BTreeSet<Ipv4Addr>,
    /// NXDOMAIN or no answer, as nslookup said it.
    pub error: Option<String>,
}

/// A network's services and gossip peers as one node's NetworkDB holds them: what its
/// embedded DNS and load balancer answer from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkView {
    /// The gossip addresses of the nodes this node sees on the network.
    pub peers: BTreeSet<String>,
    /// Service name -> the tasks this node believes it has.
    pub services: BTreeMap<String, Vec<ViewTask>>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ViewTask {
    pub name: String,
    pub address: String,
    /// The data-path address of the node the task runs on.
    pub host: Option<String>,
}

impl NetworkView {
    /// Reads the engine's verbose network inspect; `Services` comes as raw JSON in
    /// bollard, in the shape of its `ServiceInfo`.
    pub fn from_inspect(network: &bollard::models::NetworkInspect) -> NetworkView {
        let peers = network
            .peers
            .iter()
            .flatten()
            .filter_map(|peer| peer.ip.clone())
            .collect();
        let services = network
            .services
            .iter()
            .flatten()
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, value)| {
                let info: bollard::models::ServiceInfo =
                    serde_json::from_value(value.clone()).unwrap_or_default();
                let mut tasks: Vec<ViewTask> = info
                    .tasks
                    .unwrap_or_default()
                    .into_iter()
                    .map(|task| ViewTask {
                        name: task.name.unwrap_or_default(),
                        address: task.endpoint_ip.unwrap_or_default(),
                        host: task.info.and_then(|info| info.get("Host IP").cloned()),
                    })
                    .collect();
                tasks.sort();
                (name.clone(), tasks)
            })
            .collect();
        NetworkView { peers, services }
    }
}

/// Runs `request` against the local engine; never fails as a whole: what could not be
/// probed says why in its entry.
pub async fn probe(docker: &Docker, request: ProbeRequest) -> ProbeReport {
    // One request at a time: a caller cannot pile execs up on this host.
    static ONE_AT_A_TIME: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let _turn = ONE_AT_A_TIME.acquire().await;
    if !request.networks.is_empty() {
        local::remove_exited_canaries(docker).await;
    }
    let allowed = local::allowed(docker).await;
    let tcp = request.tcp.into_iter().take(MAX_TCP_TARGETS).map(|target| {
        let allowed = allowed.allows(target.address, target.port);
        async move { tcp_probe(target, allowed).await }
    });
    let networks = request
        .networks
        .into_iter()
        .take(MAX_NETWORKS)
        .map(|network| probe_network(docker, network));
    let (tcp, networks) = tokio::join!(
        futures_util::future::join_all(tcp),
        futures_util::future::join_all(networks)
    );
    ProbeReport {
        hostname: crate::host::hostname(),
        unix_ms: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        tcp,
        networks,
    }
}

/// Connects up to [`ATTEMPTS`] times, stopping at the first connection.
async fn tcp_probe(target: TcpTarget, allowed: bool) -> TcpResult {
    let mut result = TcpResult {
        address: target.address,
        port: target.port,
        connected: false,
        attempts: 0,
        error: None,
    };
    if !allowed {
        result.error = Some(
            "not a swarm node address this node knows, or not a swarm or gluster port: not probed"
                .into(),
        );
        return result;
    }
    while result.attempts < ATTEMPTS && !result.connected {
        result.attempts += 1;
        let address = std::net::SocketAddr::new(target.address, target.port);
        match tokio::time::timeout(TCP_TIMEOUT, tokio::net::TcpStream::connect(address)).await {
            Ok(Ok(_)) => result.connected = true,
            Ok(Err(error)) => result.error = Some(error.kind().to_string()),
            Err(_) => result.error = Some("timed out".into()),
        }
    }
    if result.connected {
        result.error = None;
    }
    result
}

async fn probe_network(docker: &Docker, probe: NetworkProbe) -> NetworkReport {
    let mut report = NetworkReport {
        network: probe.network.clone(),
        ..NetworkReport::default()
    };
    // Only the doctor's own canary of that network is ever exec'd into.
    if probe.canary != format!("{CANARY_PREFIX}{}", probe.network) {
        report.error = Some(format!(
            "{} is not the doctor's canary of {} ({CANARY_PREFIX}{}): not probed",
            probe.canary, probe.network, probe.network
        ));
        return report;
    }
    let inspect = match local::inspect(docker, &probe.network).await {
        Ok(inspect) => inspect,
        Err(error) => {
            report.error = Some(error);
            return report;
        }
    };
    report.view = Some(NetworkView::from_inspect(&inspect));
    let subnets = local::subnets(&inspect);
    let mtu = local::overlay_mtu(&inspect);
    let (canary, tasks) = match local::tasks_on(docker, &probe.network, &probe.canary).await {
        Ok(found) => found,
        Err(error) => {
            report.error = Some(error);
            return report;
        }
    };
    report.tasks = tasks;
    let Some((container, address)) = canary else {
        report.error = Some(format!("no {} task runs on this node", probe.canary));
        return report;
    };
    report.canary = Some(address);
    // Only the overlay's own addresses, and names that cannot be read as shell or options.
    let peers: Vec<Ipv4Addr> = probe
        .peers
        .into_iter()
        .filter(|peer| *peer != address && subnets.iter().any(|s| s.contains(peer)))
        .take(MAX_PEERS)
        .collect();
    let names: Vec<String> = probe
        .names
        .into_iter()
        .filter(|name| name.starts_with("tasks.") && exec::is_plain_name(name))
        .take(MAX_NAMES)
        .collect();
    if peers.is_empty() && names.is_empty() {
        return report;
    }
    match exec::in_canary(docker, &container, &peers, &names, mtu).await {
        Ok((results, dns)) => {
            report.peers = results;
            report.dns = dns;
        }
        Err(error) => report.error = Some(error),
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request naming another service as the canary never reaches the engine: the
    /// probes exec only into the doctor's own canary of that network.
    #[tokio::test]
    async fn only_the_doctors_canary_is_probed() {
        let nowhere =
            Docker::connect_with_http("http://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
                .unwrap();
        let report = probe_network(
            &nowhere,
            NetworkProbe {
                network: "backend".into(),
                canary: "db".into(),
                peers: vec![Ipv4Addr::new(10, 0, 1, 3)],
                names: vec!["tasks.db".into()],
            },
        )
        .await;
        assert_eq!(
            report.error.as_deref(),
            Some("db is not the doctor's canary of backend (shoal-doctor-backend): not probed")
        );
        assert!(report.view.is_none() && report.peers.is_empty() && report.dns.is_empty());
    }
}
