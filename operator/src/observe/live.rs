//! What the live world looks like right now: the swarm as a handful of list calls return
//! it, and when asked, the gluster pool and the agents' reports. Pure data: the diff
//! reads it, and tests build it from JSON recorded from the lab's engines.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{Config, Network, Node, Secret, Service, Task};
use serde::{Deserialize, Serialize};

/// The observed state of one swarm.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Live {
    pub services: Vec<Service>,
    pub tasks: Vec<Task>,
    pub nodes: Vec<Node>,
    pub networks: Vec<Network>,
    pub secrets: Vec<Secret>,
    /// Swarm configs (`configs.json` may be absent from older recordings).
    #[serde(default)]
    pub configs: Vec<Config>,
    /// The GlusterFS pool, when desired-state has volumes: observed, or why it could not be.
    #[serde(skip)]
    pub gluster: Option<Result<crate::observe::gluster::GlusterLive, String>>,
    /// What the agents on the nodes report, when they were asked.
    #[serde(skip)]
    pub agents: Option<crate::observe::agents::AgentReports>,
}

impl Live {
    /// Reads `services.json`, `tasks.json`, `nodes.json`, `networks.json` and
    /// `secrets.json` from `dir`: the raw answers of the engine's list endpoints, as
    /// `tests/fixtures/record` saves them.
    pub fn from_recorded(dir: &Path) -> Result<Live, String> {
        fn text(dir: &Path, name: &str) -> Result<String, String> {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
        }
        fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<Vec<T>, String> {
            serde_json::from_str(&text(dir, name)?).map_err(|e| format!("{name}: {e}"))
        }
        Ok(Live {
            services: super::services::from_engine_json(&text(dir, "services.json")?)
                .map_err(|e| format!("services.json: {e}"))?,
            tasks: read(dir, "tasks.json")?,
            nodes: read(dir, "nodes.json")?,
            networks: read(dir, "networks.json")?,
            secrets: read(dir, "secrets.json")?,
            configs: match dir.join("configs.json").exists() {
                true => read(dir, "configs.json")?,
                false => Vec::new(),
            },
            gluster: None,
            agents: None,
        })
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.spec.as_ref().and_then(|spec| spec.name.as_deref()) == Some(name))
    }

    /// Swarm-scoped networks by name (the overlay networks services can attach to).
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks
            .iter()
            .find(|n| n.name.as_deref() == Some(name) && n.scope.as_deref() == Some("swarm"))
    }

    /// Network names by ID, to read back the IDs the engine writes into service specs.
    pub fn network_names(&self) -> HashMap<&str, &str> {
        self.networks
            .iter()
            .filter_map(|n| Some((n.id.as_deref()?, n.name.as_deref()?)))
            .collect()
    }

    /// Secret IDs by name, which service specs must carry alongside the names.
    pub fn secret_ids(&self) -> HashMap<&str, &str> {
        self.secrets
            .iter()
            .filter_map(|s| Some((s.spec.as_ref()?.name.as_deref()?, s.id.as_deref()?)))
            .collect()
    }

    /// Config IDs by name, which service specs must carry alongside the names.
    pub fn config_ids(&self) -> HashMap<&str, &str> {
        self.configs
            .iter()
            .filter_map(|c| Some((c.spec.as_ref()?.name.as_deref()?, c.id.as_deref()?)))
            .collect()
    }

    /// Hostnames of the nodes that are ready and active (as swarm has them now).
    pub fn available_nodes(&self) -> std::collections::BTreeSet<String> {
        use bollard::models::{NodeSpecAvailabilityEnum, NodeState};
        self.nodes
            .iter()
            .filter(|n| n.status.as_ref().and_then(|s| s.state) == Some(NodeState::READY))
            .filter(|n| {
                n.spec.as_ref().and_then(|s| s.availability)
                    == Some(NodeSpecAvailabilityEnum::ACTIVE)
            })
            .filter_map(|n| n.description.as_ref()?.hostname.clone())
            .collect()
    }

    pub fn node_by_hostname(&self, hostname: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.description.as_ref().and_then(|d| d.hostname.as_deref()) == Some(hostname))
    }
}
