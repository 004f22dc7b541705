//! Planning `Secret` and `Config` resources. Swarm objects of this kind cannot change:
//! each content is a version of its own (`<name>-<hash8>`), created when desired-state
//! wants it; services move to it by their own update (binding, `plan::bind`); an old
//! version is removed once no service names it, or, when tasks still run with it, once
//! more than `keep` newer old ones exist. A generated secret whose resource is gone is
//! never removed: its value exists nowhere else. Pure.

use std::collections::BTreeMap;

use bollard::models::{TaskSpecContainerSpec, TaskState};

use crate::diff::FieldChange;
use crate::observe::live::Live;
use crate::resources::data::{self, Resolved, SourceKind};
use crate::resources::{DataSpec, Desired, Kind};
use crate::swarm::labels;

use super::{Action, Blocked, Change, Plan};

/// A version of a Secret or Config resource, as swarm lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataObject<'a> {
    pub kind: Kind,
    /// The object's name (`<resource>-<hash8>`).
    pub name: &'a str,
    pub id: &'a str,
    /// The resource it is a version of.
    pub resource: &'a str,
    /// Swarm's version index at creation: newer objects have higher ones.
    pub index: u64,
    pub generated: bool,
}

/// Every secret and config shoal made as a version of a resource.
pub fn managed_objects(live: &Live) -> impl Iterator<Item = DataObject<'_>> {
    let secrets = live.secrets.iter().filter_map(|s| {
        let spec = s.spec.as_ref()?;
        object(
            Kind::Secret,
            spec.name.as_deref()?,
            s.id.as_deref()?,
            spec.labels.as_ref(),
            s.version.as_ref().and_then(|v| v.index),
        )
    });
    let configs = live.configs.iter().filter_map(|c| {
        let spec = c.spec.as_ref()?;
        object(
            Kind::Config,
            spec.name.as_deref()?,
            c.id.as_deref()?,
            spec.labels.as_ref(),
            c.version.as_ref().and_then(|v| v.index),
        )
    });
    secrets.chain(configs)
}

fn object<'a>(
    kind: Kind,
    name: &'a str,
    id: &'a str,
    labels: Option<&'a std::collections::HashMap<String, String>>,
    index: Option<u64>,
) -> Option<DataObject<'a>> {
    if !labels::is_managed(labels) {
        return None;
    }
    let labels = labels?;
    let resource = labels.get(labels::RESOURCE)?.as_str();
    data::is_version_of(name, resource).then(|| DataObject {
        kind,
        name,
        id,
        resource,
        index: index.unwrap_or(0),
        generated: labels
            .get(labels::DATA_SOURCE)
            .is_some_and(|s| s == "generate"),
    })
}

/// The newest version shoal made of resource `kind/name`, if any.
pub fn newest_version<'a>(live: &'a Live, kind: Kind, name: &str) -> Option<&'a str> {
    managed_objects(live)
        .filter(|o| o.kind == kind && o.resource == name)
        .max_by_key(|o| o.index)
        .map(|o| o.name)
}

/// Creations of the versions desired-state wants, and the resources whose data cannot
/// be read (blocked: the version in use stays).
pub fn plan_data(desired: &Desired, live: &Live, plan: &mut Plan) {
    for (resource, spec) in desired.data() {
        let (kind, name) = (resource.kind(), resource.name().to_string());
        let (action, fields, blocked) = match (&spec.resolved, spec.resolved.object_name(&name)) {
            (_, Some(object)) if exists(live, kind, &object) => continue,
            (_, Some(object)) => (Action::Create, created_fields(spec, &object), None),
            (Resolved::Failed(why), None) => {
                let in_use = newest_version(live, kind, &name).map(str::to_string);
                let blocked = Blocked::DataUnreadable {
                    why: why.clone(),
                    in_use,
                };
                (Action::Update, Vec::new(), Some(blocked))
            }
            (_, None) => continue,
        };
        plan.changes.push(Change {
            kind,
            name,
            action,
            fields,
            restarts_tasks: false,
            blocked,
            volume_ops: Vec::new(),
        });
    }
}

/// What a creation shows: the object and where its data comes from; the data itself
/// at most as a hash.
fn created_fields(spec: &DataSpec, object: &str) -> Vec<FieldChange> {
    let set = |path: &str, value: String| FieldChange {
        path: path.into(),
        from: None,
        to: Some(value),
    };
    let source = match spec.sources().first() {
        Some(SourceKind::File) => format!("file {}", spec.file.as_deref().unwrap_or_default()),
        Some(SourceKind::FromFile) => format!(
            "host file {}",
            spec.from_file.clone().unwrap_or_default().display()
        ),
        Some(SourceKind::Generate) => format!(
            "generated, {} characters",
            spec.generate.as_ref().map_or(0, |g| g.length)
        ),
        Some(SourceKind::Sops) => format!(
            "sops {}",
            spec.sops.as_ref().map_or("", |s| s.file.as_str())
        ),
        Some(SourceKind::Age) => format!("age {}", spec.age.as_deref().unwrap_or_default()),
        None => "unknown".into(),
    };
    vec![set("object", object.to_string()), set("data", source)]
}

/// Old versions to remove: those no service names any more, and those only tasks still
/// run with beyond the `keep` newest.
pub fn plan_data_removals(desired: &Desired, live: &Live, plan: &mut Plan) {
    let mut by_resource: BTreeMap<(Kind, &str), Vec<DataObject>> = BTreeMap::new();
    for object in managed_objects(live) {
        by_resource
            .entry((object.kind, object.resource))
            .or_default()
            .push(object);
    }
    for ((kind, resource), mut versions) in by_resource {
        let wanted = desired.find(kind, resource);
        let current = desired.data_object(kind, resource);
        let keep = match wanted.map(|r| &r.spec) {
            Some(crate::resources::Spec::Secret(spec) | crate::resources::Spec::Config(spec)) => {
                spec.keep() as usize
            }
            _ => 0,
        };
        versions.sort_by_key(|o| std::cmp::Reverse(o.index));
        let mut kept_for_tasks = 0;
        for object in versions {
            if current.as_deref() == Some(object.name) || (current.is_none() && wanted.is_some()) {
                // The version desired-state wants, or, while its data cannot be read, every
                // version: the one in use stays.
                continue;
            }
            let services = services_naming(live, object.kind, object.id);
            let tasks = running_tasks_with(live, object.kind, object.id);
            let blocked = if !services.is_empty() {
                Some(Blocked::VersionInUse { services, tasks })
            } else if tasks > 0 && kept_for_tasks < keep {
                kept_for_tasks += 1;
                Some(Blocked::VersionInUse {
                    services: Vec::new(),
                    tasks,
                })
            } else if object.generated && wanted.is_none() {
                Some(Blocked::GeneratedSecretKept {
                    object: object.name.to_string(),
                })
            } else {
                None
            };
            plan.changes.push(Change {
                kind,
                name: object.name.to_string(),
                action: Action::Delete,
                fields: Vec::new(),
                restarts_tasks: false,
                blocked,
                volume_ops: Vec::new(),
            });
        }
    }
}

/// The services whose spec names the secret or config `id`.
fn services_naming(live: &Live, kind: Kind, id: &str) -> Vec<String> {
    live.services
        .iter()
        .filter_map(|s| s.spec.as_ref())
        .filter(|spec| {
            let container = spec
                .task_template
                .as_ref()
                .and_then(|t| t.container_spec.as_ref());
            container.is_some_and(|c| mounts(c, kind, id))
        })
        .filter_map(|spec| spec.name.clone())
        .collect()
}

/// How many tasks meant to run have the secret or config `id` mounted.
fn running_tasks_with(live: &Live, kind: Kind, id: &str) -> usize {
    live.tasks
        .iter()
        .filter(|t| t.desired_state == Some(TaskState::RUNNING))
        .filter(|t| {
            let container = t.spec.as_ref().and_then(|s| s.container_spec.as_ref());
            container.is_some_and(|c| mounts(c, kind, id))
        })
        .count()
}

fn mounts(container: &TaskSpecContainerSpec, kind: Kind, id: &str) -> bool {
    match kind {
        Kind::Secret => container
            .secrets
            .iter()
            .flatten()
            .any(|s| s.secret_id.as_deref() == Some(id)),
        _ => container
            .configs
            .iter()
            .flatten()
            .any(|c| c.config_id.as_deref() == Some(id)),
    }
}

/// Whether the secret or config `name` exists.
pub fn exists(live: &Live, kind: Kind, name: &str) -> bool {
    match kind {
        Kind::Secret => live.secret_ids().contains_key(name),
        _ => live.config_ids().contains_key(name),
    }
}

#[cfg(test)]
mod tests;
