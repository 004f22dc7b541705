//! Problems found in desired-state, each pinned to a file, line and column, and the one
//! way they are printed: `path/to/file.yaml:LINE:COL: Kind/name: message`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in a desired-state file. Lines and columns count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<Path>,
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Location {
            file: Arc::from(file.into().into_boxed_path()),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0 stands for the file or directory as a whole.
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub location: Location,
    /// `Kind/name` of the resource, when the document got far enough to have one.
    pub resource: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn error(location: Location, resource: Option<String>, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Error,
            location,
            resource,
            message: message.into(),
        }
    }

    pub fn warning(
        location: Location,
        resource: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(location, resource, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if let Some(resource) = &self.resource {
            write!(f, "{resource}: ")?;
        }
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Sorts problems by file, line and column so output reads top to bottom.
pub fn sort(problems: &mut [Problem]) {
    problems.sort_by(|a, b| {
        (
            &a.location.file,
            a.location.line,
            a.location.column,
            &a.message,
        )
            .cmp(&(
                &b.location.file,
                b.location.line,
                b.location.column,
                &b.message,
            ))
    });
}
