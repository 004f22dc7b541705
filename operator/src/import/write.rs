//! Writing imported resources as desired-state files: one file per resource
//! (`services/NAME.yaml`, `networks/NAME.yaml`), each with a header saying what it was
//! made from. Existing files are never overwritten: the import then writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ImportedResource, ImportedSpec};
use crate::resources::{ADOPT, API_VERSION, Metadata};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a, S: Serialize> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: &'a S,
}

/// The path (under the output directory) and text of each resource's file.
pub fn render(resources: &[ImportedResource], command: &str) -> Vec<(PathBuf, String)> {
    resources
        .iter()
        .map(|resource| {
            let metadata = Metadata {
                name: resource.name.clone(),
                labels: BTreeMap::new(),
                annotations: if resource.adopt {
                    BTreeMap::from([(ADOPT.to_string(), "true".to_string())])
                } else {
                    BTreeMap::new()
                },
            };
            let (dir, body) = match &resource.spec {
                ImportedSpec::Service(spec) => ("services", yaml("Service", metadata, &**spec)),
                ImportedSpec::Network(spec) => ("networks", yaml("Network", metadata, spec)),
                ImportedSpec::Node(spec) => ("nodes", yaml("Node", metadata, spec)),
            };
            let header = format!("# Imported by `{command}` from {}.\n", resource.origin);
            let path = Path::new(dir).join(format!("{}.yaml", resource.name));
            (path, header + &body)
        })
        .collect()
}

fn yaml<S: Serialize>(kind: &'static str, metadata: Metadata, spec: &S) -> String {
    let manifest = Manifest {
        api_version: API_VERSION,
        kind,
        metadata,
        spec,
    };
    serde_saphyr::to_string(&manifest).expect("resources always serialize")
}

/// Writes `files` under `out`, unless any of them exists already: then nothing is
/// written and the error names them.
pub fn write(out: &Path, files: &[(PathBuf, String)]) -> Result<Vec<PathBuf>, String> {
    let taken: Vec<String> = files
        .iter()
        .map(|(path, _)| out.join(path))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    if !taken.is_empty() {
        return Err(format!(
            "these files exist already, so nothing was written: {} (remove them, or import \
             into another --out directory)",
            taken.join(", ")
        ));
    }
    let mut written = Vec::new();
    for (path, text) in files {
        let path = out.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        }
        std::fs::write(&path, text)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
