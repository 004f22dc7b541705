//! The diff of a Node: only the labels shoal declares (and those it set before), and the
//! availability. Pure.

use std::collections::{BTreeMap, HashSet};

use super::FieldChange;
use crate::resources::node::{Availability, NodeSpec};
use crate::swarm::labels;

/// Node labels are shared with people and other tools: shoal compares only the labels it
/// declares, plus the ones it set before and no longer declares (listed in a bookkeeping
/// label), which it removes.
pub fn changes(spec: &NodeSpec, live: Option<&bollard::models::NodeSpec>) -> Vec<FieldChange> {
    let live_labels = live.and_then(|s| s.labels.clone()).unwrap_or_default();
    let previously_owned: HashSet<&str> = live_labels
        .get(labels::NODE_LABELS)
        .map(|keys| keys.split(',').filter(|k| !k.is_empty()).collect())
        .unwrap_or_default();
    let mut fields = Vec::new();
    let keys: BTreeMap<&str, ()> = spec
        .labels
        .keys()
        .map(String::as_str)
        .chain(previously_owned.iter().copied())
        .map(|k| (k, ()))
        .collect();
    for key in keys.keys() {
        let from = live_labels.get(*key).cloned();
        let to = spec.labels.get(*key).cloned();
        if from != to {
            fields.push(FieldChange {
                path: format!("labels.{key}"),
                from,
                to,
            });
        }
    }
    let live_availability = live
        .and_then(|s| s.availability)
        .map(|a| a.to_string())
        .unwrap_or_else(|| "active".to_string());
    let desired_availability = match spec.availability {
        Availability::Active => "active",
        Availability::Pause => "pause",
        Availability::Drain => "drain",
    };
    if live_availability != desired_availability {
        fields.push(FieldChange {
            path: "availability".into(),
            from: Some(live_availability),
            to: Some(desired_availability.into()),
        });
    }
    fields
}
