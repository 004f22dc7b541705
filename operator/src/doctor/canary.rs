//! The canary: a global service on one overlay (busybox httpd on every node), made for
//! one examination and removed after it. It carries the label `io.shoal.doctor=canary`
//! (and which examination made it), not shoal's managed-by label, so reconciles never
//! see it. One examination at a time: the next waits for it; one cut short leaves its
//! canaries, which the next removes once they are older than any examination lasts.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use bollard::Docker;
use bollard::models::{
    Limit, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, TaskSpec, TaskSpecContainerSpec,
    TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions};

use crate::agent::probe::{CANARY_PAGE, CANARY_PORT, CANARY_PREFIX};
use crate::swarm::engine::{EngineError, filter};

pub const LABEL: &str = "io.shoal.doctor";
/// Which examination made it (`HOST-PID-MILLIS`): each removes its own.
pub const EXAMINATION: &str = "io.shoal.doctor.examination";
/// Older than any examination lasts: left by one cut short.
const STALE_AFTER: Duration = Duration::from_secs(10 * 60);

/// The canary service of `network`.
pub fn name(network: &str) -> String {
    format!("{CANARY_PREFIX}{network}")
}

fn spec(network: &str, image: &str, examination: &str) -> ServiceSpec {
    ServiceSpec {
        name: Some(name(network)),
        labels: Some(HashMap::from([
            (LABEL.to_string(), "canary".to_string()),
            (EXAMINATION.to_string(), examination.to_string()),
        ])),
        mode: Some(ServiceSpecMode {
            global: Some(HashMap::new()),
            ..Default::default()
        }),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image.to_string()),
                // A page to fetch (httpd answers 404 without one), then httpd alone.
                command: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    format!(
                        "echo {CANARY_PAGE} >/tmp/index.html && exec httpd -f -p {CANARY_PORT} -h /tmp"
                    ),
                ]),
                // httpd as pid 1 ignores TERM: stop at once rather than after 10 s.
                stop_signal: Some("SIGKILL".into()),
                ..Default::default()
            }),
            resources: Some(TaskSpecResources {
                limits: Some(Limit {
                    memory_bytes: Some(16 << 20),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(network.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// How long the engines may take to remove a removed canary's tasks.
const GONE_TIMEOUT: Duration = Duration::from_secs(30);

/// The canary services, as (ID, examination, created at).
async fn list(docker: &Docker) -> Result<Vec<(String, String, Option<SystemTime>)>, EngineError> {
    let services = docker
        .list_services(Some(ListServicesOptions {
            filters: filter("label", &format!("{LABEL}=canary")),
            ..Default::default()
        }))
        .await
        .map_err(EngineError::call("listing canary services"))?;
    Ok(services
        .into_iter()
        .filter_map(|service| {
            let labels = service.spec.as_ref()?.labels.as_ref();
            let examination = labels.and_then(|l| l.get(EXAMINATION)).cloned();
            let created = service
                .created_at
                .as_deref()
                .and_then(|at| humantime::parse_rfc3339_weak(at).ok());
            Some((service.id?, examination.unwrap_or_default(), created))
        })
        .collect())
}

/// Removes the canaries of another examination that are older than any examination
/// lasts (one cut short: Ctrl-C, a crash), then waits at most `patience` while younger
/// ones exist (another examination under way: `shoal doctor` and `shoal run` on the
/// same swarm). False when one still runs.
pub async fn clear_the_way(docker: &Docker, patience: Duration) -> Result<bool, EngineError> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let now = SystemTime::now();
        let (stale, active): (Vec<_>, Vec<_>) = list(docker).await?.into_iter().partition(|c| {
            c.2.is_none_or(|created| now.duration_since(created).unwrap_or_default() > STALE_AFTER)
        });
        let stale: Vec<String> = stale.into_iter().map(|c| c.0).collect();
        remove_services(docker, &stale).await?;
        if active.is_empty() {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Removes the canaries of `examination`.
pub async fn remove(docker: &Docker, examination: &str) -> Result<(), EngineError> {
    let ours: Vec<String> = list(docker)
        .await?
        .into_iter()
        .filter(|c| c.1 == examination)
        .map(|c| c.0)
        .collect();
    remove_services(docker, &ours).await
}

/// Removes the services, then waits until their tasks are gone: a canary made again at
/// once must not meet the last one's containers and addresses.
async fn remove_services(docker: &Docker, ids: &[String]) -> Result<(), EngineError> {
    for id in ids {
        docker
            .delete_service(id)
            .await
            .map_err(EngineError::call("removing a canary service"))?;
    }
    let deadline = tokio::time::Instant::now() + GONE_TIMEOUT;
    while !ids.is_empty() && tokio::time::Instant::now() < deadline {
        let tasks = docker
            .list_tasks(None::<ListTasksOptions>)
            .await
            .map_err(EngineError::call("listing tasks"))?;
        if !tasks
            .iter()
            .any(|t| t.service_id.as_ref().is_some_and(|s| ids.contains(s)))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// The image as the nodes should start it, the same on every node: pinned to what this
/// engine holds, by its registry digest (as `docker service create` pins it), or, for an
/// image no registry knows (loaded by hand, as in the lab), by its ID.
async fn pinned(docker: &Docker, image: &str) -> String {
    match docker.inspect_image(image).await {
        Ok(inspect) => inspect
            .repo_digests
            .and_then(|digests| digests.into_iter().next())
            .or(inspect.id)
            .unwrap_or_else(|| image.to_string()),
        Err(_) => image.to_string(),
    }
}

/// Creates the canary of each network.
pub async fn create(
    docker: &Docker,
    networks: &[String],
    image: &str,
    examination: &str,
) -> Result<(), EngineError> {
    let image = pinned(docker, image).await;
    let image = image.as_str();
    for network in networks {
        docker
            .create_service(spec(network, image, examination), None)
            .await
            .map_err(EngineError::call(format!(
                "creating the canary on {network}"
            )))?;
    }
    Ok(())
}

/// Waits (at most `timeout`) until the canary of each network runs on each of `nodes`
/// (node ID -> hostname); returns, per network, the nodes where it does not, and why.
pub async fn wait_running(
    docker: &Docker,
    networks: &[String],
    nodes: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, EngineError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut problems: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for network in networks {
            let tasks = docker
                .list_tasks(Some(ListTasksOptions {
                    filters: filter("service", &name(network)),
                }))
                .await
                .map_err(EngineError::call("listing canary tasks"))?;
            for (id, hostname) in nodes {
                let on_node: Vec<_> = tasks
                    .iter()
                    .filter(|t| t.node_id.as_deref() == Some(id.as_str()))
                    .collect();
                let running = on_node
                    .iter()
                    .any(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING));
                if !running {
                    let why = on_node
                        .iter()
                        .filter_map(|t| t.status.as_ref())
                        .map(|s| match (&s.err, s.state) {
                            (Some(err), _) => err.clone(),
                            (None, Some(state)) => format!("its task is {state}"),
                            (None, None) => "no task".into(),
                        })
                        .next_back()
                        .unwrap_or_else(|| "no task was placed there".into());
                    problems
                        .entry(network.clone())
                        .or_default()
                        .insert(hostname.clone(), why);
                }
            }
        }
        if problems.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(problems);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
