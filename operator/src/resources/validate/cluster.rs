//! Rules for the cluster-level kinds: `GlusterVolume` (replica layout, bricks, options,
//! mount points, directories), `Node` and `Network`.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path};

use super::{Findings, check_labels, is_octal_mode, names};
use crate::resources::gluster_volume::GlusterVolumeSpec;
use crate::resources::{Desired, Resource};

pub(super) fn check(desired: &Desired, findings: &mut Findings) {
    let mut mount_points: Vec<(&Resource, &Path)> = Vec::new();
    for (resource, spec) in desired.gluster_volumes() {
        check_replica_layout(resource, spec, findings);
        check_bricks(resource, spec, findings);
        check_options(resource, spec, findings);
        check_directories(resource, spec, findings);
        let mount_point = Path::new(&spec.mount_point);
        if names::climbs(&spec.mount_point) {
            findings.error(
                resource,
                "spec.mountPoint",
                format!(
                    "mountPoint {:?} has a `..`: write the path it leads to ({})",
                    spec.mount_point,
                    names::resolved(&spec.mount_point).display()
                ),
            );
        } else if !spec.mount_point.starts_with('/') || mount_point == Path::new("/") {
            findings.error(
                resource,
                "spec.mountPoint",
                format!(
                    "mountPoint {:?} must be an absolute path other than /",
                    spec.mount_point
                ),
            );
        } else if let Some((other, _)) = mount_points
            .iter()
            .find(|(_, other)| other.starts_with(mount_point) || mount_point.starts_with(other))
        {
            findings.error(
                resource,
                "spec.mountPoint",
                format!(
                    "mountPoint {:?} overlaps the mountPoint of {} at {}",
                    spec.mount_point,
                    other.id(),
                    other.origin.locate("spec.mountPoint")
                ),
            );
        }
        mount_points.push((resource, mount_point));
    }

    let mut hostnames: HashMap<&str, &Resource> = HashMap::new();
    for (resource, spec) in desired.nodes() {
        let hostname = spec.hostname.as_deref().unwrap_or(resource.name());
        let path = if spec.hostname.is_some() {
            "spec.hostname"
        } else {
            "metadata.name"
        };
        if hostname.is_empty() || hostname.contains(char::is_whitespace) {
            findings.error(resource, path, format!("invalid hostname {hostname:?}"));
        }
        if let Some(first) = hostnames.insert(hostname, resource) {
            findings.error(
                resource,
                path,
                format!(
                    "hostname {hostname:?} is already managed by {} at {}",
                    first.id(),
                    first.origin.locate("metadata.name")
                ),
            );
        }
        check_labels(resource, "spec.labels", spec.labels.keys(), findings);
    }

    for (resource, spec) in desired.networks() {
        check_labels(resource, "spec.labels", spec.labels.keys(), findings);
    }
}

fn check_replica_layout(resource: &Resource, spec: &GlusterVolumeSpec, findings: &mut Findings) {
    match spec.replica {
        0 => findings.error(resource, "spec.replica", "replica must be at least 1"),
        1 => findings.warning(
            resource,
            "spec.replica",
            "replica 1 keeps a single copy: losing one node loses its files",
        ),
        2 if spec.arbiter.is_none() => findings.warning(
            resource,
            "spec.replica",
            "replica 2 without an arbiter risks split-brain: when the two nodes lose sight of \
             each other both keep accepting writes, and the copies diverge with no majority to \
             settle it; use replica: 3, or replica: 3 with arbiter: 1 for a metadata-only third brick",
        ),
        _ => {}
    }
    match spec.arbiter {
        None => {}
        Some(1) if spec.replica == 3 => {}
        Some(1) => findings.error(
            resource,
            "spec.arbiter",
            format!(
                "arbiter: 1 needs replica: 3 (two data bricks and the arbiter), not replica: {}",
                spec.replica
            ),
        ),
        Some(other) => findings.error(
            resource,
            "spec.arbiter",
            format!("arbiter must be 1 (the last brick of each replica set), not {other}"),
        ),
    }
}

fn check_bricks(resource: &Resource, spec: &GlusterVolumeSpec, findings: &mut Findings) {
    if spec.bricks.is_empty() {
        findings.error(resource, "spec.bricks", "a volume needs at least one brick");
        return;
    }
    let mut seen = HashSet::new();
    for (index, brick) in spec.bricks.iter().enumerate() {
        let path = format!("spec.bricks[{index}]");
        if brick.node.trim().is_empty() {
            findings.error(resource, &format!("{path}.node"), "brick node is empty");
        }
        if !brick.path.starts_with('/') {
            findings.error(
                resource,
                &format!("{path}.path"),
                format!("brick path {:?} must be absolute", brick.path),
            );
        } else if names::climbs(&brick.path) {
            findings.error(
                resource,
                &format!("{path}.path"),
                format!(
                    "brick path {:?} has a `..`: write the path it leads to ({})",
                    brick.path,
                    names::resolved(&brick.path).display()
                ),
            );
        } else if spec.mount_point.starts_with('/')
            && Path::new(&brick.path).starts_with(&spec.mount_point)
        {
            findings.error(
                resource,
                &format!("{path}.path"),
                format!(
                    "brick path {:?} lies inside the volume's own mountPoint {:?}",
                    brick.path, spec.mount_point
                ),
            );
        }
        if !seen.insert((brick.node.as_str(), brick.path.as_str())) {
            findings.error(
                resource,
                &path,
                format!("brick {}:{} is listed twice", brick.node, brick.path),
            );
        }
    }
    check_replica_sets(resource, spec, findings);
}

/// The bricks must split into whole replica sets, each copy on its own node.
fn check_replica_sets(resource: &Resource, spec: &GlusterVolumeSpec, findings: &mut Findings) {
    let replica = spec.replica as usize;
    if replica == 0 {
        return;
    }
    let nodes: HashSet<&str> = spec.bricks.iter().map(|b| b.node.as_str()).collect();
    if nodes.len() < replica {
        findings.error(
            resource,
            "spec.bricks",
            format!(
                "bricks are on {} node(s), fewer than replica {}: each copy must live on its own \
                 node, or one node's loss takes several copies with it",
                nodes.len(),
                replica
            ),
        );
    } else if !spec.bricks.len().is_multiple_of(replica) {
        findings.error(
            resource,
            "spec.bricks",
            format!(
                "{} bricks cannot form replica sets of {}: the count must be a multiple of replica",
                spec.bricks.len(),
                replica
            ),
        );
    } else {
        for (set, bricks) in spec.bricks.chunks(replica).enumerate() {
            let set_nodes: HashSet<&str> = bricks.iter().map(|b| b.node.as_str()).collect();
            if set_nodes.len() < bricks.len() {
                findings.error(
                    resource,
                    &format!("spec.bricks[{}]", set * replica),
                    format!(
                        "replica set {} has two bricks on one node: one node's loss would take \
                         two copies",
                        set + 1
                    ),
                );
            }
        }
    }
}

fn check_options(resource: &Resource, spec: &GlusterVolumeSpec, findings: &mut Findings) {
    for (key, value) in &spec.options {
        let path = format!("spec.options.{key}");
        let key_ok = key == "group"
            || (key.contains('.')
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)));
        if !key_ok {
            findings.error(
                resource,
                &path,
                format!(
                    "option {key:?} is not a gluster option key (SECTION.NAME, e.g. \
                     cluster.choose-local, or group)"
                ),
            );
        }
        if value.trim().is_empty() {
            findings.error(
                resource,
                &path,
                format!("option {key:?} has an empty value"),
            );
        }
    }
}

fn check_directories(resource: &Resource, spec: &GlusterVolumeSpec, findings: &mut Findings) {
    let mut seen = HashSet::new();
    for (index, directory) in spec.directories.iter().enumerate() {
        let path = format!("spec.directories[{index}]");
        let relative = Path::new(&directory.path);
        let stays_inside = !directory.path.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !stays_inside {
            findings.error(
                resource,
                &format!("{path}.path"),
                format!(
                    "directory {:?} must be a relative path inside the volume (no leading /, no ..)",
                    directory.path
                ),
            );
        }
        if !seen.insert(directory.path.trim_end_matches('/')) {
            findings.error(
                resource,
                &format!("{path}.path"),
                format!("directory {:?} is listed twice", directory.path),
            );
        }
        if let Some(owner) = &directory.owner {
            let numeric = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
            let valid = match owner.split_once(':') {
                Some((uid, gid)) => numeric(uid) && numeric(gid),
                None => numeric(owner),
            };
            if !valid {
                findings.error(
                    resource,
                    &format!("{path}.owner"),
                    format!(
                        "owner {owner:?} must be numeric, UID or UID:GID (e.g. \"33:33\" for \
                         www-data): names differ between hosts and containers"
                    ),
                );
            }
        }
        if let Some(mode) = &directory.mode
            && !is_octal_mode(mode)
        {
            findings.error(
                resource,
                &format!("{path}.mode"),
                format!("mode {mode:?} is not an octal mode such as \"0755\""),
            );
        }
    }
}
