//! The diff of a Network: its few fields, read back from the engine without shoal's
//! bookkeeping labels. Pure.

use std::collections::BTreeMap;

use crate::resources::network::NetworkSpec;
use crate::swarm::labels;

/// The fields of a network that matter, as flat (path, value) pairs.
pub fn fields(spec: &NetworkSpec) -> BTreeMap<String, serde_json::Value> {
    let mut fields = BTreeMap::new();
    let value = serde_json::to_value(spec).expect("specs always serialize");
    super::flatten("", &value, &mut fields);
    fields
}

/// A live network read back as a spec, shoal's bookkeeping labels left out (desired-state
/// cannot hold them: validation reserves the prefix).
pub fn observed(network: &bollard::models::Network) -> NetworkSpec {
    NetworkSpec {
        driver: Default::default(),
        attachable: network.attachable.unwrap_or(false),
        internal: network.internal.unwrap_or(false),
        encrypted: network
            .options
            .as_ref()
            .is_some_and(|o| o.contains_key("encrypted")),
        labels: network
            .labels
            .iter()
            .flatten()
            .filter(|(k, _)| !k.starts_with(labels::PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}
