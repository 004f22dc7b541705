//! Desired resources written as the Docker Engine API wants them: a shoal `ServiceSpec`
//! becomes a bollard `ServiceSpec`, a `Network` a create request, a `Node` a node spec.
//! Pure: names the engine knows by ID (networks, secrets) are looked up in `Live`.

use std::collections::HashMap;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, HealthConfig, Limit, Mount, MountTmpfsOptions, MountType,
    NetworkAttachmentConfig, NetworkCreateRequest, ResourceObject, ServiceSpec as EngineService,
    ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1,
    TaskSpecContainerSpecSecrets, TaskSpecPlacement, TaskSpecPlacementPreferences,
    TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};

use crate::observe::live::Live;
use crate::resources::network::NetworkSpec;
use crate::resources::service::SECRET_DEFAULT_MODE;
use crate::resources::service::{
    FailureAction, MountKind, Protocol, PublishMode, ResourceAmounts, RestartCondition,
    ServiceMode, ServiceSpec, UpdateConfig, UpdateOrder,
};

/// Why a desired service cannot be written for the engine yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderError {
    MissingSecret(String),
    MissingConfig(String),
    MissingNetwork(String),
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderError::MissingSecret(name) => write!(
                f,
                "swarm secret {name:?} does not exist: create it with `docker secret create {name} FILE`"
            ),
            RenderError::MissingConfig(name) => write!(
                f,
                "swarm config {name:?} does not exist: declare it as a Config resource, or create it with `docker config create {name} FILE`"
            ),
            RenderError::MissingNetwork(name) => {
                write!(f, "network {name:?} does not exist yet")
            }
        }
    }
}

/// The engine spec of a desired service. `labels` are the service-level labels to set
/// (the user's plus shoal's bookkeeping); `force_update` carries the live counter over
/// so an update never restarts tasks by accident.
pub fn service(
    name: &str,
    spec: &ServiceSpec,
    labels: HashMap<String, String>,
    force_update: Option<u64>,
    live: &Live,
) -> Result<EngineService, RenderError> {
    let mut task = task(spec, secrets(spec, live)?);
    if let Some(container) = task.container_spec.as_mut() {
        container.configs = non_empty(configs(spec, live)?);
    }
    task.force_update = force_update;
    task.networks = non_empty(networks(spec, live)?);
    let mode = match spec.mode {
        ServiceMode::Replicated => ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(spec.replicas.unwrap_or(1) as i64),
            }),
            ..Default::default()
        },
        ServiceMode::Global => ServiceSpecMode {
            global: Some(HashMap::new()),
            ..Default::default()
        },
    };
    Ok(EngineService {
        name: Some(name.to_string()),
        labels: Some(labels),
        task_template: Some(task),
        mode: Some(mode),
        update_config: spec.update_config.as_ref().map(update_config),
        rollback_config: spec.rollback_config.as_ref().map(rollback_config),
        endpoint_spec: (!spec.ports.is_empty()).then(|| EndpointSpec {
            ports: Some(spec.ports.iter().map(port).collect()),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The secret files of the task, by the IDs of the swarm secrets they come from.
fn secrets(
    spec: &ServiceSpec,
    live: &Live,
) -> Result<Vec<TaskSpecContainerSpecSecrets>, RenderError> {
    let secret_ids = live.secret_ids();
    secret_mounts(spec)
        .into_iter()
        .map(|(source, target, uid, gid, mode)| {
            let id = secret_ids
                .get(source)
                .ok_or_else(|| RenderError::MissingSecret(source.to_string()))?;
            Ok(TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(target.to_string()),
                    uid: Some(uid.to_string()),
                    gid: Some(gid.to_string()),
                    mode: Some(mode),
                }),
                secret_id: Some(id.to_string()),
                secret_name: Some(source.to_string()),
            })
        })
        .collect()
}

/// The config files of the task, by the IDs of the swarm configs they come from.
fn configs(
    spec: &ServiceSpec,
    live: &Live,
) -> Result<Vec<TaskSpecContainerSpecConfigs>, RenderError> {
    let config_ids = live.config_ids();
    spec.configs
        .iter()
        .map(|config| {
            let id = config_ids
                .get(config.source.as_str())
                .ok_or_else(|| RenderError::MissingConfig(config.source.clone()))?;
            Ok(TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: Some(config.target_path()),
                    uid: Some(config.uid.unwrap_or(0).to_string()),
                    gid: Some(config.gid.unwrap_or(0).to_string()),
                    mode: Some(file_mode(config.mode.as_deref())),
                }),
                config_id: Some(id.to_string()),
                config_name: Some(config.source.clone()),
                ..Default::default()
            })
        })
        .collect()
}

/// An octal mode as written, or the default of mounted secrets and configs.
fn file_mode(mode: Option<&str>) -> u32 {
    mode.and_then(|m| u32::from_str_radix(m, 8).ok())
        .unwrap_or(SECRET_DEFAULT_MODE)
}

/// The networks the task attaches to, by ID (`host` and `ingress` by name).
fn networks(spec: &ServiceSpec, live: &Live) -> Result<Vec<NetworkAttachmentConfig>, RenderError> {
    spec.networks
        .iter()
        .map(|network| {
            let target = match live.network(network) {
                Some(found) => found.id.clone().unwrap_or_else(|| network.clone()),
                None if network == "host" || network == "ingress" => network.clone(),
                None => return Err(RenderError::MissingNetwork(network.clone())),
            };
            Ok(NetworkAttachmentConfig {
                target: Some(target),
                ..Default::default()
            })
        })
        .collect()
}

/// The task template, but for what depends on the live swarm (networks, the force
/// counter).
fn task(spec: &ServiceSpec, secrets: Vec<TaskSpecContainerSpecSecrets>) -> TaskSpec {
    let container = TaskSpecContainerSpec {
        image: Some(spec.image.clone()),
        command: spec.command.clone(),
        args: spec.args.clone(),
        env: non_empty(env(spec)),
        mounts: non_empty(spec.mounts.iter().map(mount).collect()),
        secrets: non_empty(secrets),
        health_check: spec.healthcheck.as_ref().map(|check| HealthConfig {
            test: Some(check.test.clone()),
            interval: check.interval.as_ref().map(|d| d.nanos()),
            timeout: check.timeout.as_ref().map(|d| d.nanos()),
            retries: check.retries.map(|r| r as i64),
            start_period: check.start_period.as_ref().map(|d| d.nanos()),
            ..Default::default()
        }),
        stop_grace_period: spec.stop_grace_period.as_ref().map(|d| d.nanos()),
        labels: (!spec.container_labels.is_empty()).then(|| {
            spec.container_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        hostname: spec.hostname.clone(),
        user: spec.user.clone(),
        dir: spec.working_dir.clone(),
        init: spec.init,
        capability_add: non_empty(spec.cap_add.clone()),
        capability_drop: non_empty(spec.cap_drop.clone()),
        ..Default::default()
    };
    TaskSpec {
        container_spec: Some(container),
        resources: spec.resources.as_ref().map(|r| TaskSpecResources {
            limits: r.limits.as_ref().map(|l| Limit {
                nano_cpus: l.cpus.as_ref().map(|c| c.nano_cpus()),
                memory_bytes: l.memory.as_ref().map(|m| m.bytes() as i64),
                ..Default::default()
            }),
            reservations: r.reservations.as_ref().map(reservation),
            ..Default::default()
        }),
        restart_policy: spec.restart_policy.as_ref().map(|p| TaskSpecRestartPolicy {
            condition: Some(match p.condition {
                RestartCondition::Any => TaskSpecRestartPolicyConditionEnum::ANY,
                RestartCondition::OnFailure => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
                RestartCondition::None => TaskSpecRestartPolicyConditionEnum::NONE,
            }),
            delay: p.delay.as_ref().map(|d| d.nanos()),
            max_attempts: p.max_attempts.map(|n| n as i64),
            window: p.window.as_ref().map(|d| d.nanos()),
        }),
        placement: spec.placement.as_ref().map(|p| TaskSpecPlacement {
            constraints: non_empty(p.constraints.clone()),
            preferences: non_empty(
                p.preferences
                    .iter()
                    .map(|pref| TaskSpecPlacementPreferences {
                        spread: Some(TaskSpecPlacementSpread {
                            spread_descriptor: Some(pref.spread.clone()),
                        }),
                    })
                    .collect(),
            ),
            max_replicas: p.max_replicas_per_node.map(|n| n as i64),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every secret file the service mounts: those listed under `secrets`, then those that
/// `env` entries reference with `secretFile` and that are not listed already.
/// Each as (secret name, file name, uid, gid, mode).
pub fn secret_mounts(spec: &ServiceSpec) -> Vec<(&str, &str, u32, u32, u32)> {
    let mut mounts: Vec<_> = spec
        .secrets
        .iter()
        .map(|s| {
            let mode = file_mode(s.mode.as_deref());
            (
                s.source.as_str(),
                s.target.as_deref().unwrap_or(&s.source),
                s.uid.unwrap_or(0),
                s.gid.unwrap_or(0),
                mode,
            )
        })
        .collect();
    for var in &spec.env {
        if let Some(secret) = var.secret_file.as_deref()
            && !mounts.iter().any(|(source, ..)| *source == secret)
        {
            mounts.push((secret, secret, 0, 0, SECRET_DEFAULT_MODE));
        }
    }
    mounts
}

/// `NAME=value` lines; a `secretFile` variable points at the mounted secret's file.
fn env(spec: &ServiceSpec) -> Vec<String> {
    let mounts = secret_mounts(spec);
    spec.env
        .iter()
        .map(|var| match (&var.value, &var.secret_file) {
            (_, Some(secret)) => {
                let file = mounts
                    .iter()
                    .find(|(source, ..)| source == secret)
                    .map_or(secret.as_str(), |(_, target, ..)| target);
                let file = file.trim_start_matches("/run/secrets/");
                format!("{}=/run/secrets/{file}", var.name)
            }
            (Some(value), None) => format!("{}={value}", var.name),
            (None, None) => format!("{}=", var.name),
        })
        .collect()
}

fn mount(mount: &crate::resources::service::Mount) -> Mount {
    Mount {
        target: Some(mount.target.clone()),
        source: mount.source.clone(),
        typ: Some(match mount.kind {
            MountKind::Bind => MountType::BIND,
            MountKind::Volume => MountType::VOLUME,
            MountKind::Tmpfs => MountType::TMPFS,
        }),
        read_only: mount.read_only.then_some(true),
        tmpfs_options: mount.size.as_ref().map(|size| MountTmpfsOptions {
            size_bytes: Some(size.bytes() as i64),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn port(port: &crate::resources::service::Port) -> EndpointPortConfig {
    EndpointPortConfig {
        protocol: Some(match port.protocol {
            Protocol::Tcp => EndpointPortConfigProtocolEnum::TCP,
            Protocol::Udp => EndpointPortConfigProtocolEnum::UDP,
            Protocol::Sctp => EndpointPortConfigProtocolEnum::SCTP,
        }),
        target_port: Some(i64::from(port.target)),
        published_port: port.published.map(i64::from),
        publish_mode: Some(match port.publish_mode {
            PublishMode::Ingress => EndpointPortConfigPublishModeEnum::INGRESS,
            PublishMode::Host => EndpointPortConfigPublishModeEnum::HOST,
        }),
        ..Default::default()
    }
}

fn reservation(amounts: &ResourceAmounts) -> ResourceObject {
    ResourceObject {
        nano_cpus: amounts.cpus.as_ref().map(|c| c.nano_cpus()),
        memory_bytes: amounts.memory.as_ref().map(|m| m.bytes() as i64),
        ..Default::default()
    }
}

/// Parallelism when unset. The engine reads a missing Parallelism as 0, "all tasks at
/// once"; the docker CLI sends 1, and so does shoal, as documented.
const DEFAULT_PARALLELISM: u64 = 1;

fn update_config(config: &UpdateConfig) -> ServiceSpecUpdateConfig {
    ServiceSpecUpdateConfig {
        parallelism: Some(config.parallelism.unwrap_or(DEFAULT_PARALLELISM) as i64),
        delay: config.delay.as_ref().map(|d| d.nanos()),
        failure_action: config.failure_action.map(|action| match action {
            FailureAction::Pause => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
            FailureAction::Continue => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            FailureAction::Rollback => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
        }),
        monitor: config.monitor.as_ref().map(|d| d.nanos()),
        max_failure_ratio: config.max_failure_ratio,
        order: config.order.map(|order| match order {
            UpdateOrder::StopFirst => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            UpdateOrder::StartFirst => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
        }),
    }
}

fn rollback_config(config: &UpdateConfig) -> ServiceSpecRollbackConfig {
    ServiceSpecRollbackConfig {
        parallelism: Some(config.parallelism.unwrap_or(DEFAULT_PARALLELISM) as i64),
        delay: config.delay.as_ref().map(|d| d.nanos()),
        failure_action: config.failure_action.map(|action| match action {
            FailureAction::Continue => ServiceSpecRollbackConfigFailureActionEnum::CONTINUE,
            // Validation refuses `rollback` here; pause is the engine's default.
            _ => ServiceSpecRollbackConfigFailureActionEnum::PAUSE,
        }),
        monitor: config.monitor.as_ref().map(|d| d.nanos()),
        max_failure_ratio: config.max_failure_ratio,
        order: config.order.map(|order| match order {
            UpdateOrder::StopFirst => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
            UpdateOrder::StartFirst => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
        }),
    }
}

/// The create request of a desired network.
pub fn network(
    name: &str,
    spec: &NetworkSpec,
    mut labels: HashMap<String, String>,
) -> NetworkCreateRequest {
    labels.extend(spec.labels.clone());
    NetworkCreateRequest {
        name: name.to_string(),
        driver: Some("overlay".to_string()),
        scope: Some("swarm".to_string()),
        internal: Some(spec.internal),
        attachable: Some(spec.attachable),
        options: spec
            .encrypted
            .then(|| HashMap::from([("encrypted".to_string(), String::new())])),
        labels: Some(labels),
        ..Default::default()
    }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}
