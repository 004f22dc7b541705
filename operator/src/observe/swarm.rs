//! The swarm as the engine lists it: six list calls, run concurrently.

use bollard::Docker;
use bollard::query_parameters::ListTasksOptions;

use super::live::Live;
use crate::swarm::engine::EngineError;

/// The whole swarm in six list calls, run concurrently: services (with task counts),
/// tasks, nodes, networks, secrets, configs. One list beats one inspect per object.
pub async fn observe(docker: &Docker) -> Result<Live, EngineError> {
    let services = super::services::list(docker);
    let tasks = docker.list_tasks(None::<ListTasksOptions>);
    let nodes = docker.list_nodes(None);
    let networks = docker.list_networks(None);
    let secrets = docker.list_secrets(None);
    let configs = docker.list_configs(None);
    let (services, tasks, nodes, networks, secrets, configs) =
        tokio::join!(services, tasks, nodes, networks, secrets, configs);
    Ok(Live {
        services: services?,
        tasks: tasks.map_err(EngineError::call("listing tasks"))?,
        nodes: nodes.map_err(EngineError::call("listing nodes"))?,
        networks: networks.map_err(EngineError::call("listing networks"))?,
        secrets: secrets.map_err(EngineError::call("listing secrets"))?,
        configs: configs.map_err(EngineError::call("listing configs"))?,
        gluster: None,
        agents: None,
    })
}
