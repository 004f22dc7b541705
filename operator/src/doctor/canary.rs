//! The canary: a global service on one overlay (busybox httpd on every node), made for
//! one examination and removed after it. It carries the label `io.shoal.doctor=canary`
//! and not shoal's managed-by label, so reconciles never see it; an examination cut
//! short leaves one that the next removes first.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    Limit, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, TaskSpec, TaskSpecContainerSpec,
    TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions};

use crate::agent::probe::{CANARY_PAGE, CANARY_PORT};
use crate::swarm::engine::{EngineError, filter};

pub const LABEL: &str = "io.shoal.doctor";
const PREFIX: &str = "shoal-doctor-";

/// The canary service of `network`.
pub fn name(network: &str) -> String {
    format!("{PREFIX}{network}")
}

fn spec(network: &str, image: &str) -> ServiceSpec {
    ServiceSpec {
        name: Some(name(network)),
        labels: Some(HashMap::from([(LABEL.to_string(), "canary".to_string())])),
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

/// Removes every canary service (of this examination, or left by one cut short), then
/// waits until their tasks are gone: a canary made again at once must not meet the
/// last one's containers and addresses.
pub async fn remove_all(docker: &Docker) -> Result<usize, EngineError> {
    let services = docker
        .list_services(Some(ListServicesOptions {
            filters: filter("label", &format!("{LABEL}=canary")),
            ..Default::default()
        }))
        .await
        .map_err(EngineError::call("listing canary services"))?;
    let ids: Vec<&str> = services.iter().filter_map(|s| s.id.as_deref()).collect();
    for id in &ids {
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
            .any(|t| t.service_id.as_deref().is_some_and(|s| ids.contains(&s)))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(services.len())
}

/// The image as the nodes should start it: pinned to what this engine holds, by its
/// registry digest (nodes that have it skip the pull) or, for an image no registry knows
/// (loaded by hand, as in the lab), by its ID. Named by tag, a node tries the registry
/// first on every start, which without one takes half a minute.
pub async fn pinned(docker: &Docker, image: &str) -> String {
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
pub async fn create(docker: &Docker, networks: &[String], image: &str) -> Result<(), EngineError> {
    let image = pinned(docker, image).await;
    let image = image.as_str();
    for network in networks {
        docker
            .create_service(spec(network, image), None)
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
