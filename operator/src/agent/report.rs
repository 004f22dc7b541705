//! What an agent reports at `/api/v1/status`: the contract between the agent that writes
//! it and the `plan`, `apply` and `run` that read it (observe::agents), kept apart from the
//! agent's own work so that readers depend on the report only.

use serde::{Deserialize, Serialize};

/// The state of one volume on this host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeStatus {
    pub volume: String,
    pub mount_point: String,
    pub mounted: bool,
    /// The server the mount was made from.
    pub server: Option<String>,
    pub free_bytes: Option<u64>,
    /// What this pass changed (`mounted from node2`, `created wordpress`...).
    pub actions: Vec<String>,
    pub last_error: Option<String>,
}

/// Everything the agent reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub hostname: String,
    pub volumes: Vec<VolumeStatus>,
    /// Why desired-state could not be loaded; the last good one is kept meanwhile.
    pub desired_error: Option<String>,
}

impl AgentStatus {
    pub fn healthy(&self) -> bool {
        self.desired_error.is_none()
            && self
                .volumes
                .iter()
                .all(|v| v.mounted && v.last_error.is_none())
    }
}
