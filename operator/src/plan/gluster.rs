//! Planning GlusterVolume resources: create, start, set options, grow; never shrink or
//! stop a volume (that loses data) unless the resource allows it. Pure.
//!
//! Each change carries the gluster operations that make it, in the order gluster needs
//! them: peers probed, volume created or grown, options set, volume started.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Action, Blocked, Change};
use crate::diff::FieldChange;
use crate::gluster::ops::VolumeOp;
use crate::gluster::xml::VolumeStatus;
use crate::observe::gluster::{GlusterLive, VolumeState};
use crate::resources::gluster_volume::GlusterVolumeSpec;
use crate::resources::{Desired, Kind};

/// The health of a volume, shown with every plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StorageHealth {
    pub name: String,
    pub bricks_online: usize,
    pub bricks_total: usize,
    pub heal_pending: u64,
    pub split_brain: u64,
    /// The entries in split-brain (paths, or `<gfid:...>`), when gluster named them.
    pub split_brain_files: Vec<String>,
    /// `cluster.favorite-child-policy` when set (not `none`): gluster's self-heal then
    /// resolves split-brains by it.
    pub favorite_child_policy: Option<String>,
    /// The brick nodes (as desired-state names them) whose gluster peer is not connected.
    pub disconnected_peers: Vec<String>,
}

/// A volume in one word: what plans print and status's health follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageState {
    Healthy,
    /// Every brick online, entries still to heal: not healthy yet.
    Healing,
    /// A brick offline, a brick's peer disconnected, or entries in split-brain.
    Degraded,
}

impl std::fmt::Display for StorageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StorageState::Healthy => "healthy",
            StorageState::Healing => "healing",
            StorageState::Degraded => "degraded",
        })
    }
}

impl StorageHealth {
    pub fn is_degraded(&self) -> bool {
        self.bricks_online < self.bricks_total
            || self.split_brain > 0
            || !self.disconnected_peers.is_empty()
    }

    pub fn state(&self) -> StorageState {
        if self.is_degraded() {
            StorageState::Degraded
        } else if self.heal_pending > 0 {
            StorageState::Healing
        } else {
            StorageState::Healthy
        }
    }
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
        let name = resource.name();
        let new_peers = new_peers(spec, live);
        match live.volume(name) {
            None => changes.push(create(name, spec, &new_peers)),
            Some(volume) => {
                changes.extend(update(name, spec, volume, &new_peers));
                health.push(storage_health(name, spec, volume, live));
            }
        }
    }
    (changes, health)
}

/// The hosts of a volume's bricks that are not in the pool yet, each named once.
fn new_peers<'a>(spec: &'a GlusterVolumeSpec, live: &GlusterLive) -> Vec<&'a str> {
    spec.bricks
        .iter()
        .map(|b| b.node.as_str())
        .filter(|host| !live.in_pool(host))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Probing the new peers: the fields that show it, and the operations that do it.
fn probes(new_peers: &[&str]) -> (Vec<FieldChange>, Vec<VolumeOp>) {
    new_peers
        .iter()
        .map(|host| {
            (
                field("peers", None, Some(format!("probe {host}"))),
                VolumeOp::Probe {
                    host: host.to_string(),
                },
            )
        })
        .unzip()
}

/// A volume that does not exist yet: created with every brick and option, then started.
fn create(name: &str, spec: &GlusterVolumeSpec, new_peers: &[&str]) -> Change {
    let bricks = spec.brick_list();
    let (mut fields, mut ops) = probes(new_peers);
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
    fields.push(field(
        "status",
        None,
        Some(VolumeStatus::Started.to_string()),
    ));
    ops.push(VolumeOp::Create {
        replica: spec.replica,
        arbiter: spec.arbiter,
        bricks,
        force: spec.force,
    });
    ops.extend(spec.options.iter().map(|(key, value)| VolumeOp::Set {
        key: key.clone(),
        value: value.clone(),
    }));
    ops.push(VolumeOp::Start);
    Change {
        kind: Kind::GlusterVolume,
        name: name.to_string(),
        action: Action::Create,
        fields,
        restarts_tasks: false,
        blocked: None,
        volume_ops: ops,
    }
}

/// An existing volume: grown, started and its options set as needed; a shrink or an
/// arbiter change is shown, blocked. `None` when it already matches.
fn update(
    name: &str,
    spec: &GlusterVolumeSpec,
    volume: &VolumeState,
    new_peers: &[&str],
) -> Option<Change> {
    let (mut fields, mut ops) = probes(new_peers);
    let (layout_fields, add_bricks, mut blocked) = layout(spec, volume);
    fields.extend(layout_fields);
    ops.extend(add_bricks);
    let live_arbiter = (volume.arbiter > 0).then_some(volume.arbiter);
    if spec.arbiter != live_arbiter {
        fields.push(field(
            "arbiter",
            live_arbiter.map(|a| a.to_string()),
            spec.arbiter.map(|a| a.to_string()),
        ));
        blocked.get_or_insert(Blocked::ArbiterChange);
    }
    let start = volume.status != VolumeStatus::Started;
    if start {
        fields.push(field(
            "status",
            Some(volume.status.to_string()),
            Some(VolumeStatus::Started.to_string()),
        ));
    }
    let (option_fields, set_options) = options(spec, volume);
    fields.extend(option_fields);
    ops.extend(set_options);
    // Shown before the options, run after them: a volume starts with its options set.
    if start {
        ops.push(VolumeOp::Start);
    }
    (!fields.is_empty()).then(|| Change {
        kind: Kind::GlusterVolume,
        name: name.to_string(),
        action: Action::Update,
        fields,
        restarts_tasks: false,
        blocked,
        volume_ops: ops,
    })
}

/// Bricks and replica count: grown with add-brick; a shrink (bricks removed, or fewer
/// per replica set) only shown, blocked, because it loses the data on those bricks.
fn layout(
    spec: &GlusterVolumeSpec,
    volume: &VolumeState,
) -> (Vec<FieldChange>, Option<VolumeOp>, Option<Blocked>) {
    let bricks = spec.brick_list();
    let mut fields = Vec::new();
    let replica = field(
        "replica",
        Some(volume.replica.to_string()),
        Some(spec.replica.to_string()),
    );
    let removed: Vec<&String> = volume
        .bricks
        .iter()
        .filter(|b| !bricks.contains(b))
        .collect();
    if !removed.is_empty() || spec.replica < volume.replica {
        for brick in &removed {
            fields.push(field("bricks", Some(brick.to_string()), None));
        }
        if spec.replica != volume.replica {
            fields.push(replica);
        }
        // What a person runs once the data is safe: a lower replica count drops the
        // bricks (remove-brick with the new count); a brick moved to another host or path
        // is replaced (replace-brick). Anything else needs gluster's own docs.
        let added: Vec<&String> = bricks
            .iter()
            .filter(|b| !volume.bricks.contains(b))
            .collect();
        let by_hand = if spec.replica < volume.replica && !removed.is_empty() {
            Some(format!(
                "gluster volume remove-brick {} replica {} {} force",
                volume.name,
                spec.replica,
                removed
                    .iter()
                    .map(|b| b.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
        } else if spec.replica == volume.replica
            && !removed.is_empty()
            && removed.len() == added.len()
        {
            let replaced: Vec<String> = removed
                .iter()
                .zip(&added)
                .map(|(old, new)| {
                    format!(
                        "gluster volume replace-brick {} {old} {new} commit force",
                        volume.name
                    )
                })
                .collect();
            Some(replaced.join(" && "))
        } else {
            None
        };
        let blocked = Blocked::BrickRemoval {
            allow_data_loss: spec.allow_data_loss,
            by_hand,
        };
        return (fields, None, Some(blocked));
    }
    let mut added = Vec::new();
    for (index, brick) in bricks.iter().enumerate() {
        if !volume.bricks.contains(brick) {
            fields.push(field(
                &format!("bricks[{index}]"),
                None,
                Some(brick.clone()),
            ));
            added.push(brick.clone());
        }
    }
    if spec.replica > volume.replica {
        fields.push(replica);
    }
    let add_bricks = (!added.is_empty()).then_some(VolumeOp::AddBricks {
        replica: spec.replica,
        arbiter: spec.arbiter,
        bricks: added,
        force: spec.force,
    });
    (fields, add_bricks, None)
}

/// The options whose effective value differs from the desired one, and setting them.
fn options(spec: &GlusterVolumeSpec, volume: &VolumeState) -> (Vec<FieldChange>, Vec<VolumeOp>) {
    spec.options
        .iter()
        // A group is a bundle of options, applied once; it has no value to compare.
        .filter(|(key, _)| key.as_str() != "group")
        .filter_map(|(key, value)| {
            let current = volume.options.get(key);
            (current.map(|c| normal_option(c)) != Some(normal_option(value))).then(|| {
                (
                    field(
                        &format!("options.{key}"),
                        current.cloned(),
                        Some(value.clone()),
                    ),
                    VolumeOp::Set {
                        key: key.clone(),
                        value: value.clone(),
                    },
                )
            })
        })
        .unzip()
}

fn storage_health(
    name: &str,
    spec: &GlusterVolumeSpec,
    volume: &VolumeState,
    live: &GlusterLive,
) -> StorageHealth {
    let brick_hosts: BTreeSet<&str> = spec.bricks.iter().map(|b| b.node.as_str()).collect();
    // Unknown brick status (gluster timed out): a brick counts as online when its host is
    // connected.
    let bricks_online = volume.bricks_online.unwrap_or_else(|| {
        volume
            .bricks
            .iter()
            .filter(|b| live.connected(b.split(':').next().unwrap_or_default()))
            .count()
    });
    StorageHealth {
        name: name.to_string(),
        bricks_online,
        bricks_total: volume.bricks.len(),
        heal_pending: volume.heal_pending,
        split_brain: volume.split_brain,
        split_brain_files: volume.split_brain_files.clone(),
        favorite_child_policy: volume
            .options
            .get("cluster.favorite-child-policy")
            .filter(|policy| policy.as_str() != "none")
            .cloned(),
        // Named as desired-state names the brick's node (gluster may know it by address).
        disconnected_peers: brick_hosts
            .iter()
            .filter(|host| live.peer(host).is_some_and(|peer| !peer.connected))
            .map(|host| host.to_string())
            .collect(),
    }
}

fn field(path: &str, from: Option<String>, to: Option<String>) -> FieldChange {
    FieldChange {
        path: path.to_string(),
        from,
        to,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::gluster::recorded;
    use crate::gluster::xml;
    use crate::observe::gluster::{PeerState, VolumeState};
    use crate::source::{Loaded, load_text};

    /// The pool as node1 saw it in the lab, from the recorded answers of `state`.
    fn pool(state: &str) -> GlusterLive {
        let info = &xml::volume_info(&recorded("healthy/volume-info.xml")).unwrap()[0];
        let heal = xml::heal_summary(&recorded(&format!("{state}/heal-info-summary.xml"))).unwrap();
        // While healing every peer is back: the pool as when healthy.
        let peers_of = if state == "healing" { "healthy" } else { state };
        let peers = xml::pool_list(&recorded(&format!("{peers_of}/pool-list.xml"))).unwrap();
        GlusterLive {
            local_hostname: "node1".into(),
            peers: peers.into_iter().map(PeerState::from).collect(),
            // As observe does: bricks online are the ones heal info reaches.
            volumes: vec![VolumeState::new(
                info,
                xml::volume_options(&recorded("healthy/volume-get-all.xml")).unwrap(),
                Some(heal.iter().filter(|h| h.status == "Connected").count()),
                &heal,
            )],
            brick_host_addresses: (1..=4)
                .map(|n| {
                    (
                        format!("node{n}"),
                        BTreeSet::from([format!("10.213.0.{}", 10 + n).parse().unwrap()]),
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn desired(spec: &str) -> Desired {
        let yaml = format!(
            "apiVersion: shoal/v1alpha1\nkind: GlusterVolume\nmetadata:\n  name: storage\nspec:\n  mountPoint: /data/storage\n  force: true\n{spec}"
        );
        let mut loaded = Loaded::default();
        load_text(std::path::Path::new("storage.yaml"), &yaml, &mut loaded);
        assert_eq!(loaded.problems, vec![]);
        loaded.desired
    }

    const THREE: &str = "  replica: 3\n  bricks:\n    - {node: node1, path: /data/bricks/storage}\n    - {node: node2, path: /data/bricks/storage}\n    - {node: node3, path: /data/bricks/storage}\n";

    fn field(path: &str, from: Option<&str>, to: Option<&str>) -> FieldChange {
        FieldChange {
            path: path.into(),
            from: from.map(Into::into),
            to: to.map(Into::into),
        }
    }

    fn set(key: &str, value: &str) -> VolumeOp {
        VolumeOp::Set {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn the_recorded_volume_matches_its_spec_and_is_healthy() {
        let (changes, health) = plan(
            &desired(&format!(
                "{THREE}  options:\n    cluster.choose-local: \"on\"\n"
            )),
            &pool("healthy"),
        );
        assert_eq!(changes, vec![]);
        assert_eq!(
            health,
            vec![StorageHealth {
                name: "storage".into(),
                bricks_online: 3,
                bricks_total: 3,
                heal_pending: 0,
                split_brain: 0,
                disconnected_peers: vec![],
                ..StorageHealth::default()
            }]
        );
    }

    #[test]
    fn an_option_changed_by_hand_is_drift() {
        let mut live = pool("healthy");
        live.volumes[0]
            .options
            .insert("cluster.choose-local".into(), "off".into());
        let (changes, _) = plan(
            &desired(&format!(
                "{THREE}  options:\n    cluster.choose-local: \"on\"\n"
            )),
            &live,
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].action, Action::Update);
        assert_eq!(
            changes[0].fields,
            vec![field(
                "options.cluster.choose-local",
                Some("off"),
                Some("on")
            )]
        );
        assert_eq!(
            changes[0].volume_ops,
            vec![set("cluster.choose-local", "on")]
        );
        // "true" and "on" are the same to gluster.
        let (changes, _) = plan(
            &desired(&format!(
                "{THREE}  options:\n    cluster.lookup-unhashed: \"true\"\n"
            )),
            &pool("healthy"),
        );
        assert_eq!(changes, vec![]);
    }

    #[test]
    fn a_crashed_node_shows_as_degraded_without_any_change() {
        let (changes, health) = plan(
            &desired(&format!(
                "{THREE}  options:\n    cluster.choose-local: \"on\"\n"
            )),
            &pool("degraded"),
        );
        assert_eq!(changes, vec![]);
        assert_eq!(health[0].bricks_online, 2);
        assert_eq!(health[0].disconnected_peers, vec!["node3".to_string()]);
        assert!(health[0].is_degraded());
    }

    #[test]
    fn pending_heal_is_healing_not_healthy() {
        let states: Vec<StorageState> = ["healthy", "healing", "degraded", "split-brain"]
            .iter()
            .map(|recorded| plan(&desired(THREE), &pool(recorded)).1[0].state())
            .collect();
        assert_eq!(
            states,
            [
                StorageState::Healthy,
                StorageState::Healing,
                StorageState::Degraded,
                StorageState::Degraded
            ]
        );
        assert_eq!(StorageState::Healing.to_string(), "healing");
    }

    #[test]
    fn unknown_brick_status_is_judged_from_peer_connectivity() {
        let mut live = pool("degraded");
        live.volumes[0].bricks_online = None;
        let (_, health) = plan(&desired(THREE), &live);
        assert_eq!((health[0].bricks_online, health[0].bricks_total), (2, 3));
    }

    #[test]
    fn growing_adds_only_missing_bricks_and_an_arbiter_change_is_blocked() {
        let mut live = pool("healthy");
        live.volumes[0].bricks.remove(1);
        let (changes, _) = plan(&desired(THREE), &live);
        assert_eq!(
            changes[0].fields,
            vec![field("bricks[1]", None, Some("node2:/data/bricks/storage"))]
        );
        assert_eq!(
            changes[0].volume_ops,
            vec![VolumeOp::AddBricks {
                replica: 3,
                arbiter: None,
                bricks: vec!["node2:/data/bricks/storage".into()],
                force: true,
            }]
        );
        assert_eq!(changes[0].blocked, None);
        let (changes, _) = plan(
            &desired(&format!("{THREE}  arbiter: 1\n")),
            &pool("healthy"),
        );
        assert_eq!(changes[0].fields, vec![field("arbiter", None, Some("1"))]);
        assert!(changes[0].blocked == Some(Blocked::ArbiterChange));
        // gluster has no command for it: nothing to run even were it allowed.
        assert_eq!(changes[0].volume_ops, vec![]);
    }

    #[test]
    fn a_missing_volume_is_created_and_new_peers_probed() {
        let mut live = pool("healthy");
        live.volumes.clear();
        let spec = "  replica: 3\n  arbiter: 1\n  bricks:\n    - {node: node1, path: /b}\n    - {node: node2, path: /b}\n    - {node: node4, path: /b}\n";
        let (changes, _) = plan(&desired(spec), &live);
        assert_eq!(changes[0].action, Action::Create);
        assert_eq!(
            changes[0].fields,
            vec![
                field("peers", None, Some("probe node4")),
                field("replica", None, Some("3")),
                field("arbiter", None, Some("1")),
                field("bricks[0]", None, Some("node1:/b")),
                field("bricks[1]", None, Some("node2:/b")),
                field("bricks[2]", None, Some("node4:/b")),
                field("status", None, Some("Started")),
            ]
        );
        assert_eq!(
            changes[0].volume_ops,
            vec![
                VolumeOp::Probe {
                    host: "node4".into()
                },
                VolumeOp::Create {
                    replica: 3,
                    arbiter: Some(1),
                    bricks: vec!["node1:/b".into(), "node2:/b".into(), "node4:/b".into()],
                    force: true,
                },
                VolumeOp::Start,
            ]
        );
    }

    #[test]
    fn a_created_volume_gets_every_option_before_it_starts() {
        let mut live = pool("healthy");
        live.volumes.clear();
        let (changes, _) = plan(
            &desired(&format!(
                "{THREE}  options:\n    group: metadata-cache\n    cluster.choose-local: \"on\"\n"
            )),
            &live,
        );
        assert_eq!(
            changes[0].volume_ops,
            vec![
                VolumeOp::Create {
                    replica: 3,
                    arbiter: None,
                    bricks: vec![
                        "node1:/data/bricks/storage".into(),
                        "node2:/data/bricks/storage".into(),
                        "node3:/data/bricks/storage".into(),
                    ],
                    force: true,
                },
                set("cluster.choose-local", "on"),
                set("group", "metadata-cache"),
                VolumeOp::Start,
            ]
        );
    }

    #[test]
    fn a_stopped_volume_is_started_after_its_options_are_set() {
        let mut live = pool("healthy");
        live.volumes[0].status = VolumeStatus::Stopped;
        live.volumes[0]
            .options
            .insert("cluster.choose-local".into(), "off".into());
        let (changes, _) = plan(
            &desired(&format!(
                "{THREE}  options:\n    cluster.choose-local: \"on\"\n"
            )),
            &live,
        );
        assert_eq!(
            changes[0].fields,
            vec![
                field("status", Some("Stopped"), Some("Started")),
                field("options.cluster.choose-local", Some("off"), Some("on")),
            ]
        );
        assert_eq!(
            changes[0].volume_ops,
            vec![set("cluster.choose-local", "on"), VolumeOp::Start]
        );
    }

    #[test]
    fn removing_a_brick_is_blocked_and_says_what_to_run_with_allow_data_loss() {
        let two = "  replica: 2\n  bricks:\n    - {node: node1, path: /data/bricks/storage}\n    - {node: node2, path: /data/bricks/storage}\n";
        let (changes, _) = plan(&desired(two), &pool("healthy"));
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].fields,
            vec![
                field("bricks", Some("node3:/data/bricks/storage"), None),
                field("replica", Some("3"), Some("2"))
            ]
        );
        assert_eq!(changes[0].volume_ops, vec![]);
        assert_eq!(
            changes[0]
                .blocked
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some(
                "this would remove bricks (and the data on them): set allowDataLoss: true on the resource if that is meant"
            )
        );
        // With allowDataLoss: still blocked, with the command to run by hand.
        let allowed = format!("{two}  allowDataLoss: true\n");
        let moved = THREE.replace(
            "node3, path: /data/bricks/storage",
            "node4, path: /data/bricks/storage",
        );
        let (changes, _) = plan(
            &desired(&format!("{moved}  allowDataLoss: true\n")),
            &pool("healthy"),
        );
        assert_eq!(
            changes[0]
                .blocked
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some(
                "removing bricks or lowering replica is not automated: once the data is safe, \
                 run `gluster volume replace-brick storage node3:/data/bricks/storage \
                 node4:/data/bricks/storage commit force` on a peer"
            )
        );
        let (changes, _) = plan(&desired(&allowed), &pool("healthy"));
        assert_eq!(
            changes[0]
                .blocked
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some(
                "removing bricks or lowering replica is not automated: once the data is safe, \
                 run `gluster volume remove-brick storage replica 2 node3:/data/bricks/storage \
                 force` on a peer"
            )
        );
        assert_eq!(changes[0].volume_ops, vec![]);
    }
}
