//! `shoal validate`: loads a desired-state directory, checks every rule, and reports all
//! problems at once. Also the gate every later command passes through: nothing is
//! planned or applied from a desired-state with errors.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use miette::{
    Diagnostic, GraphicalReportHandler, LabeledSpan, NamedSource, Severity as MietteSeverity,
};

use crate::diagnostics::{self, Problem, Severity};
use crate::resources::{Desired, validate::policy::Policy, validate::validate};
use crate::source;

/// How to validate.
#[derive(Clone, Debug, Default)]
pub struct ValidateOptions {
    /// Treat warnings as errors.
    pub strict: bool,
    /// Host paths services may bind-mount besides GlusterVolume mount points.
    pub allow_host_paths: Vec<PathBuf>,
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

    /// `N resources in M files`, with the warning count when there are some.
    pub fn summary(&self) -> String {
        let mut summary = format!(
            "{} resources in {} files",
            self.desired.resources.len(),
            self.desired.file_count
        );
        if self.warnings() > 0 {
            summary.push_str(&format!(", {} warning(s)", self.warnings()));
        }
        summary
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
    let loaded = source::load_dir(dir)
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

/// Runs `shoal validate`: prints every problem to stderr and the summary to stdout.
/// Returns whether the desired-state is valid.
pub fn run(dir: &Path, options: &ValidateOptions) -> miette::Result<bool> {
    let validation = validate_dir(dir, options).map_err(|error| miette::miette!("{error}"))?;
    print_problems(&validation);
    if validation.errors() > 0 {
        eprintln!(
            "{} error(s), {} warning(s) in {}",
            validation.errors(),
            validation.warnings(),
            dir.display()
        );
        return Ok(false);
    }
    println!("{}", validation.summary());
    Ok(true)
}

/// Prints every problem to stderr: with the offending line on a terminal, one line each
/// otherwise.
pub fn print_problems(validation: &Validation) {
    let rich = std::io::stderr().is_terminal();
    for problem in &validation.problems {
        if rich {
            eprintln!("{}", render_rich(problem));
        } else {
            eprintln!("{problem}");
        }
    }
}

/// A problem as a miette report with the offending line shown, for people at a terminal.
fn render_rich(problem: &Problem) -> String {
    let Ok(text) = std::fs::read_to_string(&problem.location.file) else {
        return problem.to_string();
    };
    let offset = byte_offset(&text, problem.location.line, problem.location.column);
    let report = SourceProblem {
        problem,
        source: NamedSource::new(problem.location.file.display().to_string(), text),
        span: LabeledSpan::at_offset(offset, "here"),
    };
    let mut out = String::new();
    match GraphicalReportHandler::new().render_report(&mut out, &report) {
        Ok(()) => out,
        Err(_) => problem.to_string(),
    }
}

fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let line_text = text[line_start..].lines().next().unwrap_or_default();
    line_start
        + line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(at, _)| at)
}

#[derive(Debug)]
struct SourceProblem<'a> {
    problem: &'a Problem,
    source: NamedSource<String>,
    span: LabeledSpan,
}

impl std::fmt::Display for SourceProblem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.problem)
    }
}

impl std::error::Error for SourceProblem<'_> {}

impl Diagnostic for SourceProblem<'_> {
    fn severity(&self) -> Option<MietteSeverity> {
        Some(match self.problem.severity {
            Severity::Error => MietteSeverity::Error,
            Severity::Warning => MietteSeverity::Warning,
        })
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(self.span.clone())))
    }
}
