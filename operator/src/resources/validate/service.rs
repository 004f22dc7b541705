//! Rules for `Service` resources: mode and replicas, env and secrets, ports, mounts,
//! networks, placement, resources, rollout settings and health checks.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::names;
use super::policy::Policy;
use super::{Findings, check_labels, is_octal_mode};
use crate::resources::constraint::Constraint;
use crate::resources::quantity::{Cpus, MemorySize};
use crate::resources::service::{
    FailureAction, MountKind, Protocol, PublishMode, ResourceAmounts, ServiceMode, ServiceSpec,
    UpdateConfig, UpdateOrder, looks_secret,
};
use crate::resources::{Desired, Resource};

/// Networks every swarm has, which services may name without declaring.
const BUILTIN_NETWORKS: [&str; 2] = ["host", "ingress"];

pub(super) fn check(desired: &Desired, policy: &Policy, findings: &mut Findings) {
    let declared_networks: HashSet<&str> = desired.networks().map(|(r, _)| r.name()).collect();
    let mount_points: Vec<&Path> = desired
        .gluster_volumes()
        .map(|(_, spec)| Path::new(&spec.mount_point))
        .collect();
    // (published port, protocol) -> the first service publishing it, and how.
    let mut published: HashMap<(u32, Protocol), (&Resource, PublishMode)> = HashMap::new();

    for (resource, spec) in desired.services() {
        let mut check = ServiceCheck {
            resource,
            spec,
            findings: &mut *findings,
        };
        check.image_and_mode();
        check.env();
        check.secrets();
        check.mounts(&mount_points, policy);
        check.networks(&declared_networks);
        check.placement();
        check.resources();
        check.rollout("spec.updateConfig", spec.update_config.as_ref(), true);
        check.rollout("spec.rollbackConfig", spec.rollback_config.as_ref(), false);
        check.healthcheck();
        check_labels(resource, "spec.labels", spec.labels.keys(), findings);
        check_ports(resource, spec, &mut published, findings);
    }
}

/// The smallest memory limit dockerd accepts for a container (6 MiB, "Minimum memory
/// limit allowed is 6MB"): a task below it never starts.
const DOCKER_MIN_MEMORY_LIMIT: u64 = 6 << 20;

/// The smallest CPU limit dockerd accepts ("Range of CPUs is from 0.01 to N").
const DOCKER_MIN_NANO_CPUS: i64 = 10_000_000;

struct ServiceCheck<'a> {
    resource: &'a Resource,
    spec: &'a ServiceSpec,
    findings: &'a mut Findings,
}

impl ServiceCheck<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.findings.error(self.resource, path, message);
    }

    fn image_and_mode(&mut self) {
        if self.spec.image.trim().is_empty() {
            self.error("spec.image", "image is empty");
        } else if let Some(problem) = names::image_reference_problem(&self.spec.image) {
            self.error("spec.image", problem);
        }
        if self.spec.mode == ServiceMode::Global && self.spec.replicas.is_some() {
            self.error(
                "spec.replicas",
                "replicas cannot be set with mode: global (a global service runs one task per node)",
            );
        }
    }

    fn env(&mut self) {
        let mut seen = HashSet::new();
        for (index, var) in self.spec.env.iter().enumerate() {
            let path = format!("spec.env[{index}]");
            let valid_name = var
                .name
                .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && var
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                self.error(
                    &format!("{path}.name"),
                    format!("invalid environment variable name {:?}", var.name),
                );
            }
            if !seen.insert(var.name.as_str()) {
                self.error(
                    &format!("{path}.name"),
                    format!("environment variable {:?} is set twice", var.name),
                );
            }
            match (&var.value, &var.secret_file) {
                (Some(_), Some(_)) => self.error(
                    &format!("{path}.secretFile"),
                    format!("{}: set value or secretFile, not both", var.name),
                ),
                (Some(value), None) if looks_secret(&var.name) && is_literal_secret(value) => self
                    .error(
                        &format!("{path}.value"),
                        format!(
                            "{} looks secret but has a literal value, which would live in git and \
                             in the service spec: create a swarm secret (docker secret create) and \
                             use `secretFile: SECRET_NAME` with the image's {}_FILE variable",
                            var.name, var.name
                        ),
                    ),
                (None, Some(secret)) if secret.trim().is_empty() => {
                    self.error(&format!("{path}.secretFile"), "secretFile is empty")
                }
                (None, Some(secret)) => {
                    if let Some(problem) = names::secret_name_problem(secret) {
                        self.error(
                            &format!("{path}.secretFile"),
                            format!("secretFile {problem}"),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn secrets(&mut self) {
        let mut targets = HashSet::new();
        for (index, secret) in self.spec.secrets.iter().enumerate() {
            let path = format!("spec.secrets[{index}]");
            if secret.source.trim().is_empty() {
                self.error(&format!("{path}.source"), "secret source is empty");
            } else if let Some(problem) = names::secret_name_problem(&secret.source) {
                self.error(
                    &format!("{path}.source"),
                    format!("secret source {problem}"),
                );
            }
            let target = secret.target.as_deref().unwrap_or(&secret.source);
            if target.contains('/') && !target.starts_with("/run/secrets/") {
                // The engine only accepts a bare file name or a path under /run/secrets.
                self.error(
                    &format!("{path}.target"),
                    format!("secret target {target:?} must be a file name under /run/secrets/"),
                );
            }
            if !targets.insert(target) {
                self.error(
                    &format!("{path}.target"),
                    format!("two secrets are mounted at the same target {target:?}"),
                );
            }
            if let Some(mode) = &secret.mode
                && !is_octal_mode(mode)
            {
                self.error(
                    &format!("{path}.mode"),
                    format!("mode {mode:?} is not an octal mode such as \"0400\""),
                );
            }
        }
    }

    fn mounts(&mut self, mount_points: &[&Path], policy: &Policy) {
        let mut targets = HashSet::new();
        for (index, mount) in self.spec.mounts.iter().enumerate() {
            let path = format!("spec.mounts[{index}]");
            if !mount.target.starts_with('/') {
                self.error(
                    &format!("{path}.target"),
                    format!("mount target {:?} must be an absolute path", mount.target),
                );
            }
            if !targets.insert(mount.target.as_str()) {
                self.error(
                    &format!("{path}.target"),
                    format!("two mounts share the target {:?}", mount.target),
                );
            }
            if mount.kind != MountKind::Tmpfs && mount.size.is_some() {
                self.error(&format!("{path}.size"), "size is only for tmpfs mounts");
            }
            match mount.kind {
                MountKind::Bind => {
                    let Some(source) = &mount.source else {
                        self.error(&path, "a bind mount needs a source path");
                        continue;
                    };
                    let source_path = Path::new(source);
                    if !source.starts_with('/') {
                        self.error(
                            &format!("{path}.source"),
                            format!("bind mount source {source:?} must be an absolute path"),
                        );
                    } else if names::climbs(source) {
                        // Docker resolves `..` and binds elsewhere than the text says; the
                        // volume's gate and the agent read the path as written.
                        self.error(
                            &format!("{path}.source"),
                            format!(
                                "bind mount source {source:?} has a `..`: write the path it \
                                 leads to ({})",
                                names::resolved(source).display()
                            ),
                        );
                    } else if !mount_points.iter().any(|mp| source_path.starts_with(mp))
                        && !policy.allows_host_path(source_path)
                    {
                        let declared = if mount_points.is_empty() {
                            "none is declared".to_string()
                        } else {
                            let list: Vec<_> = mount_points
                                .iter()
                                .map(|p| p.display().to_string())
                                .collect();
                            format!("declared: {}", list.join(", "))
                        };
                        self.error(
                            &format!("{path}.source"),
                            format!(
                                "bind mount source {source:?} lies under no GlusterVolume \
                                 mountPoint ({declared}) and no allowed host path: a host path \
                                 differs from node to node; move it onto a GlusterVolume or allow \
                                 it with --allow-host-path or allowHostPaths in .shoal-policy.yaml"
                            ),
                        );
                    }
                }
                MountKind::Volume => match mount.source.as_deref() {
                    Some(source) if !source.trim().is_empty() => {
                        if let Some(problem) = names::volume_name_problem(source) {
                            self.error(&format!("{path}.source"), problem);
                        }
                    }
                    _ => self.error(&path, "a volume mount needs a source (the volume's name)"),
                },
                MountKind::Tmpfs => {
                    if mount.source.is_some() {
                        self.error(&format!("{path}.source"), "a tmpfs mount has no source");
                    }
                    if mount.read_only {
                        self.error(
                            &format!("{path}.readOnly"),
                            "a tmpfs mount cannot be read-only",
                        );
                    }
                    if let Some(size) = &mount.size {
                        self.positive_memory(&format!("{path}.size"), size);
                    }
                }
            }
        }
    }

    fn networks(&mut self, declared: &HashSet<&str>) {
        let mut seen = HashSet::new();
        for (index, network) in self.spec.networks.iter().enumerate() {
            let path = format!("spec.networks[{index}]");
            if !declared.contains(network.as_str()) && !BUILTIN_NETWORKS.contains(&network.as_str())
            {
                self.error(
                    &path,
                    format!(
                        "network {network:?} is not declared: add a Network resource named \
                         {network:?} (only host and ingress exist without one)"
                    ),
                );
            }
            if !seen.insert(network.as_str()) {
                self.error(&path, format!("network {network:?} is listed twice"));
            }
        }
    }

    fn placement(&mut self) {
        let Some(placement) = &self.spec.placement else {
            return;
        };
        for (index, text) in placement.constraints.iter().enumerate() {
            if let Err(message) = Constraint::parse(text) {
                self.error(&format!("spec.placement.constraints[{index}]"), message);
            }
        }
        for (index, preference) in placement.preferences.iter().enumerate() {
            let label = &preference.spread;
            let valid = ["node.labels.", "engine.labels."]
                .iter()
                .any(|prefix| label.strip_prefix(prefix).is_some_and(|n| !n.is_empty()));
            if !valid {
                self.error(
                    &format!("spec.placement.preferences[{index}].spread"),
                    format!(
                        "spread {label:?} must name a label: node.labels.NAME or engine.labels.NAME"
                    ),
                );
            }
        }
        if placement.max_replicas_per_node == Some(0) {
            self.error(
                "spec.placement.maxReplicasPerNode",
                "maxReplicasPerNode must be at least 1 (leave it out for no limit)",
            );
        }
        if self.spec.mode == ServiceMode::Global && placement.max_replicas_per_node.is_some() {
            self.error(
                "spec.placement.maxReplicasPerNode",
                "maxReplicasPerNode cannot be set with mode: global (a global service runs one \
                 task per node; docker refuses it)",
            );
        }
    }

    fn resources(&mut self) {
        let resources = self.spec.resources.as_ref();
        let limits = resources.and_then(|r| r.limits.as_ref());
        let reservations = resources.and_then(|r| r.reservations.as_ref());
        for (path, amounts) in [
            ("spec.resources.limits", limits),
            ("spec.resources.reservations", reservations),
        ] {
            let Some(amounts) = amounts else { continue };
            if let Some(memory) = &amounts.memory {
                self.positive_memory(&format!("{path}.memory"), memory);
            }
            if let Some(cpus) = &amounts.cpus {
                self.positive_cpus(&format!("{path}.cpus"), cpus);
            }
        }
        if let Some(cpus) = limits.and_then(|l| l.cpus.as_ref())
            && (1..DOCKER_MIN_NANO_CPUS).contains(&cpus.nano_cpus())
        {
            self.error(
                "spec.resources.limits.cpus",
                format!("CPU limit {cpus} is below Docker's minimum of 0.01"),
            );
        }
        if let Some(memory) = limits.and_then(|l| l.memory.as_ref())
            && (1..DOCKER_MIN_MEMORY_LIMIT).contains(&memory.bytes())
        {
            self.error(
                "spec.resources.limits.memory",
                format!("memory limit {memory} is below Docker's minimum of 6M"),
            );
        }
        if let (Some(limits), Some(reservations)) = (limits, reservations) {
            self.reservation_within_limit(limits, reservations);
        }
        if limits.and_then(|l| l.memory.as_ref()).is_none() {
            let path = if self.resource.origin.has("spec.resources") {
                "spec.resources"
            } else {
                "spec"
            };
            self.findings.warning(
                self.resource,
                path,
                "no memory limit: one task that leaks can exhaust its node's memory and take \
                 every other task on it down (the 1 GB nodes this project grew out of crashed \
                 that way); set spec.resources.limits.memory",
            );
        }
    }

    fn reservation_within_limit(
        &mut self,
        limits: &ResourceAmounts,
        reservations: &ResourceAmounts,
    ) {
        if let (Some(limit), Some(reserved)) = (&limits.memory, &reservations.memory)
            && reserved.bytes() > limit.bytes()
        {
            self.error(
                "spec.resources.reservations.memory",
                format!("memory reservation {reserved} is above the memory limit {limit}"),
            );
        }
        if let (Some(limit), Some(reserved)) = (&limits.cpus, &reservations.cpus)
            && reserved.nano_cpus() > limit.nano_cpus()
        {
            self.error(
                "spec.resources.reservations.cpus",
                format!("CPU reservation {reserved} is above the CPU limit {limit}"),
            );
        }
    }

    fn positive_memory(&mut self, path: &str, size: &MemorySize) {
        if size.bytes() == 0 {
            self.error(path, format!("size {size} must be greater than zero"));
        }
    }

    fn positive_cpus(&mut self, path: &str, cpus: &Cpus) {
        if cpus.nano_cpus() <= 0 {
            self.error(path, format!("CPU count {cpus} must be greater than zero"));
        }
    }

    fn rollout(&mut self, path: &str, config: Option<&UpdateConfig>, is_update: bool) {
        let Some(config) = config else { return };
        let host_port = self
            .spec
            .ports
            .iter()
            .find(|p| p.publish_mode == PublishMode::Host && p.published.is_some());
        if let (Some(UpdateOrder::StartFirst), Some(port)) = (config.order, host_port) {
            self.findings.warning(
                self.resource,
                &format!("{path}.order"),
                format!(
                    "start-first with port {} published in host mode: the new task cannot bind \
                     the port while the old one holds it on the same node, so the rollout \
                     stalls; use stop-first",
                    port.published.unwrap_or_default()
                ),
            );
        }
        if !is_update && config.failure_action == Some(FailureAction::Rollback) {
            self.error(
                &format!("{path}.failureAction"),
                "a rollback cannot itself roll back: use pause or continue",
            );
        }
        if let Some(ratio) = config.max_failure_ratio
            && !(0.0..=1.0).contains(&ratio)
        {
            self.error(
                &format!("{path}.maxFailureRatio"),
                format!("maxFailureRatio {ratio} must be between 0 and 1"),
            );
        }
    }

    fn healthcheck(&mut self) {
        let Some(check) = &self.spec.healthcheck else {
            return;
        };
        let test = &check.test;
        let valid = match test.first().map(String::as_str) {
            Some("NONE") => test.len() == 1,
            Some("CMD") => test.len() >= 2,
            Some("CMD-SHELL") => test.len() == 2,
            _ => false,
        };
        if !valid {
            self.error(
                "spec.healthcheck.test",
                "healthcheck test must be [\"CMD\", program, args...], [\"CMD-SHELL\", command] \
                 or [\"NONE\"]",
            );
        }
        let tuned = check.interval.is_some()
            || check.timeout.is_some()
            || check.retries.is_some()
            || check.start_period.is_some();
        if test.first().map(String::as_str) == Some("NONE") && tuned {
            // The engine ignores them; the docker CLI refuses the combination
            // ("--no-healthcheck conflicts with --health-* options").
            self.findings.warning(
                self.resource,
                "spec.healthcheck.test",
                "[\"NONE\"] disables the health check: its interval, timeout, retries and \
                 startPeriod do nothing (the docker CLI refuses them together)",
            );
        }
        for (field, duration) in [
            ("interval", &check.interval),
            ("timeout", &check.timeout),
            ("startPeriod", &check.start_period),
        ] {
            if let Some(duration) = duration
                && duration.as_std().as_millis() < 1
                && field != "startPeriod"
            {
                self.error(
                    &format!("spec.healthcheck.{field}"),
                    format!("{field} {duration} must be at least 1ms"),
                );
            }
        }
    }
}

fn check_ports<'a>(
    resource: &'a Resource,
    spec: &'a ServiceSpec,
    published: &mut HashMap<(u32, Protocol), (&'a Resource, PublishMode)>,
    findings: &mut Findings,
) {
    for (index, port) in spec.ports.iter().enumerate() {
        let path = format!("spec.ports[{index}]");
        if !(1..=65535).contains(&port.target) {
            findings.error(
                resource,
                &format!("{path}.target"),
                format!("port {} is out of range 1-65535", port.target),
            );
        }
        let Some(number) = port.published else {
            continue;
        };
        if !(1..=65535).contains(&number) {
            findings.error(
                resource,
                &format!("{path}.published"),
                format!("port {number} is out of range 1-65535"),
            );
            continue;
        }
        let key = (number, port.protocol);
        match published.get(&key) {
            None => {
                published.insert(key, (resource, port.publish_mode));
            }
            Some((first, first_mode)) => {
                let how =
                    if port.publish_mode == PublishMode::Host && *first_mode == PublishMode::Host {
                        "published twice in host mode: two tasks on one node cannot both bind it"
                    } else {
                        "published twice: the routing mesh binds it on every node"
                    };
                findings.error(
                    resource,
                    &format!("{path}.published"),
                    format!(
                        "port {number}/{} is {how} (also by {} at {})",
                        protocol_name(port.protocol),
                        first.id(),
                        first.origin.locate("spec.ports")
                    ),
                );
            }
        }
    }
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// A value that is itself a secret, as opposed to empty or a path to a mounted secret.
fn is_literal_secret(value: &str) -> bool {
    !value.is_empty() && !value.starts_with("/run/secrets/")
}
