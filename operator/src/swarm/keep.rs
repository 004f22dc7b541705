//! An update writes what desired-state changes and keeps the rest of the live spec as it
//! is: the fields shoal's kinds do not express (container labels, network aliases, a
//! hostname, the platforms `docker stack deploy` records) and, for the fields desired-state
//! leaves as they are, the engine's own spelling of them (a volume mount's options, an
//! empty resources block). Tasks restart only when their spec really changes: that is
//! what lets shoal take over a stack without restarting it. Pure.

use std::collections::BTreeSet;

use bollard::models::{ServiceSpec as EngineService, TaskSpec, TaskSpecContainerSpec};

use crate::diff::FieldChange;

/// The top-level desired fields (`image`, `env`, `resources`) that `changes` touch.
pub fn changed_fields(changes: &[FieldChange]) -> BTreeSet<String> {
    changes
        .iter()
        .map(|change| {
            let top = change.path.split(['.', '[']).next().unwrap_or_default();
            top.to_string()
        })
        .collect()
}

/// `rendered` (desired-state, as written for the engine) laid over `live`: the live
/// value stays wherever desired-state changes nothing and wherever shoal expresses
/// nothing. The health check always comes from desired-state: the engine's client cannot
/// read the live one.
pub fn keep_unchanged(
    live: &EngineService,
    rendered: &mut EngineService,
    changed: &BTreeSet<String>,
) {
    let unchanged = |field: &str| !changed.contains(field);
    let Some(desired) = rendered.task_template.take() else {
        return;
    };
    let live_task = live.task_template.clone().unwrap_or_default();
    let mut task = TaskSpec {
        container_spec: Some(container_over_live(
            live_task.container_spec.clone().unwrap_or_default(),
            desired.container_spec.unwrap_or_default(),
            &unchanged,
        )),
        networks: pick(unchanged("networks"), &live_task.networks, desired.networks),
        placement: pick(
            unchanged("placement"),
            &live_task.placement,
            desired.placement,
        ),
        resources: pick(
            unchanged("resources"),
            &live_task.resources,
            desired.resources,
        ),
        restart_policy: pick(
            unchanged("restartPolicy"),
            &live_task.restart_policy,
            desired.restart_policy,
        ),
        force_update: desired.force_update,
        ..live_task.clone()
    };
    keep_aliases(&live_task, &mut task);
    if let (Some(placement), Some(live_placement)) =
        (task.placement.as_mut(), live_task.placement.as_ref())
    {
        placement.platforms = live_placement.platforms.clone();
    }
    rendered.task_template = Some(task);
    if unchanged("ports") {
        rendered.endpoint_spec = live.endpoint_spec.clone();
    }
    if unchanged("updateConfig") {
        rendered.update_config = live.update_config.clone();
    }
    if unchanged("rollbackConfig") {
        rendered.rollback_config = live.rollback_config.clone();
    }
}

/// The container: what shoal expresses from `rendered` where it changes, the rest live.
fn container_over_live(
    live: TaskSpecContainerSpec,
    rendered: TaskSpecContainerSpec,
    unchanged: &dyn Fn(&str) -> bool,
) -> TaskSpecContainerSpec {
    let env_unchanged = unchanged("env") && unchanged("secrets");
    TaskSpecContainerSpec {
        image: pick(unchanged("image"), &live.image, rendered.image),
        command: pick(unchanged("command"), &live.command, rendered.command),
        args: pick(unchanged("args"), &live.args, rendered.args),
        env: pick(env_unchanged, &live.env, rendered.env),
        secrets: pick(env_unchanged, &live.secrets, rendered.secrets),
        configs: pick(unchanged("configs"), &live.configs, rendered.configs),
        mounts: pick(unchanged("mounts"), &live.mounts, rendered.mounts),
        stop_grace_period: pick(
            unchanged("stopGracePeriod"),
            &live.stop_grace_period,
            rendered.stop_grace_period,
        ),
        labels: pick(unchanged("containerLabels"), &live.labels, rendered.labels),
        hostname: pick(unchanged("hostname"), &live.hostname, rendered.hostname),
        user: pick(unchanged("user"), &live.user, rendered.user),
        dir: pick(unchanged("workingDir"), &live.dir, rendered.dir),
        init: pick(unchanged("init"), &live.init, rendered.init),
        capability_add: pick(
            unchanged("capAdd"),
            &live.capability_add,
            rendered.capability_add,
        ),
        capability_drop: pick(
            unchanged("capDrop"),
            &live.capability_drop,
            rendered.capability_drop,
        ),
        health_check: rendered.health_check,
        ..live
    }
}

/// The live value when desired-state leaves the field as it is.
fn pick<T: Clone>(unchanged: bool, live: &Option<T>, desired: Option<T>) -> Option<T> {
    if unchanged { live.clone() } else { desired }
}

/// A network the service stays on keeps its aliases and options.
fn keep_aliases(live: &TaskSpec, task: &mut TaskSpec) {
    let live_networks = live.networks.as_deref().unwrap_or_default();
    for network in task.networks.iter_mut().flatten() {
        if let Some(kept) = live_networks.iter().find(|n| n.target == network.target) {
            network.aliases = kept.aliases.clone();
            network.driver_opts = kept.driver_opts.clone();
        }
    }
}

#[cfg(test)]
mod tests;
