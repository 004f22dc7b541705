//! Turning what people run today into shoal's desired-state: `shoal import compose`
//! reads compose files the way `docker stack deploy` does and writes one resource file
//! per service. Whatever cannot be carried over is reported with the file and line it
//! was written at, never dropped silently.

pub mod compose;
pub mod swarm;
pub mod write;

use std::fmt;
use std::path::PathBuf;

use crate::resources::network::NetworkSpec;
use crate::resources::node::NodeSpec;
use crate::resources::service::ServiceSpec;

/// A field that was not carried over, or carried over differently, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub file: PathBuf,
    pub line: usize,
    /// The field's path, `services.web.build`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A note about a live object has no line: its place is the object.
        let place = match self.line {
            0 => self.file.display().to_string(),
            line => format!("{}:{line}", self.file.display()),
        };
        write!(f, "{place}: {}: {}", self.field, self.message)
    }
}

/// Why nothing could be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: {message}", file.display())]
    Read { file: PathBuf, message: String },
    #[error("{}:{line}: {}{message}", file.display(), field_prefix(field))]
    Invalid {
        file: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
}

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("{field}: ")
    }
}

/// One resource the import writes, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedResource {
    pub name: String,
    pub spec: ImportedSpec,
    /// Said in the written file's header: which file and entry it was made from.
    pub origin: String,
    /// Whether it takes over the live object of its name (`shoal.io/adopt`).
    pub adopt: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ImportedSpec {
    Service(Box<ServiceSpec>),
    Network(NetworkSpec),
    Node(NodeSpec),
}

/// What an import produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Imported {
    pub resources: Vec<ImportedResource>,
    pub notes: Vec<Note>,
}
