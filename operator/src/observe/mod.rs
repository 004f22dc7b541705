//! Everything that reads the live world, into one `Live`: the swarm (five list calls),
//! and when desired-state has GlusterVolumes, the gluster pool (through the gluster CLI)
//! and the agents of the nodes (over HTTP). Nothing here writes.

pub mod agents;
pub mod gluster;
pub mod live;
#[cfg(test)]
pub mod recorded;
pub mod services;
pub mod swarm;

use std::time::Duration;

use bollard::Docker;

use crate::gluster::cli::GlusterCli;
use crate::resources::Desired;
use crate::swarm::engine::EngineError;
use live::Live;

/// How long an agent may take to answer before its node counts as unreachable.
const AGENT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Desired-state has volumes: not seeing them is an error, not a reason to skip them
    /// (and the storage gate of the services on them).
    #[error("cannot observe GlusterFS: {0}")]
    Gluster(String),
}

/// The live state for `desired`; agents are asked on `agent_port` unless it is `None`.
pub async fn observe(
    docker: &Docker,
    desired: &Desired,
    agent_port: Option<u16>,
) -> Result<Live, ObserveError> {
    let mut live = swarm::observe(docker).await?;
    if desired.gluster_volumes().next().is_some() {
        let pool = gluster::observe(&GlusterCli::default(), desired)
            .await
            .map_err(|e| ObserveError::Gluster(e.to_string()))?;
        live.gluster = Some(Ok(pool));
        if let Some(port) = agent_port {
            live.agents = Some(agents::observe(&live.nodes, port, AGENT_TIMEOUT).await);
        }
    }
    Ok(live)
}
