//! What the checks judge from: the swarm's nodes, the overlays and gluster bricks shoal
//! manages, where the canaries ran, and every agent's probe report, with the times the
//! question was sent and answered. Built by [`super::examine`] from the live world, or
//! from recorded answers in tests.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use bollard::models::{Node, NodeSpecAvailabilityEnum, NodeState};

use crate::agent::probe::{NetworkReport, ProbeReport};
use crate::observe::agents::AgentReports;

/// One swarm node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFacts {
    /// The swarm's node ID (tasks name their node by it).
    pub id: String,
    pub hostname: String,
    /// Its address in the swarm (where its agent, gossip and data path are reached).
    pub address: Option<IpAddr>,
    pub ready: bool,
    /// Availability active: swarm places tasks there (a global canary too).
    pub active: bool,
    /// A manager's address and port for other nodes (2377).
    pub manager: Option<(IpAddr, u16)>,
    pub engine: Option<String>,
}

impl NodeFacts {
    pub fn of(node: &Node) -> Option<NodeFacts> {
        let hostname = node.description.as_ref()?.hostname.clone()?;
        let status = node.status.as_ref();
        let manager = node
            .manager_status
            .as_ref()
            .and_then(|m| m.addr.as_deref()?.parse::<std::net::SocketAddr>().ok())
            .map(|a| (a.ip(), a.port()));
        // A manager may report 0.0.0.0 as its address; its manager address is the real one.
        let address = status
            .and_then(|s| s.addr.as_deref()?.parse::<IpAddr>().ok())
            .filter(|a| !a.is_unspecified())
            .or(manager.map(|(ip, _)| ip));
        Some(NodeFacts {
            id: node.id.clone()?,
            hostname,
            address,
            ready: status.and_then(|s| s.state) == Some(NodeState::READY),
            active: node.spec.as_ref().and_then(|s| s.availability)
                == Some(NodeSpecAvailabilityEnum::ACTIVE),
            manager,
            engine: node
                .description
                .as_ref()
                .and_then(|d| d.engine.as_ref()?.engine_version.clone()),
        })
    }
}

/// A managed overlay and the managed services on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkFacts {
    pub name: String,
    pub canary: String,
    pub services: Vec<String>,
}

/// A brick process a client must reach, as `volume status` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrickFacts {
    pub volume: String,
    /// The brick's node, as desired-state names it.
    pub host: String,
    pub path: String,
    pub port: Option<u16>,
}

/// An agent's answer with the local clock (Unix ms) around the question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timed {
    pub report: ProbeReport,
    pub sent_ms: u64,
    pub received_ms: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub nodes: Vec<NodeFacts>,
    /// The overlay's VXLAN port (`--data-path-port`, default 4789).
    pub data_path_port: u16,
    pub agent_port: u16,
    pub networks: Vec<NetworkFacts>,
    pub bricks: Vec<BrickFacts>,
    /// Why the bricks' ports could not be read (`gluster volume status`).
    pub storage_error: Option<String>,
    /// Per network, the nodes whose canary task did not run, and why.
    pub canary_problems: BTreeMap<String, BTreeMap<String, String>>,
    /// Every ready node's probe report, by hostname.
    pub probes: BTreeMap<String, Result<Timed, String>>,
    /// The first round's answers (where the canaries are): quick, so the clocks are
    /// read from them.
    pub first_round: BTreeMap<String, Result<Timed, String>>,
    /// The IDs of the tasks swarm wants running and that run, when the probes ran: those
    /// DNS should answer (a task being stopped is withdrawn from DNS first).
    pub meant_to_run: BTreeSet<String>,
    /// The agents' status (mounts), when desired-state has GlusterVolumes.
    pub agents: Option<AgentReports>,
}

impl Evidence {
    pub fn ready_nodes(&self) -> impl Iterator<Item = &NodeFacts> {
        self.nodes.iter().filter(|n| n.ready)
    }

    pub fn node_at(&self, address: IpAddr) -> Option<&NodeFacts> {
        self.nodes.iter().find(|n| n.address == Some(address))
    }

    pub fn node(&self, hostname: &str) -> Option<&NodeFacts> {
        self.nodes.iter().find(|n| n.hostname == hostname)
    }

    /// The reports that came back.
    pub fn answered(&self) -> impl Iterator<Item = (&String, &Timed)> {
        self.probes
            .iter()
            .filter_map(|(host, probe)| Some((host, probe.as_ref().ok()?)))
    }

    /// What node `host` saw of `network`.
    pub fn network_report(&self, host: &str, network: &str) -> Option<&NetworkReport> {
        let timed = self.probes.get(host)?.as_ref().ok()?;
        timed.report.networks.iter().find(|n| n.network == network)
    }

    /// The node whose canary has `address` on `network`.
    pub fn canary_node(&self, network: &str, address: Ipv4Addr) -> Option<&str> {
        self.answered().find_map(|(host, timed)| {
            let report = timed
                .report
                .networks
                .iter()
                .find(|n| n.network == network)?;
            (report.canary == Some(address)).then_some(host.as_str())
        })
    }

    /// Whether every ready node's agent answered (a check that needs all of them).
    pub fn all_answered(&self) -> bool {
        self.ready_nodes()
            .all(|n| self.probes.get(&n.hostname).is_some_and(|p| p.is_ok()))
    }
}
