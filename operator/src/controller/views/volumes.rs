//! `/api/v1/volumes`: each GlusterVolume desired-state has, as the storage panel shows
//! it: its state in one word, every brick online or not with what it holds to heal, the
//! entries in split-brain, and its mount on every node as the agents report it.

use serde::Serialize;

use super::rfc3339;
use crate::controller::observation::Observed;
use crate::observe::gluster::{BrickState, GlusterLive};
use crate::plan::gluster::{StorageHealth, StorageState};
use crate::plan::storage_gate::NodeMount;

#[derive(Debug, Serialize)]
pub struct VolumesView {
    pub observed_at: Option<String>,
    /// Why the gluster pool could not be read, when it could not.
    pub error: Option<String>,
    pub volumes: Vec<VolumeView>,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct VolumeView {
    pub name: String,
    pub state: VolumeState,
    pub bricks: Vec<BrickView>,
    pub heal_pending: u64,
    pub split_brain: u64,
    pub split_brain_files: Vec<String>,
    /// The brick nodes whose gluster peer is not connected.
    pub disconnected_peers: Vec<String>,
    pub mounts: Vec<NodeMount>,
}

/// A volume in one word, as the storage panel shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeState {
    Healthy,
    Healing,
    Degraded,
    /// Created, not started.
    #[serde(rename = "not started")]
    NotStarted,
    /// The pool was read and has no such volume (not created yet).
    Missing,
    /// The pool could not be read.
    Unknown,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct BrickView {
    /// `node1:/data/bricks/storage`
    pub brick: String,
    pub node: String,
    /// `None` when gluster could not say (the volume not started, or no answer).
    pub online: Option<bool>,
    pub status: Option<String>,
    pub heal_pending: Option<u64>,
    pub split_brain: Option<u64>,
}

/// The storage panel of `observed`; `None` observed gives no volumes.
pub fn volumes(observed: Option<&Observed>) -> VolumesView {
    let Some(observed) = observed else {
        return VolumesView {
            observed_at: None,
            error: None,
            volumes: Vec::new(),
        };
    };
    let plan = observed.plan();
    let (pool, error) = match &observed.live.gluster {
        Some(Ok(pool)) => (Some(pool), None),
        Some(Err(error)) => (None, Some(error.clone())),
        None => (None, None),
    };
    let volumes = observed
        .snapshot
        .desired
        .gluster_volumes()
        .map(|(resource, _)| {
            let name = resource.name();
            let health = plan.storage.iter().find(|h| h.name == name);
            let mounts = plan.mounts.iter().filter(|m| m.volume == name).cloned();
            volume_view(name, pool, health, mounts.collect())
        })
        .collect();
    VolumesView {
        observed_at: Some(rfc3339(observed.at)),
        error,
        volumes,
    }
}

fn volume_view(
    name: &str,
    pool: Option<&GlusterLive>,
    health: Option<&StorageHealth>,
    mounts: Vec<NodeMount>,
) -> VolumeView {
    let live = pool.and_then(|p| p.volume(name));
    let bricks = live.map_or_else(Vec::new, |volume| {
        volume
            .bricks
            .iter()
            .map(|brick| brick_view(brick, &volume.brick_states))
            .collect()
    });
    let state = match health.map(StorageHealth::state) {
        Some(StorageState::Healthy) => VolumeState::Healthy,
        Some(StorageState::Healing) => VolumeState::Healing,
        Some(StorageState::Degraded) => VolumeState::Degraded,
        None if live.is_some() => VolumeState::NotStarted,
        None if pool.is_some() => VolumeState::Missing,
        None => VolumeState::Unknown,
    };
    VolumeView {
        name: name.to_string(),
        state,
        bricks,
        heal_pending: health.map_or(0, |h| h.heal_pending),
        split_brain: health.map_or(0, |h| h.split_brain),
        split_brain_files: health.map_or_else(Vec::new, |h| h.split_brain_files.clone()),
        disconnected_peers: health.map_or_else(Vec::new, |h| h.disconnected_peers.clone()),
        mounts,
    }
}

/// `brick` as gluster's answer `states` has it. `volume status` leaves out the bricks of
/// peers it cannot reach: a brick missing from an answer that lists others is offline.
fn brick_view(brick: &str, states: &[BrickState]) -> BrickView {
    let state = states.iter().find(|b| b.brick == brick);
    let unlisted = state.is_none() && !states.is_empty();
    BrickView {
        brick: brick.to_string(),
        node: brick
            .split_once(':')
            .map_or(brick, |(host, _)| host)
            .to_string(),
        online: state.map(|s| s.online).or(unlisted.then_some(false)),
        status: match state {
            Some(state) => Some(state.status.clone()),
            None => unlisted.then(|| "not listed by gluster".to_string()),
        },
        heal_pending: state.and_then(|s| s.heal_pending),
        split_brain: state.and_then(|s| s.split_brain),
    }
}
