//! What the trusted pool looks like now: peers, volumes, effective options, brick
//! processes and heal state, read with the gluster CLI on this host.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::gluster::cli::{CliError, GlusterCli};
use crate::gluster::xml::{self, BrickStatus, HealSummary, Peer, VolumeInfo, VolumeStatus};
use crate::resources::Desired;

/// The observed pool, for the volumes desired-state declares.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GlusterLive {
    /// Hostname of the host shoal runs on (a pool member, listed as `localhost`).
    pub local_hostname: String,
    pub peers: Vec<PeerState>,
    pub volumes: Vec<VolumeState>,
    /// Addresses of the hosts the desired bricks name, to match peers known by address.
    pub brick_host_addresses: BTreeMap<String, BTreeSet<IpAddr>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerState {
    pub hostname: String,
    pub connected: bool,
}

/// One volume: its layout, effective options, brick processes and heal state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeState {
    pub name: String,
    pub status: VolumeStatus,
    pub replica: u32,
    pub arbiter: u32,
    /// `host:/path` in replica-set order.
    pub bricks: Vec<String>,
    pub options: BTreeMap<String, String>,
    /// Brick processes online, of `bricks.len()`; `None` when the volume is not started
    /// or gluster could not say.
    pub bricks_online: Option<usize>,
    pub heal_pending: u64,
    pub split_brain: u64,
    /// The entries in split-brain, as `heal info split-brain` names them.
    #[serde(default)]
    pub split_brain_files: Vec<String>,
    /// Each brick as heal info (or, failing it, `volume status`) saw it.
    #[serde(default)]
    pub brick_states: Vec<BrickState>,
}

/// One brick: reachable or not, and what it holds to heal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrickState {
    /// `host:/path`, as gluster names it.
    pub brick: String,
    pub online: bool,
    /// `Connected`, or why not (`Transport endpoint is not connected`).
    pub status: String,
    /// Entries it holds to heal, and in split-brain; unknown from `volume status`.
    pub heal_pending: Option<u64>,
    pub split_brain: Option<u64>,
}

impl From<&HealSummary> for BrickState {
    /// An unreachable brick's counts are unknown (heal info gives none), not 0.
    fn from(heal: &HealSummary) -> Self {
        let online = heal.status == "Connected";
        BrickState {
            brick: heal.brick.clone(),
            online,
            status: heal.status.clone(),
            heal_pending: online.then_some(heal.pending),
            split_brain: online.then_some(heal.split_brain),
        }
    }
}

impl From<&BrickStatus> for BrickState {
    fn from(brick: &BrickStatus) -> Self {
        BrickState {
            brick: format!("{}:{}", brick.host, brick.path),
            online: brick.online,
            status: if brick.online { "Online" } else { "Offline" }.into(),
            heal_pending: None,
            split_brain: None,
        }
    }
}

impl From<Peer> for PeerState {
    fn from(peer: Peer) -> Self {
        PeerState {
            hostname: peer.hostname,
            connected: peer.connected,
        }
    }
}

impl GlusterLive {
    pub fn volume(&self, name: &str) -> Option<&VolumeState> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// Whether `host` (a brick's node name) is a member of the pool, by name or address.
    pub fn in_pool(&self, host: &str) -> bool {
        host == self.local_hostname || host == "localhost" || self.peer(host).is_some()
    }

    /// Whether `host` is in the pool and connected (this host always is).
    pub fn connected(&self, host: &str) -> bool {
        host == self.local_hostname
            || host == "localhost"
            || self.peer(host).is_some_and(|p| p.connected)
    }

    /// The peer entry of a host named by name, or by one of its addresses.
    pub fn peer(&self, host: &str) -> Option<&PeerState> {
        let addresses = self.brick_host_addresses.get(host);
        self.peers.iter().find(|peer| {
            peer.hostname == host
                || addresses.is_some_and(|a| {
                    peer.hostname
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| a.contains(&ip))
                })
        })
    }
}

/// Reads the pool and every volume `desired` declares that exists.
pub async fn observe(cli: &GlusterCli, desired: &Desired) -> Result<GlusterLive, CliError> {
    let peers = xml::pool_list(&cli.run(&["pool", "list"]).await?)
        .map_err(|source| gluster_error("pool list", source))?;
    let infos = xml::volume_info(&cli.run(&["volume", "info"]).await?)
        .map_err(|source| gluster_error("volume info", source))?;
    let mut brick_host_addresses = BTreeMap::new();
    let mut volumes = Vec::new();
    for (resource, spec) in desired.gluster_volumes() {
        for brick in &spec.bricks {
            if !brick_host_addresses.contains_key(&brick.node) {
                let addresses: BTreeSet<IpAddr> =
                    tokio::net::lookup_host((brick.node.as_str(), 24007))
                        .await
                        .map(|found| found.map(|a| a.ip()).collect())
                        .unwrap_or_default();
                brick_host_addresses.insert(brick.node.clone(), addresses);
            }
        }
        let Some(info) = infos.iter().find(|v| v.name == resource.name()) else {
            continue;
        };
        volumes.push(volume_state(cli, info).await?);
    }
    let local_hostname = crate::host::hostname();
    Ok(GlusterLive {
        local_hostname,
        peers: peers.into_iter().map(PeerState::from).collect(),
        volumes,
        brick_host_addresses,
    })
}

async fn volume_state(cli: &GlusterCli, info: &VolumeInfo) -> Result<VolumeState, CliError> {
    let name = info.name.as_str();
    let options = xml::volume_options(&cli.run(&["volume", "get", name, "all"]).await?)
        .map_err(|source| gluster_error("volume get", source))?;
    let started = info.status == VolumeStatus::Started;
    // Heal info connects to every brick as a client would, and says per brick whether it
    // is reachable: the health that matters for data, and it answers within seconds when a
    // node is gone. `volume status` asks each peer's glusterd instead, which can hang on a
    // dead peer and hold the volume's lock: it is only the fallback. Failing both, health
    // is judged from peer connectivity (see plan::gluster).
    let (bricks_online, heal, from_status) = if started {
        let heal: Option<Vec<HealSummary>> =
            match cli.run(&["volume", "heal", name, "info", "summary"]).await {
                Ok(text) => xml::heal_summary(&text).ok(),
                Err(error) => {
                    tracing::warn!(volume = name, %error, "heal state unavailable");
                    None
                }
            };
        let status: Option<Vec<BrickStatus>> = match &heal {
            Some(_) => None,
            None => match cli.run(&["volume", "status", name]).await {
                Ok(text) => xml::volume_status(&text).ok(),
                Err(error) => {
                    tracing::warn!(volume = name, %error, "brick status unavailable");
                    None
                }
            },
        };
        let online = match (&heal, &status) {
            (Some(bricks), _) => Some(bricks.iter().filter(|b| b.status == "Connected").count()),
            (None, Some(bricks)) => Some(bricks.iter().filter(|b| b.online).count()),
            (None, None) => None,
        };
        (online, heal.unwrap_or_default(), status)
    } else {
        (None, Vec::new(), None)
    };
    let mut state = VolumeState::new(info, options, bricks_online, &heal);
    if let Some(bricks) = from_status {
        state.brick_states = bricks.iter().map(BrickState::from).collect();
    }
    if state.split_brain > 0 {
        // Which files, so that a person can resolve them (shoal never picks a copy).
        match cli
            .run(&["volume", "heal", name, "info", "split-brain"])
            .await
        {
            Ok(text) => match xml::heal_files(&text) {
                Ok(files) => state.split_brain_files = files,
                Err(error) => {
                    tracing::warn!(volume = name, %error, "split-brain entries unreadable")
                }
            },
            Err(error) => tracing::warn!(volume = name, %error, "split-brain entries unavailable"),
        }
    }
    Ok(state)
}

impl VolumeState {
    /// A volume's state from gluster's answers about it.
    pub fn new(
        info: &VolumeInfo,
        options: BTreeMap<String, String>,
        bricks_online: Option<usize>,
        heal: &[HealSummary],
    ) -> Self {
        VolumeState {
            name: info.name.clone(),
            status: info.status.clone(),
            replica: info.replica,
            arbiter: info.arbiter,
            bricks: info
                .bricks
                .iter()
                .map(|b| format!("{}:{}", b.host, b.path))
                .collect(),
            options,
            bricks_online,
            heal_pending: heal.iter().map(|h| h.pending).sum(),
            split_brain: heal.iter().map(|h| h.split_brain).sum(),
            split_brain_files: Vec::new(),
            brick_states: heal.iter().map(BrickState::from).collect(),
        }
    }
}

fn gluster_error(what: &str, source: xml::GlusterError) -> CliError {
    CliError::Gluster {
        args: what.to_string(),
        source,
    }
}

/// The pool as observed from node1, from the gluster answers recorded in the lab at
/// tests/fixtures/gluster/`dir` (one volume: volume-info, volume-get-all, heal info, and
/// heal info split-brain where it has entries in split-brain).
#[cfg(test)]
pub(crate) fn recorded_pool(dir: &str) -> GlusterLive {
    use crate::gluster::recorded;
    let info = &xml::volume_info(&recorded(&format!("{dir}/volume-info.xml"))).unwrap()[0];
    let heal = xml::heal_summary(&recorded(&format!("{dir}/heal-info-summary.xml"))).unwrap();
    let peers = xml::pool_list(&recorded(&format!("{dir}/pool-list.xml"))).unwrap();
    let options = xml::volume_options(&recorded(&format!("{dir}/volume-get-all.xml"))).unwrap();
    let online = heal.iter().filter(|h| h.status == "Connected").count();
    let mut volume = VolumeState::new(info, options, Some(online), &heal);
    if volume.split_brain > 0 {
        let text = recorded(&format!("{dir}/heal-info-split-brain.xml"));
        volume.split_brain_files = xml::heal_files(&text).unwrap();
    }
    GlusterLive {
        local_hostname: "node1".into(),
        peers: peers.into_iter().map(PeerState::from).collect(),
        // As observe does: bricks online are the ones heal info reaches.
        volumes: vec![volume],
        brick_host_addresses: (1..=3)
            .map(|n| {
                let address = format!("10.213.0.{}", 10 + n).parse().unwrap();
                (format!("node{n}"), BTreeSet::from([address]))
            })
            .collect(),
    }
}
