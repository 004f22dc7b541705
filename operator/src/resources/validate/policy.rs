//! The validation policy: what a desired-state may do beyond its own resources, such as
//! bind-mounting a host path that is not on a GlusterVolume. Written next to the
//! resources (read by `source::policy`) and extended on the command line with
//! `--allow-host-path`.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

/// What desired-state is allowed to do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// Host paths (and everything under them) that services may bind-mount although no
    /// GlusterVolume is mounted there, e.g. `/var/run/docker.sock`.
    #[serde(default)]
    pub allow_host_paths: Vec<PathBuf>,
}

impl Policy {
    /// Whether a bind mount of `source` is allowed by this policy.
    pub fn allows_host_path(&self, source: &Path) -> bool {
        self.allow_host_paths
            .iter()
            .any(|allowed| source.starts_with(allowed))
    }
}
