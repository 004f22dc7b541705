//! Where a resource was written: its file, and where each of its fields sits, so that a
//! rule about a field can point at it. Finding the positions is the loader's business
//! (`source`, which indexes the YAML); the model only asks for them, through
//! [`FieldPositions`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::diagnostics::Location;

/// The written positions of the fields of one document.
pub trait FieldPositions: Send + Sync {
    /// `(line, column)`, both from 1, of the value at `path` (e.g.
    /// `spec.resources.limits.memory`), or of its nearest written ancestor.
    fn position(&self, path: &str) -> (usize, usize);

    /// Whether the document writes a value at `path`.
    fn has(&self, path: &str) -> bool;

    /// The first line of the document, which names it as a whole.
    fn first_line(&self) -> usize;
}

/// Where a resource was written: its file, and the positions of its fields.
#[derive(Clone)]
pub struct Origin {
    pub file: Arc<Path>,
    positions: Arc<dyn FieldPositions>,
}

impl Origin {
    pub fn new(file: Arc<Path>, positions: Arc<dyn FieldPositions>) -> Self {
        Origin { file, positions }
    }

    /// The location of the field at `path` (e.g. `spec.resources.limits.memory`), or of
    /// its nearest written ancestor.
    pub fn locate(&self, path: &str) -> Location {
        let (line, column) = self.positions.position(path);
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    /// Whether the document writes a value at `path`.
    pub fn has(&self, path: &str) -> bool {
        self.positions.has(path)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.positions.first_line())
    }
}
