//! Comparing desired and live, field by field. Pure: no I/O.
//!
//! Both sides are first brought to one canonical form: the engine's defaults (a 10s stop
//! grace period, a restart policy of any/5s, update parallelism 1...) count as unset,
//! quantities compare by value, env compares by name, and only the fields desired-state
//! owns are looked at. What remains different is drift.

pub mod network;
pub mod node;
pub mod observed;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::resources::Spec;
use crate::resources::constraint::Constraint;
use crate::resources::service::{
    ConfigRef, FailureAction, Healthcheck, Placement, Resources, RestartCondition, RestartPolicy,
    SECRET_DEFAULT_MODE, SecretRef, ServiceMode, ServiceSpec, UpdateConfig, UpdateOrder,
    looks_secret,
};

/// One field that differs: its path (`resources.limits.memory`) and both values, rendered
/// for people; `None` is unset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub path: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Fields whose change leaves running tasks alone: they live outside the TaskTemplate.
const NON_RESTARTING: [&str; 5] = [
    "replicas",
    "labels",
    "ports",
    "updateConfig",
    "rollbackConfig",
];

/// Whether changing the field at `path` makes the swarm replace the service's tasks.
pub fn restarts_tasks(path: &str) -> bool {
    let top = path.split(['.', '[']).next().unwrap_or(path);
    !NON_RESTARTING.contains(&top)
}

/// The field-level differences between a live service (read back with
/// [`observed::service`]) and the desired one. Empty when they match.
pub fn service(live: &ServiceSpec, desired: &ServiceSpec) -> Vec<FieldChange> {
    let mut live = canonical(live);
    let desired = canonical(desired);
    // The docker CLI pins images to a digest; that is not drift unless desired pins one.
    if let (Some(Value::String(live_image)), Some(Value::String(desired_image))) =
        (live.get_mut("image"), desired.get("image"))
        && !desired_image.contains('@')
        && let Some((unpinned, _)) = live_image.split_once('@')
    {
        *live_image = unpinned.to_string();
    }
    let mut live_fields = BTreeMap::new();
    flatten("", &Value::Object(live), &mut live_fields);
    let mut desired_fields = BTreeMap::new();
    flatten("", &Value::Object(desired), &mut desired_fields);
    changes(&live_fields, &desired_fields)
}

/// A hash of the canonical desired spec, stored on the live object as a label, so that
/// anyone (and later `shoal run`, to tell its own writes from others') can see which
/// desired spec an object was last written from.
pub fn spec_hash(spec: &impl Serialize) -> String {
    let json = serde_json::to_vec(spec).expect("specs always serialize");
    let digest = Sha256::digest(&json);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The hash of a desired spec (its canonical form for services), the same for the same
/// spec in any revision: written as SPEC_HASH on the objects, compared by `shoal run` to
/// tell its own writes from others' (drift) and a rolled-back spec from the one desired.
pub fn desired_hash(spec: &Spec) -> String {
    match spec {
        Spec::Service(spec) => service_hash(spec),
        // The data is no field of the document: its version is what changes.
        Spec::Secret(data) | Spec::Config(data) => {
            spec_hash(&(spec, format!("{:?}", data.resolved)))
        }
        other => spec_hash(other),
    }
}

/// `desired_hash` of a service spec.
pub fn service_hash(spec: &ServiceSpec) -> String {
    spec_hash(&canonical(spec))
}

/// The canonical JSON of a service spec, the form every comparison uses.
pub fn canonical(spec: &ServiceSpec) -> Map<String, Value> {
    let normal = normalise(spec);
    let Value::Object(mut map) = serde_json::to_value(&normal).expect("specs always serialize")
    else {
        unreachable!("a struct serializes to an object")
    };
    // Env is a set of names, not a list: order does not matter, names are the keys.
    if let Some(Value::Array(vars)) = map.remove("env") {
        let env: Map<String, Value> = vars
            .into_iter()
            .filter_map(|var| {
                let name = var.get("name")?.as_str()?.to_string();
                let value = match var.get("secretFile") {
                    Some(Value::String(secret)) => format!("(secret {secret})"),
                    _ => var
                        .get("value")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                };
                Some((name, Value::String(value)))
            })
            .collect();
        map.insert("env".into(), Value::Object(env));
    }
    map
}

/// The spec with every engine default written as unset, so that "unset" and "set to the
/// default" compare equal.
fn normalise(spec: &ServiceSpec) -> ServiceSpec {
    let mut spec = spec.clone();
    spec.replicas = match spec.mode {
        ServiceMode::Replicated => Some(spec.replicas.unwrap_or(1)),
        ServiceMode::Global => None,
    };
    spec.command = spec.command.filter(|c| !c.is_empty());
    spec.args = spec.args.filter(|a| !a.is_empty());
    normalise_secrets(&mut spec);
    // Ordering for shoal, not a swarm field: it never differs from live.
    spec.depends_on.clear();
    spec.configs = std::mem::take(&mut spec.configs)
        .into_iter()
        .map(normalise_config)
        .collect();
    spec.configs.sort_by(|a, b| a.target.cmp(&b.target));
    spec.networks.sort();
    spec.placement = spec.placement.and_then(normalise_placement);
    spec.resources = spec.resources.and_then(normalise_resources);
    spec.restart_policy = spec.restart_policy.and_then(normalise_restart_policy);
    spec.update_config = spec.update_config.and_then(normalise_rollout);
    spec.rollback_config = spec.rollback_config.and_then(normalise_rollout);
    spec.healthcheck = spec.healthcheck.map(normalise_healthcheck);
    spec.stop_grace_period = spec
        .stop_grace_period
        .filter(|d| d.as_std().as_secs_f64() != 10.0);
    spec.labels
        .retain(|key, _| !key.starts_with(crate::swarm::labels::PREFIX));
    spec
}

/// Secrets, and env vars naming their files, written one way on both sides.
fn normalise_secrets(spec: &mut ServiceSpec) {
    // A literal path to a mounted secret's file reads back as a `secretFile` reference:
    // write it that way on both sides.
    let mounted: Vec<(String, String)> = spec
        .secrets
        .iter()
        .map(|s| {
            let target = s.target.as_deref().unwrap_or(&s.source);
            (
                target.trim_start_matches("/run/secrets/").to_string(),
                s.source.clone(),
            )
        })
        .collect();
    for var in &mut spec.env {
        let file = var
            .value
            .as_deref()
            .and_then(|v| v.strip_prefix("/run/secrets/"));
        if let Some((_, source)) = file.and_then(|f| mounted.iter().find(|(t, _)| t == f)) {
            var.secret_file = Some(source.clone());
            var.value = None;
        }
    }

    // A secret mounted only because an env var references it is implied by that var.
    let implied: Vec<String> = spec
        .env
        .iter()
        .filter_map(|v| v.secret_file.clone())
        .collect();
    spec.secrets = std::mem::take(&mut spec.secrets)
        .into_iter()
        .map(normalise_secret)
        .filter(|s| {
            !(implied.contains(&s.source)
                && s.target.is_none()
                && s.uid.is_none()
                && s.gid.is_none()
                && s.mode.is_none())
        })
        .collect();
}

fn normalise_placement(mut placement: Placement) -> Option<Placement> {
    for constraint in &mut placement.constraints {
        if let Ok(parsed) = Constraint::parse(constraint) {
            *constraint = parsed.to_string();
        }
    }
    placement.constraints.sort();
    placement.max_replicas_per_node = placement.max_replicas_per_node.filter(|n| *n > 0);
    let empty = placement.constraints.is_empty()
        && placement.preferences.is_empty()
        && placement.max_replicas_per_node.is_none();
    (!empty).then_some(placement)
}

/// A zero amount is no limit to the engine: the same as unset.
fn normalise_resources(mut resources: Resources) -> Option<Resources> {
    for amounts in [&mut resources.limits, &mut resources.reservations] {
        *amounts = amounts.take().and_then(|mut a| {
            a.memory = a.memory.filter(|m| m.bytes() > 0);
            a.cpus = a.cpus.filter(|c| c.nano_cpus() > 0);
            (a.memory.is_some() || a.cpus.is_some()).then_some(a)
        });
    }
    (resources.limits.is_some() || resources.reservations.is_some()).then_some(resources)
}

/// Swarm's restart defaults: any condition, 5s delay, unlimited attempts, no window.
fn normalise_restart_policy(mut policy: RestartPolicy) -> Option<RestartPolicy> {
    policy.delay = policy.delay.filter(|d| d.as_std().as_secs_f64() != 5.0);
    policy.max_attempts = policy.max_attempts.filter(|n| *n > 0);
    policy.window = policy.window.filter(|d| !d.as_std().is_zero());
    let default = policy.condition == RestartCondition::Any
        && policy.delay.is_none()
        && policy.max_attempts.is_none()
        && policy.window.is_none();
    (!default).then_some(policy)
}

/// A zero duration or retry count is the engine's "use the default".
fn normalise_healthcheck(mut check: Healthcheck) -> Healthcheck {
    check.interval = check.interval.filter(|d| !d.as_std().is_zero());
    check.timeout = check.timeout.filter(|d| !d.as_std().is_zero());
    check.start_period = check.start_period.filter(|d| !d.as_std().is_zero());
    check.retries = check.retries.filter(|n| *n > 0);
    check
}

fn normalise_config(mut config: ConfigRef) -> ConfigRef {
    config.target = Some(config.target_path());
    config.uid = config.uid.filter(|uid| *uid != 0);
    config.gid = config.gid.filter(|gid| *gid != 0);
    config.mode = config
        .mode
        .and_then(|m| u32::from_str_radix(&m, 8).ok())
        .filter(|mode| *mode != SECRET_DEFAULT_MODE)
        .map(|mode| format!("{mode:04o}"));
    config
}

fn normalise_secret(mut secret: SecretRef) -> SecretRef {
    if secret.target.as_deref() == Some(secret.source.as_str()) {
        secret.target = None;
    }
    secret.uid = secret.uid.filter(|uid| *uid != 0);
    secret.gid = secret.gid.filter(|gid| *gid != 0);
    secret.mode = secret
        .mode
        .and_then(|m| u32::from_str_radix(&m, 8).ok())
        .filter(|mode| *mode != SECRET_DEFAULT_MODE)
        .map(|mode| format!("{mode:04o}"));
    secret
}

/// Swarm's rollout defaults: parallelism 1, no delay, pause on failure, 5s monitor, no
/// failure ratio, stop-first.
fn normalise_rollout(mut config: UpdateConfig) -> Option<UpdateConfig> {
    config.parallelism = config.parallelism.filter(|n| *n != 1);
    config.delay = config.delay.filter(|d| !d.as_std().is_zero());
    config.failure_action = config.failure_action.filter(|a| *a != FailureAction::Pause);
    config.monitor = config.monitor.filter(|d| d.as_std().as_secs_f64() != 5.0);
    config.max_failure_ratio = config.max_failure_ratio.filter(|r| *r != 0.0);
    config.order = config.order.filter(|o| *o != UpdateOrder::StopFirst);
    let default = config.parallelism.is_none()
        && config.delay.is_none()
        && config.failure_action.is_none()
        && config.monitor.is_none()
        && config.max_failure_ratio.is_none()
        && config.order.is_none();
    (!default).then_some(config)
}

/// Flattens JSON into leaf paths. Objects nest with dots; lists of objects with `[i]`;
/// lists of plain values are one leaf (`networks: [a, b]`).
pub fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                flatten(&join(key), child, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object()) => {
            for (index, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{index}]"), item, out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// The differing leaves of two flattened values, with secret-looking env values hidden.
pub fn changes(
    live: &BTreeMap<String, Value>,
    desired: &BTreeMap<String, Value>,
) -> Vec<FieldChange> {
    let mut paths: Vec<&String> = live.keys().chain(desired.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|path| live.get(*path) != desired.get(*path))
        .map(|path| {
            let secret_name = path.strip_prefix("env.").is_some_and(looks_secret);
            // A secret reference names the secret, never its value: it may be shown.
            let show = |value: Option<&Value>| {
                value.map(|v| match v.as_str() {
                    Some(text) if secret_name && !text.starts_with("(secret ") => {
                        "(sensitive)".to_string()
                    }
                    _ => render(v),
                })
            };
            FieldChange {
                path: path.clone(),
                from: show(live.get(path)),
                to: show(desired.get(path)),
            }
        })
        .collect()
}

/// A leaf value for people: strings bare, lists as `[a, b]`.
pub fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
