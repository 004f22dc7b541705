//! Waiting for services to converge after an apply, and saying honestly when they do not:
//! a paused or rolled-back rollout, tasks the engine keeps rejecting, or tasks no node can
//! take are failures, with the engine's own reason.

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::TaskState;
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions};

use super::rollout::{self, Rollout};

use crate::swarm::engine::EngineError;

/// How often the engine is asked.
const POLL: Duration = Duration::from_secs(1);
/// Tasks of the current spec that failed or were rejected since the wait began, after
/// which the service is declared failing instead of waiting for the timeout.
const FAILED_TASKS_LIMIT: usize = 3;

/// Where one service stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub service: String,
    /// Running tasks of the current spec.
    pub running: u64,
    pub desired: u64,
    pub state: ServiceState,
    /// Why a task that should run does not, in the engine's words ("no suitable node
    /// (insufficient resources on 2 nodes)"), if one says so.
    pub pending_reason: Option<String>,
}

impl Progress {
    /// `web: 1/2 running, no suitable node (...)`.
    fn describe(&self) -> String {
        let counts = format!(
            "{}: {}/{} running",
            self.service, self.running, self.desired
        );
        match &self.pending_reason {
            Some(reason) => format!("{counts}, {reason}"),
            None => counts,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceState {
    Converging,
    Converged,
    /// The rollout or the tasks failed; the reason is the engine's.
    Failed(String),
}

/// Why waiting ended without convergence.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("service {service} failed: {reason}")]
    Failed { service: String, reason: String },
    #[error("timed out after {timeout:?}: {}", pending.join("; "))]
    Timeout {
        timeout: Duration,
        pending: Vec<String>,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Waits until every service in `services` runs its current spec on the desired number
/// of tasks. `report` is called with every service's progress on each poll.
pub async fn converge(
    docker: &Docker,
    services: &[String],
    timeout: Duration,
    mut report: impl FnMut(&[Progress]),
) -> Result<(), WaitError> {
    let started = Instant::now();
    let since = chrono_now_minus(Duration::from_secs(2));
    loop {
        let progress = poll(docker, services, &since).await?;
        report(&progress);
        if let Some(failed) = progress.iter().find_map(|p| match &p.state {
            ServiceState::Failed(reason) => Some((p.service.clone(), reason.clone())),
            _ => None,
        }) {
            return Err(WaitError::Failed {
                service: failed.0,
                reason: failed.1,
            });
        }
        if progress.iter().all(|p| p.state == ServiceState::Converged) {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            let pending = progress
                .iter()
                .filter(|p| p.state != ServiceState::Converged)
                .map(Progress::describe)
                .collect();
            return Err(WaitError::Timeout { timeout, pending });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// RFC 3339 text of a moment shortly before now, to compare with task timestamps (the
/// engine's clock and ours are the same machine's in practice; the margin absorbs skew).
fn chrono_now_minus(margin: Duration) -> String {
    let now = std::time::SystemTime::now() - margin;
    humantime::format_rfc3339_nanos(now).to_string()
}

async fn poll(
    docker: &Docker,
    services: &[String],
    since: &str,
) -> Result<Vec<Progress>, EngineError> {
    let listed = docker
        .list_services(Some(ListServicesOptions {
            status: Some(true),
            ..Default::default()
        }))
        .await
        .map_err(EngineError::call("listing services"))?;
    let tasks = docker
        .list_tasks(None::<ListTasksOptions>)
        .await
        .map_err(EngineError::call("listing tasks"))?;
    let mut progress = Vec::new();
    for name in services {
        let Some(service) = listed
            .iter()
            .find(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) == Some(name.as_str()))
        else {
            progress.push(Progress {
                service: name.clone(),
                running: 0,
                desired: 0,
                state: ServiceState::Failed("the service disappeared".into()),
                pending_reason: None,
            });
            continue;
        };
        progress.push(progress_of(name, service, &tasks, since));
    }
    Ok(progress)
}

/// How far `service` (named `name`) is, from its tasks. Pure. A task failed "since the
/// start" was created after `since`.
fn progress_of(
    name: &str,
    service: &bollard::models::Service,
    tasks: &[bollard::models::Task],
    since: &str,
) -> Progress {
    let id = service.id.clone().unwrap_or_default();
    let template = comparable(service.spec.as_ref().and_then(|s| s.task_template.clone()));
    // A task runs the current spec when its copy of the task template matches.
    let current = |task: &&bollard::models::Task| {
        task.service_id.as_deref() == Some(id.as_str()) && comparable(task.spec.clone()) == template
    };
    let running = tasks
        .iter()
        .filter(current)
        .filter(|t| {
            t.desired_state == Some(TaskState::RUNNING)
                && t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
        })
        .count() as u64;
    let failed_since_start = |task: &&bollard::models::Task| {
        task.service_id.as_deref() == Some(id.as_str())
            && matches!(
                task.status.as_ref().and_then(|s| s.state),
                Some(TaskState::FAILED | TaskState::REJECTED)
            )
            && task.created_at.as_deref().is_some_and(|at| at >= since)
    };
    let failed: Vec<&bollard::models::Task> = tasks
        .iter()
        .filter(current)
        .filter(failed_since_start)
        .collect();
    // The engine's own words for the latest failure: "No such image: ...", an exit code.
    let last_error = tasks
        .iter()
        .filter(failed_since_start)
        .filter_map(|t| Some((t.updated_at.clone()?, t.status.as_ref()?.err.clone()?)))
        .max()
        .map(|(_, err)| format!(" (task error: {err})"))
        .unwrap_or_default();
    let desired = service
        .service_status
        .as_ref()
        .and_then(|s| s.desired_tasks)
        .unwrap_or(0);
    let state = match state_of(service, &failed, &last_error) {
        Some(failed) => failed,
        None if running == desired && (desired > 0 || asks_for_none(service)) => {
            ServiceState::Converged
        }
        None => ServiceState::Converging,
    };
    let pending_reason = tasks
        .iter()
        .filter(|t| t.service_id.as_deref() == Some(id.as_str()))
        .filter(|t| t.desired_state == Some(TaskState::RUNNING))
        .find_map(|t| t.status.as_ref()?.err.clone());
    Progress {
        service: name.to_string(),
        running,
        desired,
        state,
        pending_reason,
    }
}

/// A failed rollout, too many failed tasks of the current spec, or an update in progress;
/// otherwise the task counts tell (`None`).
fn state_of(
    service: &bollard::models::Service,
    failed: &[&bollard::models::Task],
    last_error: &str,
) -> Option<ServiceState> {
    let rollout = Rollout::of(service);
    let update_message = rollout::message(service).unwrap_or_default();
    match rollout {
        Rollout::Paused => Some(ServiceState::Failed(format!(
            "rollout paused: {update_message}{last_error}"
        ))),
        Rollout::RolledBack => Some(ServiceState::Failed(format!(
            "rollout rolled back: {update_message}{last_error}"
        ))),
        _ if failed.len() >= FAILED_TASKS_LIMIT => {
            let reason = failed
                .iter()
                .filter_map(|t| t.status.as_ref()?.err.clone())
                .next_back()
                .unwrap_or_else(|| "tasks keep failing".into());
            Some(ServiceState::Failed(format!(
                "{} tasks failed: {reason}",
                failed.len()
            )))
        }
        Rollout::Updating => Some(ServiceState::Converging),
        Rollout::Settled => None,
    }
}

/// A new global service desires 0 tasks until the orchestrator has placed them: 0 of 0
/// is convergence only for a service that asks for no replicas.
fn asks_for_none(service: &bollard::models::Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.mode.as_ref())
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas)
        == Some(0)
}

/// A task template as compared between a service and its tasks: the engine fills in
/// `Runtime` on the service's copy only.
fn comparable(template: Option<bollard::models::TaskSpec>) -> serde_json::Value {
    let template = template.map(|t| bollard::models::TaskSpec { runtime: None, ..t });
    serde_json::to_value(template).unwrap_or_default()
}
