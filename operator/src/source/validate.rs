//! Loading a desired-state directory and checking it against every rule, every problem
//! returned at once (the `validate` command prints them). The gate every later stage
//! passes through: nothing is planned, applied or mounted from a desired-state with
//! errors.

use std::path::{Path, PathBuf};

use crate::diagnostics::{self, Problem, Severity};
use crate::resources::validate::{policy::Policy, validate};
use crate::resources::{Desired, binding};
use crate::source;

/// How to validate.
#[derive(Clone, Debug, Default)]
pub struct ValidateOptions {
    /// Treat warnings as errors.
    pub strict: bool,
    /// Host paths services may bind-mount besides GlusterVolume mount points.
    pub allow_host_paths: Vec<PathBuf>,
    /// The age key that decrypts SOPS and age files of Secrets and Configs.
    pub age_key: Option<source::data::AgeKey>,
    /// Leave the data of Secrets and Configs unread (the agent needs none of it: no key
    /// on every host, no decryption at every pass).
    pub skip_data: bool,
}

/// The outcome of validating a directory.
#[derive(Debug)]
pub struct Validation {
    pub desired: Desired,
    /// Every problem, sorted by file and position; under `strict`, warnings are errors.
    pub problems: Vec<Problem>,
}

impl Validation {
    pub fn errors(&self) -> usize {
        self.problems.iter().filter(|p| p.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.problems.len() - self.errors()
    }
}

/// Why a directory could not be validated at all.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("cannot validate {0}: not a directory")]
    NotADirectory(PathBuf),
    #[error("cannot validate {0}: {1}")]
    Unreadable(PathBuf, #[source] std::io::Error),
}

/// Loads and checks `dir`. Fails only when the directory itself cannot be read; problems
/// in its files are part of the result.
pub fn validate_dir(dir: &Path, options: &ValidateOptions) -> Result<Validation, ValidateError> {
    if !dir.is_dir() {
        return Err(ValidateError::NotADirectory(dir.to_path_buf()));
    }
    let mut loaded = source::load_dir(dir)
        .map_err(|error| ValidateError::Unreadable(dir.to_path_buf(), error))?;
    let mut problems = loaded.problems;
    let mut policy = match source::policy::load(dir) {
        Ok(policy) => policy,
        Err(problem) => {
            problems.push(*problem);
            Policy::default()
        }
    };
    policy
        .allow_host_paths
        .extend(options.allow_host_paths.iter().cloned());
    problems.extend(validate(&loaded.desired, &policy, dir));
    if !options.skip_data {
        problems.extend(source::data::resolve(
            &mut loaded.desired,
            options.age_key.as_ref(),
        ));
        // Services name the versions their Secrets' and Configs' data makes: a new
        // content is a new spec of every service that uses it.
        let versions = binding::versions(&loaded.desired);
        binding::bind_services(&mut loaded.desired, &versions);
    }
    if options.strict {
        for problem in &mut problems {
            problem.severity = Severity::Error;
        }
    }
    diagnostics::sort(&mut problems);
    Ok(Validation {
        desired: loaded.desired,
        problems,
    })
}
