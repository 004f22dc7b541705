//! What the probes read from the node's own engine: the swarm node addresses it knows
//! (the only TCP targets allowed), an overlay's verbose view, subnets and MTU, and the
//! tasks running here on it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use bollard::Docker;
use bollard::models::NetworkInspect;
use bollard::query_parameters::{InspectNetworkOptionsBuilder, ListContainersOptionsBuilder};
use ipnet::Ipv4Net;

use super::LocalTask;

/// The swarm's node addresses as this engine knows them: its own, the managers', and
/// every gossip peer of `ingress` (a network every node joins).
pub async fn swarm_addresses(docker: &Docker) -> BTreeSet<IpAddr> {
    let mut known = BTreeSet::new();
    if let Ok(info) = docker.info().await
        && let Some(swarm) = info.swarm
    {
        known.extend(swarm.node_addr.as_deref().and_then(address));
        for manager in swarm.remote_managers.iter().flatten() {
            known.extend(manager.addr.as_deref().and_then(address));
        }
    }
    if let Ok(ingress) = inspect(docker, "ingress").await {
        for peer in ingress.peers.iter().flatten() {
            known.extend(peer.ip.as_deref().and_then(address));
        }
    }
    known
}

/// `10.0.0.1` or `10.0.0.1:2377`.
fn address(text: &str) -> Option<IpAddr> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// The local, verbose inspect of an overlay (its services and gossip peers).
pub async fn inspect(docker: &Docker, network: &str) -> Result<NetworkInspect, String> {
    let options = InspectNetworkOptionsBuilder::new().verbose(true).build();
    docker
        .inspect_network(network, Some(options))
        .await
        .map_err(|e| format!("network inspect {network}: {e}"))
}

pub fn subnets(network: &NetworkInspect) -> Vec<Ipv4Net> {
    network
        .ipam
        .iter()
        .flat_map(|ipam| ipam.config.iter().flatten())
        .filter_map(|config| config.subnet.as_deref()?.parse().ok())
        .collect()
}

/// The overlay's MTU: the driver's `mtu` option (default 1500) less VXLAN's 50 bytes.
pub fn overlay_mtu(network: &NetworkInspect) -> u32 {
    let underlay = network
        .options
        .as_ref()
        .and_then(|o| o.get("com.docker.network.driver.mtu"))
        .and_then(|mtu| mtu.parse().ok())
        .unwrap_or(1500u32);
    underlay.saturating_sub(50)
}

/// The swarm tasks running here attached to `network`, and the container and address
/// of the one of `canary`, if any.
pub async fn tasks_on(
    docker: &Docker,
    network: &str,
    canary: &str,
) -> Result<(Option<(String, Ipv4Addr)>, Vec<LocalTask>), String> {
    let filters = std::collections::HashMap::from([("label", vec!["com.docker.swarm.task.id"])]);
    let options = ListContainersOptionsBuilder::new()
        .filters(&filters)
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| format!("listing containers: {e}"))?;
    let mut found = None;
    let mut tasks = Vec::new();
    for container in containers {
        let labels = container.labels.unwrap_or_default();
        let Some(address) = container
            .network_settings
            .and_then(|settings| settings.networks?.remove(network))
            .and_then(|endpoint| endpoint.ip_address?.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        let service = labels
            .get("com.docker.swarm.service.name")
            .cloned()
            .unwrap_or_default();
        if service == canary {
            found = container.id.map(|id| (id, address));
            continue;
        }
        tasks.push(LocalTask {
            service,
            task: labels
                .get("com.docker.swarm.task.name")
                .cloned()
                .unwrap_or_default(),
            address,
        });
    }
    tasks.sort();
    Ok((found, tasks))
}
