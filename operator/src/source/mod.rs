//! Loading desired-state from a directory: every `*.yaml` / `*.yml` file under it (hidden
//! files and directories such as `.git` skipped), every document in each file, each turned
//! into a typed [`Resource`] that remembers where it was written.
//!
//! Loading never stops at the first problem: a broken document is reported and the rest
//! is still loaded, so one run of `shoal validate` shows everything to fix.

pub mod data;
pub mod files;
pub mod git;
mod plain_words;
pub mod policy;
pub mod validate;
pub mod watch;
pub mod yaml_index;

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::diagnostics::{Location, Problem};
use crate::resources::origin::{FieldPositions, Origin};
use crate::resources::{API_VERSION, Desired, Kind, Metadata, Resource, Spec};
use yaml_index::{DocumentIndex, LineCol};

/// The positions [`Origin`] asks for are the ones this index found.
impl FieldPositions for DocumentIndex {
    fn position(&self, path: &str) -> (usize, usize) {
        let at = self.locate(path);
        (at.line, at.column)
    }

    fn has(&self, path: &str) -> bool {
        DocumentIndex::has(self, path)
    }

    fn first_line(&self) -> usize {
        self.first_line
    }
}

/// The outcome of loading a directory: what could be loaded, and what could not.
#[derive(Debug, Default)]
pub struct Loaded {
    pub desired: Desired,
    pub problems: Vec<Problem>,
}

/// Loads every resource under `dir`.
pub fn load_dir(dir: &Path) -> std::io::Result<Loaded> {
    let found = files::find_yaml_files(dir)?;
    let mut loaded = Loaded {
        problems: found.problems,
        ..Loaded::default()
    };
    for file in &found.files {
        match files::read_text(file) {
            Ok(text) => load_text(file, &text, &mut loaded),
            Err(problem) => loaded.problems.push(problem),
        }
    }
    loaded.desired.file_count = found.files.len();
    Ok(loaded)
}

/// Loads the documents of one file's text into `loaded`.
pub fn load_text(file: &Path, text: &str, loaded: &mut Loaded) {
    let file: Arc<Path> = Arc::from(file);
    let at = |lc: LineCol| Location {
        file: file.clone(),
        line: lc.line,
        column: lc.column,
    };
    let documents = match yaml_index::index(text) {
        Ok(documents) => documents,
        Err(error) => {
            loaded.desired.document_count += 1;
            let message = if error.message.contains("recursion limit") {
                "the document is nested too deeply to read".to_string()
            } else {
                format!("YAML syntax error: {}", error.message)
            };
            loaded
                .problems
                .push(Problem::error(at(error.at), None, message));
            return;
        }
    };
    let line_starts = yaml_index::line_starts(text);
    for document in documents {
        let Some(root) = document.root else {
            continue;
        };
        // A SOPS-encrypted file (its data under a top-level `sops` key) is a Secret's data,
        // not a resource.
        if document.root_is_mapping && document.has("sops") && !document.has("apiVersion") {
            continue;
        }
        loaded.desired.document_count += 1;
        if !document.root_is_mapping {
            loaded.problems.push(Problem::error(
                at(root),
                None,
                "a resource must be a mapping with apiVersion, kind, metadata and spec",
            ));
            continue;
        }
        match load_document(&file, text, &line_starts, document) {
            Ok(resource) => loaded.desired.resources.push(resource),
            Err(problem) => loaded.problems.push(*problem),
        }
    }
}

/// The common envelope of every document; `S` is the kind's spec.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Manifest<S> {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: Metadata,
    #[serde(default = "Option::default")]
    spec: Option<S>,
}

fn load_document(
    file: &Arc<Path>,
    text: &str,
    line_starts: &[usize],
    document: DocumentIndex,
) -> Result<Resource, Box<Problem>> {
    let at_lc = |lc: LineCol| Location {
        file: file.clone(),
        line: lc.line,
        column: lc.column,
    };
    let at = |path: &str| at_lc(document.locate(path));
    let kind_text = document.scalar("kind").map(str::to_string);
    let name = document.scalar("metadata.name").map(str::to_string);
    let resource_id = match (&kind_text, &name) {
        (Some(kind), Some(name)) => Some(format!("{kind}/{name}")),
        (Some(kind), None) => Some(kind.clone()),
        _ => None,
    };
    let fail = |path: &str, message: String| {
        Box::new(Problem::error(at(path), resource_id.clone(), message))
    };

    let kind = envelope_kind(&document, fail)?;
    let (isolated, lines_before) = yaml_index::isolate(text, line_starts, &document);
    let (metadata, spec) = parse_spec(kind, isolated).map_err(|error| {
        let (lc, message) = plain_words::tell(kind, &document, lines_before, &error);
        Box::new(Problem::error(at_lc(lc), resource_id.clone(), message))
    })?;
    let Some(spec) = spec else {
        return Err(fail("", "spec: missing (required)".into()));
    };
    Ok(Resource {
        metadata,
        spec,
        origin: Origin::new(file.clone(), Arc::new(document)),
    })
}

/// The kind of a document whose `apiVersion` and `kind` this build understands.
fn envelope_kind(
    document: &DocumentIndex,
    fail: impl Fn(&str, String) -> Box<Problem>,
) -> Result<Kind, Box<Problem>> {
    match document.scalar("apiVersion") {
        None => return Err(fail("", "apiVersion: missing (required)".into())),
        Some(API_VERSION) => {}
        Some(other) => {
            return Err(fail(
                "apiVersion",
                format!("unknown apiVersion {other:?}: expected {API_VERSION:?}"),
            ));
        }
    }
    let Some(kind_text) = document.scalar("kind") else {
        return Err(fail("", "kind: missing (required)".into()));
    };
    Kind::parse(kind_text).ok_or_else(|| {
        let known: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        fail(
            "kind",
            format!(
                "unknown kind {kind_text:?}: expected one of {}",
                known.join(", ")
            ),
        )
    })
}

/// Deserializes a document (isolated from its file) as `kind`. Networks and nodes may
/// leave out their spec: every field has a default.
fn parse_spec(kind: Kind, isolated: &str) -> Result<(Metadata, Option<Spec>), serde_saphyr::Error> {
    Ok(match kind {
        Kind::Service => {
            let (metadata, spec) = parse(isolated)?;
            (metadata, spec.map(|s| Spec::Service(Box::new(s))))
        }
        Kind::GlusterVolume => {
            let (metadata, spec) = parse(isolated)?;
            (metadata, spec.map(Spec::GlusterVolume))
        }
        Kind::Secret => {
            let (metadata, spec) = parse(isolated)?;
            (metadata, spec.map(Spec::Secret))
        }
        Kind::Config => {
            let (metadata, spec) = parse(isolated)?;
            (metadata, spec.map(Spec::Config))
        }
        Kind::Network => {
            let (metadata, spec) = parse(isolated)?;
            (metadata, Some(Spec::Network(spec.unwrap_or_default())))
        }
        Kind::Node => {
            let (metadata, spec) = parse(isolated)?;
            (metadata, Some(Spec::Node(spec.unwrap_or_default())))
        }
    })
}

fn parse<S: DeserializeOwned>(text: &str) -> Result<(Metadata, Option<S>), serde_saphyr::Error> {
    let options = serde_saphyr::options! { with_snippet: false };
    let manifest: Manifest<S> = serde_saphyr::from_str_with_options(text, options)?;
    Ok((manifest.metadata, manifest.spec))
}
