//! `shoal validate`, and how every command shows desired-state problems to people: each
//! with its offending line on a terminal, one line each otherwise. The loading and
//! checking itself is `source::validate`.

use std::io::IsTerminal;
use std::path::Path;

use miette::{
    Diagnostic, GraphicalReportHandler, LabeledSpan, NamedSource, Severity as MietteSeverity,
};

use crate::diagnostics::{Problem, Severity};
use crate::source::validate::{ValidateOptions, Validation, validate_dir};

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
    println!("{}", summary(&validation));
    Ok(true)
}

/// `N resources in M files`, with the warning count when there are some.
fn summary(validation: &Validation) -> String {
    let mut summary = format!(
        "{} resources in {} files",
        validation.desired.resources.len(),
        validation.desired.file_count
    );
    if validation.warnings() > 0 {
        summary.push_str(&format!(", {} warning(s)", validation.warnings()));
    }
    summary
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
