//! Making GlusterVolume changes with the gluster CLI, in the order gluster needs: peers
//! probed, volume created, options set, volume started; a grown volume gets its new
//! bricks with add-brick.

use std::time::{Duration, Instant};

use super::cli::{CliError, GlusterCli};
use super::xml;
use crate::diff::FieldChange;
use crate::plan::gluster::brick_list;
use crate::plan::{Action, Change};
use crate::resources::gluster_volume::GlusterVolumeSpec;

/// How long a probed peer may take to show as connected.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Applies one planned GlusterVolume change; returns how many changing commands ran.
pub async fn apply(
    cli: &GlusterCli,
    spec: &GlusterVolumeSpec,
    change: &Change,
) -> Result<usize, CliError> {
    let name = change.name.as_str();
    let mut writes = 0;
    let has = |path: &str| change.fields.iter().any(|f: &FieldChange| f.path == path);
    for probe in change.fields.iter().filter(|f| f.path == "peers") {
        let host = probe
            .to
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches("probe ");
        cli.run(&["peer", "probe", host]).await?;
        writes += 1;
        wait_connected(cli, host).await?;
    }
    let force = spec.force.then_some("force");
    match change.action {
        Action::Create => {
            let replica = spec.replica.to_string();
            let arbiter = spec.arbiter.map(|a| a.to_string());
            let bricks = brick_list(spec);
            let mut args = vec!["volume", "create", name, "replica", replica.as_str()];
            if let Some(arbiter) = &arbiter {
                args.extend(["arbiter", arbiter.as_str()]);
            }
            args.extend(bricks.iter().map(String::as_str));
            args.extend(force);
            cli.run(&args).await?;
            writes += 1;
        }
        _ => {
            let new_bricks: Vec<&str> = change
                .fields
                .iter()
                .filter(|f| f.path.starts_with("bricks[") && f.from.is_none())
                .filter_map(|f| f.to.as_deref())
                .collect();
            if !new_bricks.is_empty() {
                let replica = spec.replica.to_string();
                let arbiter = spec.arbiter.map(|a| a.to_string());
                let mut args = vec!["volume", "add-brick", name, "replica", replica.as_str()];
                if let Some(arbiter) = &arbiter {
                    args.extend(["arbiter", arbiter.as_str()]);
                }
                args.extend(new_bricks);
                args.extend(force);
                cli.run(&args).await?;
                writes += 1;
            }
        }
    }
    for option in change
        .fields
        .iter()
        .filter(|f| f.path.starts_with("options."))
    {
        let key = &option.path["options.".len()..];
        let value = option.to.as_deref().unwrap_or_default();
        cli.run(&["volume", "set", name, key, value]).await?;
        writes += 1;
    }
    if has("status") {
        cli.run(&["volume", "start", name]).await?;
        writes += 1;
    }
    Ok(writes)
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
