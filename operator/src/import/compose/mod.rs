//! `shoal import compose`: compose files, read as `docker stack deploy` reads them, made
//! into shoal's Service and Network resources. With `--stack NAME` the resources keep the
//! names `docker stack deploy --compose-file ... NAME` gave the live objects
//! (`NAME_web`, `NAME_default`), so shoal can take over a running stack.

mod deploy;
pub mod interpolate;
pub mod load;
pub mod merge;
mod names;
mod ports;
mod service;
mod service_fields;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use serde_json::Value;

use super::{ImportError, Imported, ImportedResource, ImportedSpec};
use load::Loaded;
use names::Names;

/// What to import and how to name it.
#[derive(Clone, Debug, Default)]
pub struct ComposeOptions {
    /// Compose files, merged in order.
    pub files: Vec<PathBuf>,
    /// Read instead of the `.env` next to the first file.
    pub env_file: Option<PathBuf>,
    /// The stack name the files were deployed under, if they were.
    pub stack: Option<String>,
    /// With `stack`: services and networks take the compose names instead of the
    /// stack's, so shoal creates new ones beside the stack's (a delete and create, not a
    /// take-over).
    pub rename: bool,
}

/// Top-level keys with nothing to carry over and nothing lost: `version` is obsolete,
/// `name` names the project (read for the default network's name).
const QUIET_TOP_LEVEL: [&str; 2] = ["version", "name"];

/// Imports the compose files of `options`.
pub fn import(options: &ComposeOptions) -> Result<Imported, ImportError> {
    let Some(first) = options.files.first() else {
        return Err(ImportError::Read {
            file: PathBuf::from("."),
            message: "no compose file given".to_string(),
        });
    };
    let variables = load::variables(first, options.env_file.as_deref())?;
    let loaded = load::load(&options.files, &variables)?;
    let names = Names::new(&loaded, options.stack.clone(), options.rename);
    let mut imported = Imported::default();
    report_unset_variables(&loaded, &mut imported);
    if let (Some(stack), true) = (&options.stack, options.rename) {
        imported.notes.push(loaded.note(
            "services",
            format!(
                "--rename: services and networks take the compose names (web, not {stack}_web), \
                 so `shoal apply` creates them beside the stack's, which keep running: a delete \
                 and create, not a take-over; named volumes and secrets keep the stack's names \
                 (its data); remove the stack (`docker stack rm {stack}`) once the new services \
                 run"
            ),
        ));
    }
    for key in loaded.model.keys() {
        let known = ["services", "networks", "volumes", "secrets", "configs"];
        if !known.contains(&key.as_str())
            && !QUIET_TOP_LEVEL.contains(&key.as_str())
            && !key.starts_with("x-")
        {
            imported
                .notes
                .push(loaded.note(key, "not a compose key: not imported"));
        }
    }
    let services = match loaded.model.get("services") {
        Some(Value::Object(services)) => services,
        _ => {
            let (file, line) = loaded.locate("services");
            return Err(ImportError::Invalid {
                file,
                line,
                field: "services".to_string(),
                message: "no services: a compose file lists them under `services:`".to_string(),
            });
        }
    };
    for (name, fields) in services {
        if let Some(resource) = service::service(&loaded, &names, name, fields, &mut imported.notes)
        {
            imported.resources.push(resource);
        }
    }
    let networks = names.networks_to_create(&loaded, &mut imported.notes);
    imported.resources.extend(
        networks
            .into_iter()
            .map(|(name, spec, origin)| ImportedResource {
                name,
                spec: ImportedSpec::Network(spec),
                origin,
                adopt: names.adopted_stack().is_some(),
            }),
    );
    names.report_objects(&loaded, &mut imported.notes);
    imported
        .notes
        .sort_by(|a, b| (&a.file, a.line, &a.field).cmp(&(&b.file, b.line, &b.field)));
    Ok(imported)
}

/// A variable used but not set reads as empty, as compose reads it; said once, at the
/// first line that uses it.
fn report_unset_variables(loaded: &Loaded, imported: &mut Imported) {
    for variable in &loaded.unset {
        let used_at = loaded.files.iter().find_map(|file| {
            let text = std::fs::read_to_string(&file.path).ok()?;
            let line = text.lines().position(|line| {
                line.contains(&format!("${{{variable}")) || line.contains(&format!("${variable}"))
            })?;
            Some((file.path.clone(), line + 1))
        });
        let (file, line) = used_at.unwrap_or_else(|| loaded.locate(""));
        imported.notes.push(super::Note {
            file,
            line,
            field: format!("${{{variable}}}"),
            message: format!(
                "{variable} is not set: read as an empty string (set it, or give a default: \
                 ${{{variable}:-value}})"
            ),
        });
    }
}
