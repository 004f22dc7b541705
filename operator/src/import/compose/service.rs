//! One compose service as a shoal Service: every key is carried over, or said to be
//! ignored by Swarm itself, or said not to be expressible in shoal yet; none is dropped
//! silently.

use serde_json::{Map, Value};

use super::deploy;
use super::load::Loaded;
use super::merge::scalar_text;
use super::names::{Names, STACK_IMAGE, STACK_NAMESPACE, string_map};
use super::service_fields;
use crate::import::{ImportedResource, ImportedSpec, Note};
use crate::resources::quantity::Duration;
use crate::resources::service::{ServiceMode, ServiceSpec};

/// Keys `docker stack deploy` itself ignores, and what to do instead.
const SWARM_IGNORES: [(&str, &str); 13] = [
    (
        "build",
        "swarm runs images: build and push the image, then set `image`",
    ),
    (
        "container_name",
        "swarm names a service's containers itself",
    ),
    (
        "depends_on",
        "swarm starts services in no order: make the service retry its dependencies",
    ),
    ("restart", "use deploy.restart_policy"),
    (
        "links",
        "services on a shared network reach each other by name",
    ),
    (
        "external_links",
        "services on a shared network reach each other by name",
    ),
    ("network_mode", "attach the service to networks instead"),
    ("cgroup_parent", "swarm cannot set it"),
    ("devices", "swarm cannot give services devices"),
    ("security_opt", "swarm cannot set it"),
    ("userns_mode", "swarm cannot set it"),
    ("privileged", "swarm services cannot be privileged"),
    ("profiles", "docker stack deploy deploys every service"),
];

/// What one service's keys are mapped against.
pub struct Ctx<'a> {
    pub loaded: &'a Loaded,
    pub names: &'a Names,
    notes: &'a mut Vec<Note>,
    /// `services.web`
    path: String,
}

impl Ctx<'_> {
    /// A note about `field` of this service (`deploy.replicas`).
    pub fn note(&mut self, field: &str, message: impl Into<String>) {
        let note = self.loaded.note(&self.path_of(field), message);
        self.notes.push(note);
    }

    pub fn path_of(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }

    /// The value parsed by `parse` (shoal's quantity and duration parsers), or a note.
    pub fn parsed<T>(
        &mut self,
        field: &str,
        value: &Value,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        parse(&scalar_text(value))
            .map_err(|why| self.note(field, format!("not imported: {why}")))
            .ok()
    }

    /// A variable of the environment or `.env`.
    pub fn loaded_variable(&self, name: &str) -> Option<String> {
        self.loaded.variables.get(name).cloned()
    }

    /// A whole number, written as one or as text.
    pub fn number(&mut self, field: &str, value: &Value) -> Option<u64> {
        let number = value
            .as_u64()
            .or_else(|| scalar_text(value).trim().parse().ok());
        if number.is_none() {
            self.note(
                field,
                format!(
                    "not imported: {:?} is not a whole number",
                    scalar_text(value)
                ),
            );
        }
        number
    }
}

/// The resource of compose service `key`, or `None` (with a note) when it has no image.
pub fn service(
    loaded: &Loaded,
    names: &Names,
    key: &str,
    fields: &Value,
    notes: &mut Vec<Note>,
) -> Option<ImportedResource> {
    let mut ctx = Ctx {
        loaded,
        names,
        notes,
        path: format!("services.{key}"),
    };
    let Some(fields) = fields.as_object() else {
        ctx.note("", "a service is a mapping of its settings: not imported");
        return None;
    };
    let Some(image) = fields.get("image").map(scalar_text) else {
        ctx.note(
            "image",
            "no image: swarm runs images, it builds none; build and push it, set `image`, \
             and import again (this service is not imported)",
        );
        return None;
    };
    let mut spec = empty_spec(image);
    for (field, value) in fields {
        map_field(&mut ctx, key, field, value, fields, &mut spec);
    }
    service_fields::environment(&mut ctx, fields, &mut spec);
    if !fields.contains_key("networks") && !fields.contains_key("network_mode") {
        spec.networks = vec![names.object(loaded, "networks", "default")];
    }
    if spec.mode == ServiceMode::Global {
        spec.replicas = None;
    }
    if let Some(stack) = names.adopted_stack() {
        // What `docker stack deploy` puts on the containers and on the service itself.
        spec.container_labels
            .insert(STACK_NAMESPACE.to_string(), stack.to_string());
        spec.labels
            .insert(STACK_NAMESPACE.to_string(), stack.to_string());
        spec.labels
            .insert(STACK_IMAGE.to_string(), spec.image.clone());
    }
    let (file, line) = loaded.locate(&ctx.path);
    Some(ImportedResource {
        name: names.service(key),
        spec: ImportedSpec::Service(Box::new(spec)),
        origin: format!("service {key} of {}:{line}", file.display()),
        adopt: names.adopted_stack().is_some(),
    })
}

fn map_field(
    ctx: &mut Ctx,
    key: &str,
    field: &str,
    value: &Value,
    fields: &Map<String, Value>,
    spec: &mut ServiceSpec,
) {
    match field {
        "image" | "environment" | "env_file" | "expose" => {}
        "entrypoint" => spec.command = service_fields::words(ctx, field, value),
        "command" => spec.args = service_fields::words(ctx, field, value),
        "secrets" => spec.secrets = service_fields::secrets(ctx, value),
        "ports" => spec.ports = service_fields::ports(ctx, value),
        "volumes" => spec.mounts.extend(service_fields::volumes(ctx, value)),
        "tmpfs" => spec.mounts.extend(service_fields::tmpfs(ctx, value)),
        "networks" => spec.networks = service_fields::networks(ctx, value),
        "deploy" => {
            if let Some(section) = value.as_object() {
                deploy::deploy(ctx, section, spec);
            }
        }
        "healthcheck" => spec.healthcheck = deploy::healthcheck(ctx, value),
        "stop_grace_period" => {
            spec.stop_grace_period = ctx.parsed(field, value, Duration::parse);
        }
        "labels" => spec.container_labels = string_map(value),
        "hostname" => spec.hostname = Some(scalar_text(value)),
        "user" => spec.user = Some(scalar_text(value)),
        "working_dir" => spec.working_dir = Some(scalar_text(value)),
        "init" => spec.init = value.as_bool(),
        "cap_add" => spec.cap_add = capabilities(value),
        "cap_drop" => spec.cap_drop = capabilities(value),
        _ if field.starts_with("x-") => {}
        _ => match SWARM_IGNORES.iter().find(|(name, _)| *name == field) {
            Some((_, instead)) => ctx.note(field, format!("Swarm ignores this: {instead}")),
            None => ctx.note(
                field,
                format!(
                    "shoal cannot express this yet: not imported (set it on the image, or on \
                     the service by hand: `docker service update` on {})",
                    ctx.names.service(key)
                ),
            ),
        },
    }
    if field == "networks" && fields.contains_key("network_mode") {
        ctx.note(
            "network_mode",
            "both networks and network_mode: networks are kept",
        );
    }
}

/// Capabilities as the engine holds them: upper case with the `CAP_` prefix (or `ALL`),
/// as the docker CLI writes them.
fn capabilities(value: &Value) -> Vec<String> {
    deploy::strings(value)
        .iter()
        .map(|cap| {
            let cap = cap.to_ascii_uppercase();
            if cap == "ALL" || cap.starts_with("CAP_") {
                cap
            } else {
                format!("CAP_{cap}")
            }
        })
        .collect()
}

/// A service with only its image, which the compose keys then fill in. Replicas start at
/// one, as `docker stack deploy` creates them.
fn empty_spec(image: String) -> ServiceSpec {
    ServiceSpec {
        image,
        mode: ServiceMode::Replicated,
        replicas: Some(1),
        command: None,
        args: None,
        env: Vec::new(),
        secrets: Vec::new(),
        configs: Vec::new(),
        ports: Vec::new(),
        mounts: Vec::new(),
        networks: Vec::new(),
        placement: None,
        resources: None,
        restart_policy: None,
        update_config: None,
        rollback_config: None,
        healthcheck: None,
        stop_grace_period: None,
        labels: Default::default(),
        container_labels: Default::default(),
        hostname: None,
        user: None,
        working_dir: None,
        init: None,
        cap_add: Vec::new(),
        cap_drop: Vec::new(),
        depends_on: Vec::new(),
    }
}
