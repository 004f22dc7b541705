//! The lever of `docker service update --force`: the service's own spec written back with
//! its task template's `ForceUpdate` counter one higher, so that swarm replaces every task
//! under the service's updateConfig and places each new one as if anew. Nothing else of
//! the spec changes (it is the engine's, read just before), so the diff sees no drift.

use backon::Retryable;
use bollard::Docker;
use bollard::query_parameters::{InspectServiceOptions, UpdateServiceOptions};

use crate::swarm::apply::conflict_backoff;
use crate::swarm::engine::EngineError;

/// Force-updates `name`; returns the counter its new tasks carry.
pub async fn force_update(docker: &Docker, name: &str) -> Result<u64, EngineError> {
    (|| once(docker, name))
        .retry(conflict_backoff())
        .when(EngineError::is_conflict)
        .await
}

/// One attempt: read the spec and its version, bump the counter, write.
async fn once(docker: &Docker, name: &str) -> Result<u64, EngineError> {
    let current = docker
        .inspect_service(name, None::<InspectServiceOptions>)
        .await
        .map_err(EngineError::call(format!("reading service {name}")))?;
    let version = current.version.and_then(|v| v.index).unwrap_or_default();
    let mut spec = current.spec.unwrap_or_default();
    let template = spec.task_template.get_or_insert_default();
    let force_update = template.force_update.unwrap_or(0) + 1;
    template.force_update = Some(force_update);
    docker
        .update_service(
            name,
            spec,
            UpdateServiceOptions {
                version: version as i32,
                ..Default::default()
            },
            None,
        )
        .await
        .map_err(EngineError::call(format!("force-updating service {name}")))?;
    Ok(force_update)
}
