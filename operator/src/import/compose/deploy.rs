//! A service's `deploy:` section and `healthcheck:`, as shoal's mode, replicas,
//! placement, resources, restart and rollout settings.

use serde_json::{Map, Value};

use super::merge::scalar_text;
use super::names::string_map;
use super::service::Ctx;
use crate::resources::quantity::{Cpus, Duration, MemorySize};
use crate::resources::service::{
    FailureAction, Healthcheck, Placement, ResourceAmounts, Resources, RestartCondition,
    RestartPolicy, ServiceMode, ServiceSpec, SpreadPreference, UpdateConfig, UpdateOrder,
};

pub fn deploy(ctx: &mut Ctx, deploy: &Map<String, Value>, spec: &mut ServiceSpec) {
    for (key, value) in deploy {
        let field = format!("deploy.{key}");
        match key.as_str() {
            "mode" => match scalar_text(value).as_str() {
                "replicated" => spec.mode = ServiceMode::Replicated,
                "global" => spec.mode = ServiceMode::Global,
                other => ctx.note(
                    &field,
                    format!("shoal runs no {other} services: not imported"),
                ),
            },
            "replicas" => spec.replicas = ctx.number(&field, value),
            "placement" => spec.placement = placement(ctx, &field, value),
            "resources" => spec.resources = resources(ctx, &field, value),
            "restart_policy" => spec.restart_policy = restart_policy(ctx, &field, value),
            "update_config" => spec.update_config = rollout(ctx, &field, value),
            "rollback_config" => spec.rollback_config = rollout(ctx, &field, value),
            "labels" => spec.labels = string_map(value),
            "endpoint_mode" if scalar_text(value) == "vip" => {}
            _ if key.starts_with("x-") => {}
            _ => ctx.note(&field, "shoal cannot express this yet: not imported"),
        }
    }
}

fn placement(ctx: &mut Ctx, field: &str, value: &Value) -> Option<Placement> {
    let mut placement = Placement::default();
    for (key, value) in value.as_object()? {
        let field = format!("{field}.{key}");
        match key.as_str() {
            "constraints" => placement.constraints = strings(value),
            "preferences" => {
                placement.preferences = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|pref| pref.get("spread"))
                    .map(|spread| SpreadPreference {
                        spread: scalar_text(spread),
                    })
                    .collect();
            }
            "max_replicas_per_node" => placement.max_replicas_per_node = ctx.number(&field, value),
            _ => ctx.note(&field, "shoal cannot express this yet: not imported"),
        }
    }
    Some(placement)
}

fn resources(ctx: &mut Ctx, field: &str, value: &Value) -> Option<Resources> {
    let mut resources = Resources::default();
    for (key, value) in value.as_object()? {
        let field = format!("{field}.{key}");
        let amounts = amounts(ctx, &field, value);
        match key.as_str() {
            "limits" => resources.limits = amounts,
            "reservations" => resources.reservations = amounts,
            _ => ctx.note(&field, "shoal cannot express this yet: not imported"),
        }
    }
    Some(resources)
}

fn amounts(ctx: &mut Ctx, field: &str, value: &Value) -> Option<ResourceAmounts> {
    let mut amounts = ResourceAmounts::default();
    for (key, value) in value.as_object()? {
        let field = format!("{field}.{key}");
        match key.as_str() {
            "memory" => amounts.memory = ctx.parsed(&field, value, MemorySize::parse),
            "cpus" => amounts.cpus = ctx.parsed(&field, value, Cpus::parse),
            _ => ctx.note(&field, "shoal cannot express this yet: not imported"),
        }
    }
    Some(amounts)
}

fn restart_policy(ctx: &mut Ctx, field: &str, value: &Value) -> Option<RestartPolicy> {
    let mut policy = RestartPolicy {
        condition: RestartCondition::Any,
        delay: None,
        max_attempts: None,
        window: None,
    };
    for (key, value) in value.as_object()? {
        let field = format!("{field}.{key}");
        match key.as_str() {
            "condition" => match scalar_text(value).as_str() {
                "any" => policy.condition = RestartCondition::Any,
                "on-failure" => policy.condition = RestartCondition::OnFailure,
                "none" => policy.condition = RestartCondition::None,
                other => ctx.note(
                    &field,
                    format!("{other:?} is not any, on-failure or none: not imported"),
                ),
            },
            "delay" => policy.delay = ctx.parsed(&field, value, Duration::parse),
            "max_attempts" => policy.max_attempts = ctx.number(&field, value),
            "window" => policy.window = ctx.parsed(&field, value, Duration::parse),
            _ => ctx.note(&field, "shoal cannot express this yet: not imported"),
        }
    }
    Some(policy)
}

fn rollout(ctx: &mut Ctx, field: &str, value: &Value) -> Option<UpdateConfig> {
    let mut config = UpdateConfig {
        parallelism: None,
        delay: None,
        order: None,
        failure_action: None,
        monitor: None,
        max_failure_ratio: None,
    };
    for (key, value) in value.as_object()? {
        let field = format!("{field}.{key}");
        match key.as_str() {
            "parallelism" => config.parallelism = ctx.number(&field, value),
            "delay" => config.delay = ctx.parsed(&field, value, Duration::parse),
            "monitor" => config.monitor = ctx.parsed(&field, value, Duration::parse),
            "max_failure_ratio" => config.max_failure_ratio = value.as_f64(),
            "order" => match scalar_text(value).as_str() {
                "stop-first" => config.order = Some(UpdateOrder::StopFirst),
                "start-first" => config.order = Some(UpdateOrder::StartFirst),
                other => ctx.note(&field, format!("unknown order {other:?}: not imported")),
            },
            "failure_action" => match scalar_text(value).as_str() {
                "pause" => config.failure_action = Some(FailureAction::Pause),
                "continue" => config.failure_action = Some(FailureAction::Continue),
                "rollback" => config.failure_action = Some(FailureAction::Rollback),
                other => ctx.note(&field, format!("unknown action {other:?}: not imported")),
            },
            _ => ctx.note(&field, "shoal cannot express this yet: not imported"),
        }
    }
    Some(config)
}

/// `healthcheck:`; `disable: true` is the test `["NONE"]`, a string test runs in a shell.
pub fn healthcheck(ctx: &mut Ctx, value: &Value) -> Option<Healthcheck> {
    let fields = value.as_object()?;
    let mut check = Healthcheck {
        test: Vec::new(),
        interval: None,
        timeout: None,
        retries: None,
        start_period: None,
    };
    for (key, value) in fields {
        let field = format!("healthcheck.{key}");
        match key.as_str() {
            "test" => {
                check.test = match value {
                    Value::String(command) => vec!["CMD-SHELL".to_string(), command.clone()],
                    other => strings(other),
                }
            }
            "disable" if value.as_bool() == Some(true) => check.test = vec!["NONE".to_string()],
            "disable" => {}
            "interval" => check.interval = ctx.parsed(&field, value, Duration::parse),
            "timeout" => check.timeout = ctx.parsed(&field, value, Duration::parse),
            "start_period" => check.start_period = ctx.parsed(&field, value, Duration::parse),
            "retries" => check.retries = ctx.number(&field, value),
            _ => ctx.note(&field, "shoal cannot express this yet: not imported"),
        }
    }
    if check.test.is_empty() {
        ctx.note(
            "healthcheck",
            "a health check without `test` keeps the image's: not imported",
        );
        return None;
    }
    Some(check)
}

/// A list of strings (numbers written as text); a lone string is a list of one.
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().map(scalar_text).collect(),
        Value::Null => Vec::new(),
        other => vec![scalar_text(other)],
    }
}
