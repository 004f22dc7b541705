//! Making GlusterVolume changes with the gluster CLI: every planned operation is one
//! command, run in the planned order. After a probe, the next command waits until the new
//! peer shows as connected: gluster refuses bricks on a peer it cannot reach yet.

use std::time::{Duration, Instant};

use super::cli::{CliError, GlusterCli};
use super::ops::VolumeOp;
use super::xml;

/// How long a probed peer may take to show as connected.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the operations planned for `volume`, in order; returns how many changing commands
/// ran.
pub async fn apply(cli: &GlusterCli, volume: &str, ops: &[VolumeOp]) -> Result<usize, CliError> {
    let mut writes = 0;
    for op in ops {
        let args = command(volume, op);
        cli.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        writes += 1;
        if let VolumeOp::Probe { host } = op {
            wait_connected(cli, host).await?;
        }
    }
    Ok(writes)
}

/// The gluster CLI arguments of one operation on `volume`.
fn command(volume: &str, op: &VolumeOp) -> Vec<String> {
    let words = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    match op {
        VolumeOp::Probe { host } => words(&["peer", "probe", host]),
        VolumeOp::Create {
            replica,
            arbiter,
            bricks,
            force,
        } => with_bricks(
            words(&["volume", "create", volume]),
            *replica,
            *arbiter,
            bricks,
            *force,
        ),
        VolumeOp::AddBricks {
            replica,
            arbiter,
            bricks,
            force,
        } => with_bricks(
            words(&["volume", "add-brick", volume]),
            *replica,
            *arbiter,
            bricks,
            *force,
        ),
        VolumeOp::Set { key, value } => words(&["volume", "set", volume, key, value]),
        VolumeOp::Start => words(&["volume", "start", volume]),
    }
}

/// `create` and `add-brick` share their tail: `replica N [arbiter A] BRICK... [force]`.
fn with_bricks(
    mut args: Vec<String>,
    replica: u32,
    arbiter: Option<u32>,
    bricks: &[String],
    force: bool,
) -> Vec<String> {
    args.extend(["replica".to_string(), replica.to_string()]);
    if let Some(arbiter) = arbiter {
        args.extend(["arbiter".to_string(), arbiter.to_string()]);
    }
    args.extend(bricks.iter().cloned());
    if force {
        args.push("force".to_string());
    }
    args
}

async fn wait_connected(cli: &GlusterCli, host: &str) -> Result<(), CliError> {
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let addresses: std::collections::BTreeSet<std::net::IpAddr> =
        tokio::net::lookup_host((host, 24007))
            .await
            .map(|found| found.map(|a| a.ip()).collect())
            .unwrap_or_default();
    loop {
        let text = cli.run(&["pool", "list"]).await?;
        let peers = xml::pool_list(&text).map_err(|source| CliError::Gluster {
            args: "pool list".into(),
            source,
        })?;
        let connected = peers.iter().any(|p| {
            p.connected
                && (p.hostname == host
                    || p.hostname.parse().is_ok_and(|ip| addresses.contains(&ip)))
        });
        if connected {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(CliError::Gluster {
                args: format!("peer probe {host}"),
                source: xml::GlusterError::Failed {
                    op_ret: -1,
                    op_errno: 0,
                    message: format!("{host} is not connected {PROBE_TIMEOUT:?} after the probe"),
                },
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bricks(hosts: &[&str]) -> Vec<String> {
        hosts.iter().map(|h| format!("{h}:/b")).collect()
    }

    #[test]
    fn every_operation_is_the_command_line_gluster_expects() {
        let cases = [
            (
                VolumeOp::Probe {
                    host: "node4".into(),
                },
                "peer probe node4",
            ),
            (
                VolumeOp::Create {
                    replica: 3,
                    arbiter: Some(1),
                    bricks: bricks(&["node1", "node2", "node4"]),
                    force: true,
                },
                "volume create storage replica 3 arbiter 1 node1:/b node2:/b node4:/b force",
            ),
            (
                VolumeOp::Create {
                    replica: 2,
                    arbiter: None,
                    bricks: bricks(&["node1", "node2"]),
                    force: false,
                },
                "volume create storage replica 2 node1:/b node2:/b",
            ),
            (
                VolumeOp::AddBricks {
                    replica: 3,
                    arbiter: None,
                    bricks: bricks(&["node2"]),
                    force: true,
                },
                "volume add-brick storage replica 3 node2:/b force",
            ),
            (
                VolumeOp::AddBricks {
                    replica: 3,
                    arbiter: Some(1),
                    bricks: bricks(&["node4", "node5", "node6"]),
                    force: false,
                },
                "volume add-brick storage replica 3 arbiter 1 node4:/b node5:/b node6:/b",
            ),
            (
                VolumeOp::Set {
                    key: "cluster.choose-local".into(),
                    value: "on".into(),
                },
                "volume set storage cluster.choose-local on",
            ),
            (VolumeOp::Start, "volume start storage"),
        ];
        for (op, expected) in cases {
            assert_eq!(
                command("storage", &op),
                expected.split(' ').collect::<Vec<_>>(),
                "{op:?}"
            );
        }
    }

    #[test]
    fn an_option_value_with_spaces_stays_one_argument() {
        let op = VolumeOp::Set {
            key: "auth.allow".into(),
            value: "10.0.0.1, 10.0.0.2".into(),
        };
        assert_eq!(
            command("storage", &op),
            [
                "volume",
                "set",
                "storage",
                "auth.allow",
                "10.0.0.1, 10.0.0.2"
            ]
        );
    }
}
