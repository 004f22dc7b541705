//! The labels shoal keeps on the swarm objects it manages. They sit on the service (or
//! network, node) itself, never on its containers: a changing container label would
//! restart every task.

use std::collections::HashMap;

/// `shoal` on every object shoal created; objects without it are never changed.
pub const MANAGED_BY: &str = "io.shoal.managed-by";
/// The resource's name in desired-state.
pub const RESOURCE: &str = "io.shoal.resource";
/// A hash of the canonical desired spec last applied: a cheap "is this mine and current?".
pub const SPEC_HASH: &str = "io.shoal.spec-hash";
/// The source revision (git commit) last applied, when known.
pub const REVISION: &str = "io.shoal.revision";
/// The health check last applied, as JSON. The engine returns it under the key
/// `Healthcheck`, which bollard's models (following the API's swagger, `HealthCheck`) do
/// not read; this label is how shoal reads back what it wrote.
pub const HEALTHCHECK: &str = "io.shoal.healthcheck";
/// On nodes: the label keys shoal set, so it removes only those it owns.
pub const NODE_LABELS: &str = "io.shoal.node-labels";

/// On secrets and configs: where the data came from (`generate` matters: such a value
/// exists nowhere else).
pub const DATA_SOURCE: &str = "io.shoal.data-source";

pub const MANAGER: &str = "shoal";
pub const PREFIX: &str = "io.shoal.";

/// Whether a swarm object's labels mark it as managed by shoal.
pub fn is_managed(labels: Option<&HashMap<String, String>>) -> bool {
    labels
        .and_then(|labels| labels.get(MANAGED_BY))
        .is_some_and(|value| value == MANAGER)
}

/// The bookkeeping labels of a managed object.
pub fn managed(name: &str, spec_hash: &str, revision: Option<&str>) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (MANAGED_BY.to_string(), MANAGER.to_string()),
        (RESOURCE.to_string(), name.to_string()),
        (SPEC_HASH.to_string(), spec_hash.to_string()),
    ]);
    if let Some(revision) = revision {
        labels.insert(REVISION.to_string(), revision.to_string());
    }
    labels
}
