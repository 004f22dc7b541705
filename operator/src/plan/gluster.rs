//! Planning GlusterVolume resources: create, start, set options, grow; never shrink or
//! stop a volume (that loses data) unless the resource allows it. Pure.

use serde::Serialize;

use super::{Action, Change};
use crate::diff::FieldChange;
use crate::gluster::observe::GlusterLive;
use crate::resources::gluster_volume::GlusterVolumeSpec;
use crate::resources::{Desired, Kind};

/// The health of a volume, shown with every plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StorageHealth {
    pub name: String,
    pub bricks_online: usize,
    pub bricks_total: usize,
    pub heal_pending: u64,
    pub split_brain: u64,
    /// Pool members holding bricks that are not connected.
    pub disconnected_peers: Vec<String>,
}

impl StorageHealth {
    pub fn is_degraded(&self) -> bool {
        self.bricks_online < self.bricks_total
            || self.split_brain > 0
            || !self.disconnected_peers.is_empty()
    }
}

/// The bricks of a spec as gluster writes them, `host:/path`.
pub fn brick_list(spec: &GlusterVolumeSpec) -> Vec<String> {
    spec.bricks
        .iter()
        .map(|b| format!("{}:{}", b.node, b.path))
        .collect()
}

/// Option values gluster treats as equal (`on`, `yes`, `true`, `enable`, `1`).
fn normal_option(value: &str) -> String {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "enable" | "1" => "on".into(),
        "off" | "no" | "false" | "disable" | "0" => "off".into(),
        other => other.to_string(),
    }
}

/// Changes and health for every GlusterVolume of `desired`.
pub fn plan(desired: &Desired, live: &GlusterLive) -> (Vec<Change>, Vec<StorageHealth>) {
    let mut changes = Vec::new();
    let mut health = Vec::new();
    for (resource, spec) in desired.gluster_volumes() {
        let name = resource.name().to_string();
        let bricks = brick_list(spec);
        let probes: Vec<FieldChange> = spec
            .bricks
            .iter()
            .map(|b| b.node.as_str())
            .filter(|host| !live.in_pool(host))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|host| FieldChange {
                path: "peers".into(),
                from: None,
                to: Some(format!("probe {host}")),
            })
            .collect();

        let Some(volume) = live.volume(&name) else {
            let mut fields = probes;
            fields.push(field("replica", None, Some(spec.replica.to_string())));
            if let Some(arbiter) = spec.arbiter {
                fields.push(field("arbiter", None, Some(arbiter.to_string())));
            }
            for (index, brick) in bricks.iter().enumerate() {
                fields.push(field(
                    &format!("bricks[{index}]"),
                    None,
                    Some(brick.clone()),
                ));
            }
            for (key, value) in &spec.options {
                fields.push(field(&format!("options.{key}"), None, Some(value.clone())));
            }
            fields.push(field("status", None, Some("Started".into())));
            changes.push(Change {
                kind: Kind::GlusterVolume,
                name,
                action: Action::Create,
                fields,
                restarts_tasks: false,
                blocked: None,
            });
            continue;
        };

        let mut fields = probes;
        let mut blocked = None;
        let shrinks =
            volume.bricks.iter().any(|b| !bricks.contains(b)) || spec.replica < volume.replica;
        if shrinks {
            let removed: Vec<&String> = volume
                .bricks
                .iter()
                .filter(|b| !bricks.contains(b))
                .collect();
            for brick in &removed {
                fields.push(field("bricks", Some(brick.to_string()), None));
            }
            if spec.replica != volume.replica {
                fields.push(field(
                    "replica",
                    Some(volume.replica.to_string()),
                    Some(spec.replica.to_string()),
                ));
            }
            blocked = Some(if spec.allow_data_loss {
                "removing bricks or lowering replica is not automated: run `gluster volume \
                 remove-brick` by hand once the data is safe"
                    .to_string()
            } else {
                "this would remove bricks (and the data on them): set allowDataLoss: true on the \
                 resource if that is meant"
                    .to_string()
            });
        } else {
            for (index, brick) in bricks.iter().enumerate().skip(volume.bricks.len()) {
                fields.push(field(
                    &format!("bricks[{index}]"),
                    None,
                    Some(brick.clone()),
                ));
            }
            if spec.replica > volume.replica {
                fields.push(field(
                    "replica",
                    Some(volume.replica.to_string()),
                    Some(spec.replica.to_string()),
                ));
            }
        }
        if volume.status != "Started" {
            fields.push(field(
                "status",
                Some(volume.status.clone()),
                Some("Started".into()),
            ));
        }
        for (key, value) in &spec.options {
            // A group is a bundle of options, applied once; it has no value to compare.
            if key == "group" {
                continue;
            }
            let current = volume.options.get(key);
            if current.map(|c| normal_option(c)) != Some(normal_option(value)) {
                fields.push(field(
                    &format!("options.{key}"),
                    current.cloned(),
                    Some(value.clone()),
                ));
            }
        }
        if !fields.is_empty() {
            changes.push(Change {
                kind: Kind::GlusterVolume,
                name: name.clone(),
                action: Action::Update,
                fields,
                restarts_tasks: false,
                blocked,
            });
        }
        let brick_hosts: std::collections::BTreeSet<&str> =
            spec.bricks.iter().map(|b| b.node.as_str()).collect();
        health.push(StorageHealth {
            name,
            bricks_online: volume.bricks_online.unwrap_or(0),
            bricks_total: volume.bricks.len(),
            heal_pending: volume.heal_pending,
            split_brain: volume.split_brain,
            disconnected_peers: live
                .peers
                .iter()
                .filter(|p| !p.connected)
                .filter(|p| {
                    brick_hosts.iter().any(|h| {
                        *h == p.hostname
                            || live
                                .brick_host_addresses
                                .get(*h)
                                .is_some_and(|a| p.hostname.parse().is_ok_and(|ip| a.contains(&ip)))
                    })
                })
                .map(|p| p.hostname.clone())
                .collect(),
        });
    }
    (changes, health)
}

fn field(path: &str, from: Option<String>, to: Option<String>) -> FieldChange {
    FieldChange {
        path: path.to_string(),
        from,
        to,
    }
}
