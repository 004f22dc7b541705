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

/// Where the probes may connect: the swarm's node addresses as this engine knows them
/// (its own, the managers', every gossip peer of `ingress`, a network every node joins),
/// on the ports swarm and gluster use.
#[derive(Debug, Default)]
pub struct Allowed {
    pub addresses: BTreeSet<IpAddr>,
    /// The managers' ports (2377 unless swarm was set up otherwise).
    pub manager_ports: BTreeSet<u16>,
}

/// gossip, glusterd (and its RDMA port management), bricks (gluster's range and above).
const PORTS: [u16; 3] = [7946, 24007, 24008];
const FIRST_BRICK_PORT: u16 = 49152;

impl Allowed {
    pub fn allows(&self, address: IpAddr, port: u16) -> bool {
        self.addresses.contains(&address)
            && (PORTS.contains(&port)
                || port >= FIRST_BRICK_PORT
                || port == 2377
                || self.manager_ports.contains(&port))
    }
}

pub async fn allowed(docker: &Docker) -> Allowed {
    let mut allowed = Allowed::default();
    let known = &mut allowed.addresses;
    if let Ok(info) = docker.info().await
        && let Some(swarm) = info.swarm
    {
        known.extend(swarm.node_addr.as_deref().and_then(address));
        for manager in swarm.remote_managers.iter().flatten() {
            let Some(addr) = manager.addr.as_deref() else {
                continue;
            };
            known.extend(address(addr));
            if let Ok(socket) = addr.parse::<std::net::SocketAddr>() {
                allowed.manager_ports.insert(socket.port());
            }
        }
    }
    if let Ok(ingress) = inspect(docker, "ingress").await {
        for peer in ingress.peers.iter().flatten() {
            allowed
                .addresses
                .extend(peer.ip.as_deref().and_then(address));
        }
    }
    allowed
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
        // `Up 3 minutes (healthy)`, `(health: starting)`, `(unhealthy)`, or no check.
        let status = container.status.as_deref().unwrap_or("");
        let serving = !status.contains("health: starting") && !status.contains("unhealthy");
        tasks.push(LocalTask {
            serving,
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

/// Removes the doctor's canary containers that exited and stayed: a node cut off while
/// an examination removed its canary keeps the stopped container (swarm forgot the task
/// while the node was away). Only exited containers named as a canary task.
pub async fn remove_exited_canaries(docker: &Docker) {
    let filters = std::collections::HashMap::from([
        ("name", vec![super::CANARY_PREFIX]),
        ("status", vec!["exited"]),
    ]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let Ok(containers) = docker.list_containers(Some(options)).await else {
        return;
    };
    for container in containers {
        let canary = container.names.iter().flatten().any(|name| {
            name.trim_start_matches('/')
                .starts_with(super::CANARY_PREFIX)
        });
        let Some(id) = container.id.filter(|_| canary) else {
            continue;
        };
        match docker.remove_container(&id, None).await {
            Ok(()) => tracing::info!(container = %id, "removed a canary container left stopped"),
            Err(error) => {
                tracing::warn!(container = %id, %error, "a canary container left stopped stays")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_reach_only_swarm_nodes_on_swarm_and_gluster_ports() {
        let allowed = Allowed {
            addresses: ["10.213.0.11", "10.213.0.12"]
                .map(|a| a.parse().unwrap())
                .into(),
            manager_ports: [4000].into(),
        };
        let node = "10.213.0.12".parse().unwrap();
        for port in [2377, 4000, 7946, 24007, 24008, 49152, 57380] {
            assert!(allowed.allows(node, port), "{port}");
        }
        for port in [22, 80, 3306, 9851, 49151] {
            assert!(!allowed.allows(node, port), "{port}");
        }
        assert!(!allowed.allows("10.213.0.99".parse().unwrap(), 7946));
        assert!(!allowed.allows("1.1.1.1".parse().unwrap(), 2377));
    }
}
