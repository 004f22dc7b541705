//! `shoal import swarm`: desired-state written from what runs (services, the networks
//! they use, node labels), each service read back the way the diff reads it, so `shoal
//! plan` on the result shows only adoptions with no field changed. Pure: a function of
//! `Live`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use bollard::models::NodeSpecAvailabilityEnum;

use super::{Imported, ImportedResource, ImportedSpec, Note};
use crate::diff::{network, observed};
use crate::observe::live::Live;
use crate::resources::node::{Availability, NodeSpec};
use crate::resources::service::looks_secret;
use crate::swarm::labels;

/// Which services to import.
#[derive(Clone, Debug, Default)]
pub enum Selection {
    /// Every service.
    #[default]
    All,
    /// The services `docker stack deploy ... NAME` made.
    Stack(String),
    /// These services.
    Services(Vec<String>),
}

const STACK_NAMESPACE: &str = "com.docker.stack.namespace";

/// The resources of the selected services, their networks and the labelled nodes.
pub fn from_live(live: &Live, selection: &Selection) -> Imported {
    let network_names = live.network_names();
    let mut imported = Imported::default();
    let mut networks = BTreeSet::new();
    for service in &live.services {
        let Some(spec) = service.spec.as_ref() else {
            continue;
        };
        let name = spec.name.clone().unwrap_or_default();
        if !selected(selection, &name, spec.labels.as_ref()) {
            continue;
        }
        let mut desired = observed::service(spec, &network_names);
        desired.env.retain(|var| {
            let secret =
                looks_secret(&var.name) && var.value.as_ref().is_some_and(|v| !v.is_empty());
            if secret {
                imported.notes.push(note(
                    &name,
                    &format!("env.{}", var.name),
                    "looks secret and holds a literal value, which shoal keeps out of git: not \
                     imported; put it in a swarm secret and point the image at its file",
                ));
            }
            !secret
        });
        networks.extend(desired.networks.iter().cloned());
        imported.resources.push(ImportedResource {
            origin: format!("the running service {name}"),
            name,
            spec: ImportedSpec::Service(Box::new(desired)),
            adopt: true,
        });
    }
    for name in networks {
        let Some(live_network) = live.network(&name) else {
            continue;
        };
        imported.resources.push(ImportedResource {
            origin: format!("the network {name}"),
            name,
            spec: ImportedSpec::Network(network::observed(live_network)),
            adopt: true,
        });
    }
    imported.resources.extend(labelled_nodes(live));
    imported
}

fn selected(
    selection: &Selection,
    name: &str,
    labels: Option<&std::collections::HashMap<String, String>>,
) -> bool {
    match selection {
        Selection::All => true,
        Selection::Stack(stack) => labels.and_then(|l| l.get(STACK_NAMESPACE)) == Some(stack),
        Selection::Services(names) => names.iter().any(|n| n == name),
    }
}

/// A Node resource for each node with labels of its own (constraints read them).
fn labelled_nodes(live: &Live) -> Vec<ImportedResource> {
    live.nodes
        .iter()
        .filter_map(|node| {
            let hostname = node.description.as_ref()?.hostname.clone()?;
            let spec = node.spec.as_ref()?;
            let node_labels: BTreeMap<String, String> = spec
                .labels
                .iter()
                .flatten()
                .filter(|(key, _)| key.as_str() != labels::NODE_LABELS)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let availability = match spec.availability {
                Some(NodeSpecAvailabilityEnum::PAUSE) => Availability::Pause,
                Some(NodeSpecAvailabilityEnum::DRAIN) => Availability::Drain,
                _ => Availability::Active,
            };
            if node_labels.is_empty() && availability == Availability::Active {
                return None;
            }
            Some(ImportedResource {
                origin: format!("the labels of node {hostname}"),
                name: hostname,
                spec: ImportedSpec::Node(NodeSpec {
                    hostname: None,
                    labels: node_labels,
                    availability,
                    memory: None,
                }),
                adopt: false,
            })
        })
        .collect()
}

fn note(service: &str, field: &str, message: &str) -> Note {
    Note {
        file: PathBuf::from(format!("service {service}")),
        line: 0,
        field: field.to_string(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests;
