//! The `Network` kind: a swarm-scoped overlay network that services attach to by name.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a swarm network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSpec {
    /// Network driver: `overlay`, the only driver that spans the swarm's nodes.
    #[serde(default)]
    pub driver: NetworkDriver,
    /// Whether standalone containers (`docker run --network`) may attach too.
    #[serde(default)]
    pub attachable: bool,
    /// An internal network has no route to the outside world.
    #[serde(default)]
    pub internal: bool,
    /// Encrypt the overlay's VXLAN traffic between nodes (IPsec).
    #[serde(default)]
    pub encrypted: bool,
    /// Labels on the network.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Network driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkDriver {
    #[default]
    Overlay,
}
