//! The plan: every change that would make the live swarm match desired-state, in the
//! order it must be made, with the ones that cannot be made yet and why. Pure: a function
//! of (Desired, Live).
//!
//! Order: node labels and availability, then networks, then services; removals come last,
//! services before the networks they use.

pub mod bind;
pub mod blocked;
pub mod data;
pub mod depends;
pub mod gluster;
pub mod render;
pub mod storage_gate;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

pub use blocked::Blocked;

use crate::diff::{self, FieldChange, observed};
use crate::gluster::ops::VolumeOp;
use crate::observe::live::Live;
use crate::resources::node::Availability;
use crate::resources::{Desired, Kind, Resource};
use crate::swarm::labels;
use crate::swarm::render::{self as engine_render, RenderError};

/// What a change does to its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// Delete and create again: the engine cannot make this change in place.
    Replace,
    /// Take over a live service shoal did not create (`shoal.io/adopt: "true"`): written
    /// in place with shoal's labels, and the fields desired-state changes.
    Adopt,
}

/// One change to one object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    /// Field-level differences (for creates: every field set).
    pub fields: Vec<FieldChange>,
    /// Whether the change replaces running tasks (a TaskTemplate change for services).
    pub restarts_tasks: bool,
    /// Why the change cannot be made now; blocked changes are shown, never applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Blocked>,
    /// For a GlusterVolume, the gluster commands that make the change, in order; empty
    /// for other kinds. `fields` describe the same change to people, and only they are
    /// shown.
    #[serde(skip)]
    pub volume_ops: Vec<VolumeOp>,
}

/// A live object shoal does not manage: shown, never changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    pub kind: Kind,
    pub name: String,
}

/// A desired resource no reconciler handles yet, so it is neither changed nor blocking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotManaged {
    pub kind: Kind,
    pub name: String,
    pub reason: String,
}

/// Everything `apply` would do.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub unmanaged: Vec<Unmanaged>,
    pub not_managed: Vec<NotManaged>,
    /// Health of every GlusterVolume that exists.
    pub storage: Vec<gluster::StorageHealth>,
    /// Every volume's mount on every node, from the agents (empty when not asked).
    pub mounts: Vec<storage_gate::NodeMount>,
    /// Memory per node and what the loss of each would leave without a place.
    pub capacity: crate::heal::capacity::Capacity,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.changes
            .iter()
            .filter(|c| c.action == action && c.blocked.is_none())
            .count()
    }

    /// How many changes cannot be made now.
    pub fn blocked(&self) -> usize {
        self.changes.iter().filter(|c| c.blocked.is_some()).count()
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// `Plan: 1 to create, 2 to update, 0 to delete.` (replacements count as both a
    /// create and a delete, as in Terraform).
    pub fn summary(&self) -> String {
        let replace = self.count(Action::Replace);
        let mut summary = format!(
            "Plan: {} to create, {} to update, {} to delete.",
            self.count(Action::Create) + replace,
            self.count(Action::Update),
            self.count(Action::Delete) + replace
        );
        let adopt = self.count(Action::Adopt);
        if adopt > 0 {
            summary.push_str(&format!(" {adopt} to adopt."));
        }
        let blocked = self.blocked();
        if blocked > 0 {
            summary.push_str(&format!(" {blocked} blocked."));
        }
        summary
    }
}

/// Computes the plan that takes `live` to `desired`.
pub fn plan(desired: &Desired, live: &Live) -> Plan {
    // Services are compared with the Secret and Config versions they should use.
    let desired = &*bind::bind(desired, live);
    let mut plan = Plan::default();
    plan_nodes(desired, live, &mut plan);
    plan_networks(desired, live, &mut plan);
    match &live.gluster {
        Some(Ok(pool)) => {
            let (changes, health) = gluster::plan(desired, pool);
            plan.changes.extend(changes);
            plan.storage = health;
            if let Some(agents) = &live.agents {
                plan.mounts = storage_gate::node_mounts(desired, agents);
            }
        }
        unobserved => {
            let reason = match unobserved {
                Some(Err(error)) => format!("GlusterFS could not be observed: {error}"),
                _ => "GlusterFS was not observed".to_string(),
            };
            for (resource, _) in desired.gluster_volumes() {
                plan.not_managed.push(NotManaged {
                    kind: Kind::GlusterVolume,
                    name: resource.name().to_string(),
                    reason: reason.clone(),
                });
            }
        }
    }
    data::plan_data(desired, live, &mut plan);
    plan_services(desired, live, &mut plan);
    plan_removals(desired, live, &mut plan);
    data::plan_data_removals(desired, live, &mut plan);
    depends::gate(desired, live, &mut plan);
    plan.capacity = crate::heal::capacity::assess(desired, live);
    plan
}

fn plan_nodes(desired: &Desired, live: &Live, plan: &mut Plan) {
    for (resource, spec) in desired.nodes() {
        let hostname = spec.hostname.as_deref().unwrap_or(resource.name());
        let Some(node) = live.node_by_hostname(hostname) else {
            plan.changes.push(Change {
                kind: Kind::Node,
                name: resource.name().to_string(),
                action: Action::Update,
                fields: Vec::new(),
                restarts_tasks: false,
                blocked: Some(Blocked::NoSuchNode {
                    hostname: hostname.to_string(),
                }),
                volume_ops: Vec::new(),
            });
            continue;
        };
        let fields = diff::node::changes(spec, node.spec.as_ref());
        if !fields.is_empty() {
            plan.changes.push(Change {
                kind: Kind::Node,
                name: resource.name().to_string(),
                action: Action::Update,
                // Drain moves tasks away: it restarts them elsewhere.
                restarts_tasks: spec.availability == Availability::Drain
                    && fields.iter().any(|f| f.path == "availability"),
                fields,
                blocked: None,
                volume_ops: Vec::new(),
            });
        }
    }
}

fn plan_networks(desired: &Desired, live: &Live, plan: &mut Plan) {
    for (resource, spec) in desired.networks() {
        let name = resource.name().to_string();
        let desired_fields = diff::network::fields(spec);
        let Some(network) = live.network(&name) else {
            plan.changes.push(Change {
                kind: Kind::Network,
                name,
                action: Action::Create,
                fields: diff::changes(&BTreeMap::new(), &desired_fields),
                restarts_tasks: false,
                blocked: None,
                volume_ops: Vec::new(),
            });
            continue;
        };
        let adopted = resource.metadata.adopts() && network.driver.as_deref() == Some("overlay");
        if !adopted
            && (network.driver.as_deref() != Some("overlay")
                || !labels::is_managed(network.labels.as_ref()))
        {
            plan.changes.push(Change {
                kind: Kind::Network,
                name: name.clone(),
                action: Action::Update,
                fields: Vec::new(),
                restarts_tasks: false,
                blocked: Some(Blocked::NameTaken {
                    kind: Kind::Network,
                    name,
                }),
                volume_ops: Vec::new(),
            });
            continue;
        }
        let fields = diff::changes(
            &diff::network::fields(&diff::network::observed(network)),
            &desired_fields,
        );
        if fields.is_empty() {
            continue;
        }
        if !labels::is_managed(network.labels.as_ref()) {
            // Adopted: a network's labels cannot change, so it stays unlabelled, and
            // replacing what shoal did not create is not shoal's to do.
            plan.changes.push(Change {
                kind: Kind::Network,
                name: name.clone(),
                action: Action::Replace,
                fields,
                restarts_tasks: false,
                blocked: Some(Blocked::AdoptedNetworkDiffers { name }),
                volume_ops: Vec::new(),
            });
            continue;
        }
        let users = services_using_network(live, network.id.as_deref().unwrap_or_default());
        plan.changes.push(Change {
            kind: Kind::Network,
            name,
            action: Action::Replace,
            fields,
            restarts_tasks: false,
            blocked: (!users.is_empty()).then_some(Blocked::NetworkInUse { services: users }),
            volume_ops: Vec::new(),
        });
    }
}

fn services_using_network(live: &Live, network_id: &str) -> Vec<String> {
    live.services
        .iter()
        .filter_map(|s| s.spec.as_ref())
        .filter(|spec| {
            spec.task_template
                .as_ref()
                .and_then(|t| t.networks.as_ref())
                .into_iter()
                .flatten()
                .any(|n| n.target.as_deref() == Some(network_id))
        })
        .filter_map(|spec| spec.name.clone())
        .collect()
}

fn plan_services(desired: &Desired, live: &Live, plan: &mut Plan) {
    let network_names = live.network_names();
    let created = |kind: Kind| -> HashSet<String> {
        plan.changes
            .iter()
            .filter(|c| c.kind == kind && c.action == Action::Create && c.blocked.is_none())
            .map(|c| match kind {
                // A data creation names its resource; the service names the version.
                Kind::Secret | Kind::Config => {
                    desired.data_object(kind, &c.name).unwrap_or_default()
                }
                _ => c.name.clone(),
            })
            .collect()
    };
    let (created_networks, created_secrets, created_configs) = (
        created(Kind::Network),
        created(Kind::Secret),
        created(Kind::Config),
    );
    for (resource, spec) in desired.services() {
        let name = resource.name().to_string();
        let blocked = match engine_render::service(&name, spec, HashMap::new(), None, live) {
            Ok(_) => None,
            // A network this very plan creates first is not a blocker.
            Err(RenderError::MissingNetwork(network)) if created_networks.contains(&network) => {
                None
            }
            Err(RenderError::MissingSecret(secret)) if created_secrets.contains(&secret) => None,
            Err(RenderError::MissingConfig(config)) if created_configs.contains(&config) => None,
            Err(RenderError::MissingSecret(name))
                if desired.find(Kind::Secret, &name).is_some() =>
            {
                Some(Blocked::DataUnreadable {
                    why: format!("Secret/{name} has no version to use"),
                    in_use: None,
                })
            }
            Err(RenderError::MissingConfig(name))
                if desired.find(Kind::Config, &name).is_some() =>
            {
                Some(Blocked::DataUnreadable {
                    why: format!("Config/{name} has no version to use"),
                    in_use: None,
                })
            }
            Err(error) => Some(Blocked::Render(error)),
        }
        .or_else(|| storage_gate::storage_gate(desired, live, spec));
        let desired_fields = flat(&diff::canonical(spec));
        match live.service(&name) {
            None => plan.changes.push(Change {
                kind: Kind::Service,
                name,
                action: Action::Create,
                fields: diff::changes(&BTreeMap::new(), &desired_fields),
                restarts_tasks: false,
                blocked,
                volume_ops: Vec::new(),
            }),
            Some(service)
                if !labels::is_managed(service.spec.as_ref().and_then(|s| s.labels.as_ref()))
                    && resource.metadata.adopts() =>
            {
                let live_spec =
                    observed::service(&service.spec.clone().unwrap_or_default(), &network_names);
                let fields = diff::service(&live_spec, spec);
                let blocked = blocked.or_else(|| {
                    (live_spec.mode != spec.mode)
                        .then(|| Blocked::AdoptModeDiffers { name: name.clone() })
                });
                plan.changes.push(Change {
                    kind: Kind::Service,
                    name,
                    action: Action::Adopt,
                    restarts_tasks: fields.iter().any(|f| diff::restarts_tasks(&f.path)),
                    fields,
                    blocked,
                    volume_ops: Vec::new(),
                });
            }
            Some(service)
                if !labels::is_managed(service.spec.as_ref().and_then(|s| s.labels.as_ref())) =>
            {
                plan.changes.push(Change {
                    kind: Kind::Service,
                    name: name.clone(),
                    action: Action::Update,
                    fields: Vec::new(),
                    restarts_tasks: false,
                    blocked: Some(Blocked::NameTaken {
                        kind: Kind::Service,
                        name,
                    }),
                    volume_ops: Vec::new(),
                });
            }
            Some(service) => {
                let live_spec =
                    observed::service(&service.spec.clone().unwrap_or_default(), &network_names);
                let fields = diff::service(&live_spec, spec);
                if fields.is_empty() {
                    continue;
                }
                let action = if live_spec.mode != spec.mode {
                    Action::Replace
                } else {
                    Action::Update
                };
                plan.changes.push(Change {
                    kind: Kind::Service,
                    name,
                    action,
                    restarts_tasks: action == Action::Replace
                        || fields.iter().any(|f| diff::restarts_tasks(&f.path)),
                    fields,
                    blocked,
                    volume_ops: Vec::new(),
                });
            }
        }
    }
}

fn flat(map: &serde_json::Map<String, serde_json::Value>) -> BTreeMap<String, serde_json::Value> {
    let mut fields = BTreeMap::new();
    diff::flatten("", &serde_json::Value::Object(map.clone()), &mut fields);
    fields
}

/// Managed objects absent from desired-state are deleted; unmanaged ones are listed.
fn plan_removals(desired: &Desired, live: &Live, plan: &mut Plan) {
    let wanted = |kind: Kind, name: &str| {
        desired
            .resources
            .iter()
            .any(|r: &Resource| r.kind() == kind && r.name() == name)
    };
    let mut services: Vec<_> = live
        .services
        .iter()
        .filter_map(|s| s.spec.as_ref())
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    for spec in services {
        let name = spec.name.clone().unwrap_or_default();
        if !labels::is_managed(spec.labels.as_ref()) {
            if !wanted(Kind::Service, &name) {
                plan.unmanaged.push(Unmanaged {
                    kind: Kind::Service,
                    name,
                });
            }
        } else if !wanted(Kind::Service, &name) {
            plan.changes.push(Change {
                kind: Kind::Service,
                name,
                action: Action::Delete,
                fields: Vec::new(),
                restarts_tasks: true,
                blocked: None,
                volume_ops: Vec::new(),
            });
        }
    }
    let deleted_services: HashSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.kind == Kind::Service && c.action == Action::Delete)
        .map(|c| c.name.as_str())
        .collect();
    let mut network_deletes = Vec::new();
    for network in &live.networks {
        if network.scope.as_deref() != Some("swarm") || network.ingress == Some(true) {
            continue;
        }
        let name = network.name.clone().unwrap_or_default();
        if wanted(Kind::Network, &name) {
            continue;
        }
        if !labels::is_managed(network.labels.as_ref()) {
            plan.unmanaged.push(Unmanaged {
                kind: Kind::Network,
                name,
            });
            continue;
        }
        let users: Vec<String> =
            services_using_network(live, network.id.as_deref().unwrap_or_default())
                .into_iter()
                .filter(|s| !deleted_services.contains(s.as_str()))
                .collect();
        network_deletes.push(Change {
            kind: Kind::Network,
            name,
            action: Action::Delete,
            fields: Vec::new(),
            restarts_tasks: false,
            blocked: (!users.is_empty()).then_some(Blocked::StillInUse { services: users }),
            volume_ops: Vec::new(),
        });
    }
    network_deletes.sort_by(|a, b| a.name.cmp(&b.name));
    plan.changes.extend(network_deletes);
    plan.unmanaged
        .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
}

/// Why a plan's deletions must not run without `--allow-mass-prune`, if they must not.
pub fn prune_refusal(plan: &Plan, desired: &Desired, live: &Live) -> Option<String> {
    let deletes = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete && c.kind == Kind::Service)
        .count();
    if deletes == 0 {
        return None;
    }
    if desired.resources.is_empty() {
        return Some(format!(
            "desired-state is empty and would delete all {deletes} managed service(s): refusing \
             (an empty checkout is more often a mistake than a wish); pass --allow-mass-prune \
             if you mean it"
        ));
    }
    let managed = live
        .services
        .iter()
        .filter(|s| labels::is_managed(s.spec.as_ref().and_then(|spec| spec.labels.as_ref())))
        .count();
    (deletes * 2 > managed).then(|| {
        format!(
            "{deletes} of {managed} managed services would be deleted, more than half: refusing; \
             pass --allow-mass-prune if you mean it"
        )
    })
}

#[cfg(test)]
mod tests;
