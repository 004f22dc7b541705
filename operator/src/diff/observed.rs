//! A live engine service read back into shoal's own vocabulary: the `ServiceSpec` that,
//! rendered, would produce it. Network IDs become names again, secret file paths in env
//! become `secretFile` references, nanoseconds become durations.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, MountType,
    ServiceSpec as EngineService, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement,
    TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};

use crate::resources::quantity::{Cpus, Duration, MemorySize};
use crate::resources::service::{
    ConfigRef, EnvVar, FailureAction, Healthcheck, Mount, MountKind, Placement, Port, Protocol,
    PublishMode, ResourceAmounts, Resources, RestartCondition, RestartPolicy, SecretRef,
    ServiceMode, ServiceSpec, SpreadPreference, UpdateConfig, UpdateOrder,
};
use crate::swarm::labels;

/// Reads an engine service spec back as a shoal spec. `network_names` maps network IDs
/// to names. Fields shoal does not manage are left out: they cannot drift.
pub fn service(engine: &EngineService, network_names: &HashMap<&str, &str>) -> ServiceSpec {
    let task = engine.task_template.clone().unwrap_or_default();
    let container = task.container_spec.clone().unwrap_or_default();
    let secrets = secrets(&container);
    let (mode, replicas) = mode(engine);
    ServiceSpec {
        image: container.image.clone().unwrap_or_default(),
        mode,
        replicas,
        command: container.command.clone(),
        args: container.args.clone(),
        env: env(&container, &secrets),
        secrets,
        configs: configs(&container),
        ports: ports(engine),
        mounts: mounts(&container),
        networks: networks(engine, &task, network_names),
        placement: task.placement.as_ref().map(placement),
        resources: task.resources.as_ref().map(resources),
        restart_policy: task.restart_policy.as_ref().map(restart_policy),
        update_config: engine.update_config.as_ref().map(update_config),
        rollback_config: engine.rollback_config.as_ref().map(rollback_config),
        healthcheck: healthcheck(engine, &container),
        stop_grace_period: container.stop_grace_period.map(Duration::from_nanos),
        labels: user_labels(engine),
        container_labels: container
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        hostname: container.hostname.clone().filter(|h| !h.is_empty()),
        user: container.user.clone().filter(|u| !u.is_empty()),
        working_dir: container.dir.clone().filter(|d| !d.is_empty()),
        init: container.init,
        cap_add: container.capability_add.clone().unwrap_or_default(),
        cap_drop: container.capability_drop.clone().unwrap_or_default(),
        depends_on: Vec::new(),
    }
}

fn configs(container: &TaskSpecContainerSpec) -> Vec<ConfigRef> {
    container
        .configs
        .iter()
        .flatten()
        .map(|config| {
            let file = config.file.clone().unwrap_or_default();
            ConfigRef {
                source: config.config_name.clone().unwrap_or_default(),
                target: file.name,
                uid: file.uid.and_then(|uid| uid.parse().ok()),
                gid: file.gid.and_then(|gid| gid.parse().ok()),
                mode: file.mode.map(|mode| format!("{mode:04o}")),
            }
        })
        .collect()
}

fn secrets(container: &TaskSpecContainerSpec) -> Vec<SecretRef> {
    container
        .secrets
        .iter()
        .flatten()
        .map(|secret| {
            let file = secret.file.clone().unwrap_or_default();
            SecretRef {
                source: secret.secret_name.clone().unwrap_or_default(),
                target: file.name,
                uid: file.uid.and_then(|uid| uid.parse().ok()),
                gid: file.gid.and_then(|gid| gid.parse().ok()),
                mode: file.mode.map(|mode| format!("{mode:04o}")),
            }
        })
        .collect()
}

fn env(container: &TaskSpecContainerSpec, secrets: &[SecretRef]) -> Vec<EnvVar> {
    container
        .env
        .iter()
        .flatten()
        .map(|line| {
            let (name, value) = line.split_once('=').unwrap_or((line, ""));
            // An env value pointing at a mounted secret's file is a `secretFile` reference.
            let secret_file = value.strip_prefix("/run/secrets/").and_then(|file| {
                secrets
                    .iter()
                    .find(|s| {
                        let target = s.target.as_deref().unwrap_or(&s.source);
                        target.trim_start_matches("/run/secrets/") == file
                    })
                    .map(|s| s.source.clone())
            });
            EnvVar {
                name: name.to_string(),
                value: secret_file.is_none().then(|| value.to_string()),
                secret_file,
            }
        })
        .collect()
}

/// The mode, and the replica count of a replicated service.
fn mode(engine: &EngineService) -> (ServiceMode, Option<u64>) {
    let mode = engine.mode.clone().unwrap_or_default();
    if mode.global.is_some() {
        (ServiceMode::Global, None)
    } else {
        let replicas = mode.replicated.and_then(|r| r.replicas).unwrap_or(1);
        (ServiceMode::Replicated, Some(replicas.max(0) as u64))
    }
}

fn networks(
    engine: &EngineService,
    task: &TaskSpec,
    network_names: &HashMap<&str, &str>,
) -> Vec<String> {
    task.networks
        .iter()
        .flatten()
        .chain(engine.networks.iter().flatten())
        .filter_map(|n| n.target.as_deref())
        .map(|target| {
            network_names
                .get(target)
                .map_or(target.to_string(), |name| name.to_string())
        })
        .collect()
}

fn ports(engine: &EngineService) -> Vec<Port> {
    engine
        .endpoint_spec
        .iter()
        .flat_map(|e| e.ports.iter().flatten())
        .map(|p| Port {
            target: p.target_port.unwrap_or(0) as u32,
            published: p.published_port.filter(|n| *n > 0).map(|n| n as u32),
            protocol: match p.protocol {
                Some(EndpointPortConfigProtocolEnum::UDP) => Protocol::Udp,
                Some(EndpointPortConfigProtocolEnum::SCTP) => Protocol::Sctp,
                _ => Protocol::Tcp,
            },
            publish_mode: match p.publish_mode {
                Some(EndpointPortConfigPublishModeEnum::HOST) => PublishMode::Host,
                _ => PublishMode::Ingress,
            },
        })
        .collect()
}

fn mounts(container: &TaskSpecContainerSpec) -> Vec<Mount> {
    container
        .mounts
        .iter()
        .flatten()
        .map(|m| Mount {
            kind: match m.typ {
                Some(MountType::VOLUME) => MountKind::Volume,
                Some(MountType::TMPFS) => MountKind::Tmpfs,
                _ => MountKind::Bind,
            },
            source: m.source.clone().filter(|s| !s.is_empty()),
            target: m.target.clone().unwrap_or_default(),
            read_only: m.read_only.unwrap_or(false),
            size: m
                .tmpfs_options
                .as_ref()
                .and_then(|t| t.size_bytes)
                .filter(|n| *n > 0)
                .map(|n| MemorySize::from_bytes(n as u64)),
        })
        .collect()
}

fn placement(p: &TaskSpecPlacement) -> Placement {
    Placement {
        constraints: p.constraints.clone().unwrap_or_default(),
        preferences: p
            .preferences
            .iter()
            .flatten()
            .filter_map(|pref| pref.spread.as_ref()?.spread_descriptor.clone())
            .map(|spread| SpreadPreference { spread })
            .collect(),
        max_replicas_per_node: p.max_replicas.filter(|n| *n > 0).map(|n| n as u64),
    }
}

fn resources(r: &TaskSpecResources) -> Resources {
    Resources {
        limits: r.limits.as_ref().map(|l| ResourceAmounts {
            memory: l.memory_bytes.map(bytes),
            cpus: l.nano_cpus.map(Cpus::from_nano_cpus),
        }),
        reservations: r.reservations.as_ref().map(|l| ResourceAmounts {
            memory: l.memory_bytes.map(bytes),
            cpus: l.nano_cpus.map(Cpus::from_nano_cpus),
        }),
    }
}

fn restart_policy(p: &TaskSpecRestartPolicy) -> RestartPolicy {
    RestartPolicy {
        condition: match p.condition {
            Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE) => RestartCondition::OnFailure,
            Some(TaskSpecRestartPolicyConditionEnum::NONE) => RestartCondition::None,
            _ => RestartCondition::Any,
        },
        delay: p.delay.map(Duration::from_nanos),
        max_attempts: p.max_attempts.map(|n| n.max(0) as u64),
        window: p.window.map(Duration::from_nanos),
    }
}

fn update_config(c: &ServiceSpecUpdateConfig) -> UpdateConfig {
    UpdateConfig {
        parallelism: c.parallelism.map(|n| n.max(0) as u64),
        delay: c.delay.map(Duration::from_nanos),
        order: c.order.and_then(|o| match o {
            ServiceSpecUpdateConfigOrderEnum::START_FIRST => Some(UpdateOrder::StartFirst),
            ServiceSpecUpdateConfigOrderEnum::STOP_FIRST => Some(UpdateOrder::StopFirst),
            _ => None,
        }),
        failure_action: c.failure_action.and_then(|a| match a {
            ServiceSpecUpdateConfigFailureActionEnum::PAUSE => Some(FailureAction::Pause),
            ServiceSpecUpdateConfigFailureActionEnum::CONTINUE => Some(FailureAction::Continue),
            ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK => Some(FailureAction::Rollback),
            _ => None,
        }),
        monitor: c.monitor.map(Duration::from_nanos),
        max_failure_ratio: c.max_failure_ratio,
    }
}

/// The engine's rollback settings have their own types (and no `rollback` failure
/// action), but read back into the same shape as the update settings.
fn rollback_config(c: &ServiceSpecRollbackConfig) -> UpdateConfig {
    UpdateConfig {
        parallelism: c.parallelism.map(|n| n.max(0) as u64),
        delay: c.delay.map(Duration::from_nanos),
        order: c.order.and_then(|o| match o {
            ServiceSpecRollbackConfigOrderEnum::START_FIRST => Some(UpdateOrder::StartFirst),
            ServiceSpecRollbackConfigOrderEnum::STOP_FIRST => Some(UpdateOrder::StopFirst),
            _ => None,
        }),
        failure_action: c.failure_action.and_then(|a| match a {
            ServiceSpecRollbackConfigFailureActionEnum::PAUSE => Some(FailureAction::Pause),
            ServiceSpecRollbackConfigFailureActionEnum::CONTINUE => Some(FailureAction::Continue),
            _ => None,
        }),
        monitor: c.monitor.map(Duration::from_nanos),
        max_failure_ratio: c.max_failure_ratio,
    }
}

fn healthcheck(engine: &EngineService, container: &TaskSpecContainerSpec) -> Option<Healthcheck> {
    match &container.health_check {
        Some(h) => Some(Healthcheck {
            test: h.test.clone().unwrap_or_default(),
            interval: h.interval.map(Duration::from_nanos),
            timeout: h.timeout.map(Duration::from_nanos),
            retries: h.retries.map(|n| n.max(0) as u64),
            start_period: h.start_period.map(Duration::from_nanos),
        }),
        // bollard cannot read the engine's health check (see labels::HEALTHCHECK): take
        // what shoal last applied. A health check changed by hand is not seen.
        None => engine
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::HEALTHCHECK))
            .and_then(|json| serde_json::from_str(json).ok()),
    }
}

/// The user's labels: shoal's bookkeeping labels are not part of the spec.
fn user_labels(engine: &EngineService) -> BTreeMap<String, String> {
    engine
        .labels
        .iter()
        .flatten()
        .filter(|(key, _)| !key.starts_with(labels::PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn bytes(n: i64) -> MemorySize {
    MemorySize::from_bytes(n.max(0) as u64)
}
