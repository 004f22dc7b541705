//! The `Node` kind: labels and availability of one swarm node, matched by hostname.
//! Nodes join the swarm out of band; shoal only manages what the swarm lets an operator
//! set on them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a swarm node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSpec {
    /// Hostname of the node (default: the resource's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Node labels, used by placement constraints (`node.labels.NAME == VALUE`). Labels set
    /// by hand that are not listed here are left alone.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `active` (default), `pause` (no new tasks) or `drain` (tasks moved away).
    #[serde(default)]
    pub availability: Availability,
    /// The memory shoal plans this node's capacity with (`1G`), instead of what its engine
    /// reports: to check that production's hosts would hold the platform, from a lab or a
    /// staging swarm with more. Swarm's own scheduler still uses the engine's figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<crate::resources::quantity::MemorySize>,
}

/// Scheduling availability of a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    #[default]
    Active,
    Pause,
    Drain,
}
