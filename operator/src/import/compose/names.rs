//! What the compose file's networks, secrets and volumes are called in the swarm: as
//! `docker stack deploy` names them (`STACK_name`, or the `name:` given, or the name
//! itself when `external`), and which networks the import declares.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::load::Loaded;
use super::merge::scalar_text;
use crate::import::Note;
use crate::resources::network::NetworkSpec;

/// The label `docker stack deploy` puts on everything of a stack.
pub const STACK_NAMESPACE: &str = "com.docker.stack.namespace";
/// The label `docker stack deploy` puts on a service: its image as the file wrote it.
pub const STACK_IMAGE: &str = "com.docker.stack.image";

pub struct Names {
    stack: Option<String>,
    project: String,
    /// Services and networks take the compose names, not the stack's (`--rename`);
    /// volumes and secrets keep the stack's, which hold its data.
    rename: bool,
}

impl Names {
    pub fn new(loaded: &Loaded, stack: Option<String>, rename: bool) -> Self {
        let project = match loaded.model.get("name") {
            Some(Value::String(name)) => name.clone(),
            _ => loaded
                .project_dir()
                .canonicalize()
                .ok()
                .and_then(|dir| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "default".to_string()),
        };
        Names {
            stack,
            project,
            rename,
        }
    }

    /// The stack whose live services the resources take over, if they do.
    pub fn adopted_stack(&self) -> Option<&str> {
        self.stack.as_deref().filter(|_| !self.rename)
    }

    /// A service's name: `STACK_web` under a stack, else `web`.
    pub fn service(&self, name: &str) -> String {
        match self.rename {
            true => name.to_string(),
            false => self.scoped(name),
        }
    }

    fn scoped(&self, name: &str) -> String {
        match &self.stack {
            Some(stack) => format!("{stack}_{name}"),
            None => name.to_string(),
        }
    }

    /// The swarm name of an object declared at the top level under `section`
    /// (`networks`, `secrets`, `volumes`).
    pub fn object(&self, loaded: &Loaded, section: &str, key: &str) -> String {
        let declared = top_level(loaded, section).and_then(|objects| objects.get(key));
        if let Some(Value::Object(fields)) = declared {
            if let Some(name) = fields.get("name") {
                return scalar_text(name);
            }
            if is_external(fields) {
                return key.to_string();
            }
        }
        if section == "networks" && key == "default" && (self.stack.is_none() || self.rename) {
            // Compose's own name for it; a network cannot be called `default`.
            let project = match (&self.stack, self.rename) {
                (Some(stack), true) => format!("{stack}-renamed"),
                _ => self.project.clone(),
            };
            return format!("{project}_default");
        }
        if section == "networks" && self.rename {
            return key.to_string();
        }
        self.scoped(key)
    }

    /// The Network resources to write: every network a service uses that the stack
    /// creates (not the external ones), with the origin for the file's header.
    pub fn networks_to_create(
        &self,
        loaded: &Loaded,
        notes: &mut Vec<Note>,
    ) -> Vec<(String, NetworkSpec, String)> {
        let declared = top_level(loaded, "networks");
        let mut created = Vec::new();
        for key in used_networks(loaded) {
            let fields = declared
                .and_then(|networks| networks.get(&key))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if is_external(&fields) {
                continue;
            }
            let path = format!("networks.{key}");
            let spec = self.network_spec(loaded, &path, &fields, notes);
            let origin = if loaded.files.iter().any(|f| f.index.has(&path)) {
                let (file, line) = loaded.locate(&path);
                format!("network {key} of {}:{line}", file.display())
            } else {
                format!("the default network of {}", loaded.project_dir().display())
            };
            created.push((self.object(loaded, "networks", &key), spec, origin));
        }
        created
    }

    fn network_spec(
        &self,
        loaded: &Loaded,
        path: &str,
        fields: &Map<String, Value>,
        notes: &mut Vec<Note>,
    ) -> NetworkSpec {
        let mut spec = NetworkSpec::default();
        for (key, value) in fields {
            let field = format!("{path}.{key}");
            match key.as_str() {
                "driver" if scalar_text(value) == "overlay" => {}
                "driver" => notes.push(loaded.note(
                    &field,
                    "only overlay networks span a swarm: imported as overlay",
                )),
                "attachable" => spec.attachable = value.as_bool().unwrap_or(false),
                "internal" => spec.internal = value.as_bool().unwrap_or(false),
                "labels" => spec.labels = string_map(value),
                "driver_opts" => {
                    for option in value.as_object().into_iter().flat_map(|o| o.keys()) {
                        if option == "encrypted" {
                            spec.encrypted = true;
                        } else {
                            notes.push(loaded.note(
                                &format!("{field}.{option}"),
                                "shoal cannot set this driver option: not imported",
                            ));
                        }
                    }
                }
                "name" | "external" => {}
                _ if key.starts_with("x-") => {}
                _ => notes.push(loaded.note(
                    &field,
                    "shoal cannot express this network field yet: not imported",
                )),
            }
        }
        if let Some(stack) = self.adopted_stack() {
            spec.labels
                .insert(STACK_NAMESPACE.to_string(), stack.to_string());
        }
        spec
    }

    /// Secrets, configs and volumes the stack would create: shoal does not create them,
    /// so each is said with what to do.
    pub fn report_objects(&self, loaded: &Loaded, notes: &mut Vec<Note>) {
        for (section, what) in [("secrets", "secret"), ("configs", "config")] {
            for (key, fields) in top_level(loaded, section).into_iter().flatten() {
                let fields = fields.as_object().cloned().unwrap_or_default();
                if is_external(&fields) {
                    continue;
                }
                let name = self.object(loaded, section, key);
                let from = match fields.get("file") {
                    Some(file) => scalar_text(file),
                    None => "FILE".to_string(),
                };
                notes.push(loaded.note(
                    &format!("{section}.{key}"),
                    format!(
                        "shoal does not create swarm {what}s: create it once before applying: \
                         `docker {what} create {name} {from}`"
                    ),
                ));
            }
        }
        for (key, fields) in top_level(loaded, "volumes").into_iter().flatten() {
            let Some(fields) = fields.as_object() else {
                continue;
            };
            for option in ["driver", "driver_opts", "labels"] {
                if fields.contains_key(option) {
                    notes.push(loaded.note(
                        &format!("volumes.{key}.{option}"),
                        "named volumes are created by the engine on first use with its local \
                         driver; shoal cannot set this: not imported",
                    ));
                }
            }
        }
    }
}

/// The networks the services attach to, `default` for a service that names none.
fn used_networks(loaded: &Loaded) -> BTreeSet<String> {
    let services = loaded.model.get("services").and_then(Value::as_object);
    let mut used = BTreeSet::new();
    for service in services.into_iter().flat_map(|s| s.values()) {
        match service.get("networks").and_then(Value::as_object) {
            Some(networks) => used.extend(networks.keys().cloned()),
            None if service.get("network_mode").is_none() => {
                used.insert("default".to_string());
            }
            None => {}
        }
    }
    used
}

fn top_level<'a>(loaded: &'a Loaded, section: &str) -> Option<&'a Map<String, Value>> {
    loaded.model.get(section).and_then(Value::as_object)
}

fn is_external(fields: &Map<String, Value>) -> bool {
    match fields.get("external") {
        Some(Value::Bool(external)) => *external,
        // The old form, `external: {name: x}`.
        Some(Value::Object(_)) => true,
        _ => false,
    }
}

/// A mapping of strings (labels), numbers and booleans written as text.
pub fn string_map(value: &Value) -> BTreeMap<String, String> {
    match value {
        Value::Object(fields) => fields
            .iter()
            .map(|(key, value)| (key.clone(), scalar_text(value)))
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let text = scalar_text(item);
                match text.split_once('=') {
                    Some((key, value)) => (key.to_string(), value.to_string()),
                    None => (text, String::new()),
                }
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}
