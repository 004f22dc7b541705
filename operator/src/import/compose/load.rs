//! Reading compose files as `docker stack deploy -c A -c B` reads them: each parsed
//! (anchors and `<<` merge keys expanded), its strings interpolated from the environment
//! and `.env`, then the files merged in order. Each file's field positions are kept, so
//! every note can name the file and line a field was written at.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::interpolate::Variables;
use super::merge::merge_file;
use crate::import::{ImportError, Note};
use crate::source::yaml_index::{self, DocumentIndex};

/// One compose file as written.
pub struct ComposeFile {
    pub path: PathBuf,
    pub index: DocumentIndex,
}

/// The merged compose model and where its fields came from.
pub struct Loaded {
    pub files: Vec<ComposeFile>,
    /// The merged, interpolated model, `services`, `networks`, ... at the top.
    pub model: Map<String, Value>,
    /// Variables used but not set: read as empty, as compose does, and reported.
    pub unset: Vec<String>,
    /// What `${VAR}` and a bare `environment: [NAME]` read.
    pub variables: HashMap<String, String>,
}

impl Loaded {
    /// The file and line `path` (`services.web.build`) was written at: the last file
    /// that writes it, since later files override earlier ones; else where its nearest
    /// written ancestor is.
    pub fn locate(&self, path: &str) -> (PathBuf, usize) {
        let written = self
            .files
            .iter()
            .rev()
            .find(|file| file.index.has(path))
            .or_else(|| self.files.last());
        match written {
            Some(file) => (file.path.clone(), file.index.locate(path).line),
            None => (PathBuf::new(), 0),
        }
    }

    /// The text a scalar at `path` is written as (`0440`, before YAML reads it as a
    /// number), from the last file that writes it.
    pub fn written_scalar(&self, path: &str) -> Option<String> {
        let file = self.files.iter().rev().find(|file| file.index.has(path))?;
        file.index.scalar(path).map(str::to_string)
    }

    /// A note about the field at `path`.
    pub fn note(&self, path: &str, message: impl Into<String>) -> Note {
        let (file, line) = self.locate(path);
        Note {
            file,
            line,
            field: path.to_string(),
            message: message.into(),
        }
    }

    /// The directory relative paths are read from: the first file's, as compose does.
    pub fn project_dir(&self) -> PathBuf {
        self.files
            .first()
            .and_then(|file| file.path.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// The variables compose interpolates from: `--env-file` (or `.env` next to the first
/// file), overridden by the process environment.
pub fn variables(
    first_file: &Path,
    env_file: Option<&Path>,
) -> Result<HashMap<String, String>, ImportError> {
    let default_env = first_file.parent().unwrap_or(Path::new(".")).join(".env");
    let file = match env_file {
        Some(file) => Some(file.to_path_buf()),
        None => default_env.exists().then_some(default_env),
    };
    let mut values = match file {
        Some(file) => read_env_file(&file)?,
        None => HashMap::new(),
    };
    values.extend(std::env::vars());
    Ok(values)
}

/// `NAME=value` lines of an env file (`.env`, `env_file:`), in the dotenv syntax compose
/// reads.
pub fn read_env_file(file: &Path) -> Result<HashMap<String, String>, ImportError> {
    let entries = dotenvy::from_path_iter(file).map_err(|error| ImportError::Read {
        file: file.to_path_buf(),
        message: error.to_string(),
    })?;
    entries
        .map(|entry| {
            entry.map_err(|error| ImportError::Read {
                file: file.to_path_buf(),
                message: env_file_error(&error),
            })
        })
        .collect()
}

fn env_file_error(error: &dotenvy::Error) -> String {
    match error {
        dotenvy::Error::LineParse(line, at) => {
            format!("cannot read the line {line:?} (at character {at})")
        }
        other => other.to_string(),
    }
}

/// Reads, interpolates and merges `paths` in order.
pub fn load(paths: &[PathBuf], variables: &HashMap<String, String>) -> Result<Loaded, ImportError> {
    let mut vars = Variables::new(variables);
    let mut files = Vec::new();
    let mut model = Map::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|error| ImportError::Read {
            file: path.clone(),
            message: error.to_string(),
        })?;
        let (index, mut value) = parse(path, &text)?;
        interpolate(&mut value, "", &mut vars).map_err(|(field, message)| {
            ImportError::Invalid {
                file: path.clone(),
                line: index.locate(&field).line,
                field,
                message,
            }
        })?;
        let Value::Object(top) = value else {
            return Err(ImportError::Invalid {
                file: path.clone(),
                line: 1,
                field: String::new(),
                message: "a compose file is a mapping with `services:` at its top".to_string(),
            });
        };
        merge_file(&mut model, top);
        files.push(ComposeFile {
            path: path.clone(),
            index,
        });
    }
    Ok(Loaded {
        files,
        model,
        unset: vars.unset,
        variables: variables.clone(),
    })
}

/// The document of a compose file and its field positions.
fn parse(path: &Path, text: &str) -> Result<(DocumentIndex, Value), ImportError> {
    let syntax = |line: usize, message: String| ImportError::Invalid {
        file: path.to_path_buf(),
        line,
        field: String::new(),
        message,
    };
    let index = yaml_index::index(text)
        .map_err(|error| syntax(error.at.line, error.message))?
        .into_iter()
        .next()
        .unwrap_or_default();
    let options = serde_saphyr::options! { with_snippet: false };
    let value: Value = serde_saphyr::from_str_with_options(text, options).map_err(|error| {
        let line = error.location().map_or(1, |at| at.line() as usize);
        syntax(line, yaml_index::strip_position(&error.to_string()))
    })?;
    Ok((index, value))
}

/// Replaces `${VAR}` in every string of `value`; the error names the field.
fn interpolate(
    value: &mut Value,
    path: &str,
    vars: &mut Variables<'_>,
) -> Result<(), (String, String)> {
    match value {
        Value::String(text) if text.contains('$') => {
            *text = vars
                .interpolate(text)
                .map_err(|error| (path.to_string(), error.to_string()))?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate(item, &format!("{path}[{i}]"), vars)?;
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields.iter_mut() {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                interpolate(item, &path, vars)?;
            }
        }
        _ => {}
    }
    Ok(())
}
