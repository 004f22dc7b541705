//! The `GlusterVolume` kind: a replicated GlusterFS volume, its bricks and options, where
//! every host mounts it, and the directories kept inside it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a GlusterFS volume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlusterVolumeSpec {
    /// Bricks per replica set (including the arbiter, if any). 3 is the safe choice:
    /// with 2 the volume cannot keep both availability and quorum.
    pub replica: u32,
    /// `1` makes the last brick of each replica set an arbiter (metadata only); needs
    /// `replica: 3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arbiter: Option<u32>,
    /// The bricks, in replica-set order: each consecutive group of `replica` bricks holds
    /// one copy of the data per brick.
    pub bricks: Vec<Brick>,
    /// Volume options (`gluster volume set`), e.g. `cluster.choose-local: "on"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Where every host mounts the volume, e.g. `/data/storage`.
    pub mount_point: String,
    /// Directories kept inside the volume, e.g. one per former named volume.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<Directory>,
    /// Pass `force` to `volume create` and `add-brick`: gluster refuses bricks on the root
    /// filesystem without it (the lab's bricks are there; production bricks should not be).
    #[serde(default)]
    pub force: bool,
    /// Allow changes that destroy data: stopping or deleting the volume, removing bricks.
    /// Without it such changes are shown in the plan as blocked and never made.
    #[serde(default)]
    pub allow_data_loss: bool,
}

impl GlusterVolumeSpec {
    /// The bricks as gluster writes them, `host:/path`, in replica-set order.
    pub fn brick_list(&self) -> Vec<String> {
        self.bricks
            .iter()
            .map(|b| format!("{}:{}", b.node, b.path))
            .collect()
    }
}

/// One brick: a directory on a node's local filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Brick {
    /// Hostname of the gluster peer holding the brick.
    pub node: String,
    /// Absolute path of the brick directory on that node.
    pub path: String,
}

/// A directory inside the volume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Directory {
    /// Path relative to the volume's root, e.g. `wordpress/wp-content`.
    pub path: String,
    /// Numeric owner as `UID` or `UID:GID` (numeric because the host and the container
    /// may name users differently), e.g. `"33:33"` for www-data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Permission bits as an octal string, e.g. `"0755"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}
