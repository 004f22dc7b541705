//! `shoal apply`: plan, refuse what must not run (an invalid desired-state, a mass
//! prune), make the changes, and wait until the swarm has converged on them.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use bollard::Docker;

use crate::commands::plan::prepare;
use crate::plan::{self, Action};
use crate::resources::Kind;
use crate::source::validate::ValidateOptions;
use crate::swarm::apply::{self, ApplyReport};
use crate::swarm::wait::{self, Progress, ServiceState};

/// How to apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub validate: ValidateOptions,
    /// Wait for convergence after the changes (the default).
    pub wait: bool,
    pub timeout: Duration,
    /// Allow deleting more than half the managed services, or all of them.
    pub allow_mass_prune: bool,
    /// The source revision to record on every object.
    pub revision: Option<String>,
    /// The port the agents serve their status on; `None`: agents are not asked.
    pub agent_port: Option<u16>,
}

/// Runs `shoal apply`; returns the exit code (0 converged, 1 anything else).
pub async fn run(dir: &Path, options: &ApplyOptions) -> miette::Result<u8> {
    let Some(prepared) = prepare(dir, &options.validate, options.agent_port).await? else {
        return Ok(1);
    };
    let (desired, live, plan) = (&prepared.validation.desired, &prepared.live, &prepared.plan);
    print!(
        "{}",
        plan::render::text(plan, std::io::stdout().is_terminal())
    );
    if !options.allow_mass_prune
        && let Some(refusal) = plan::prune_refusal(plan, desired, live)
    {
        eprintln!("error: {refusal}. Nothing was changed.");
        return Ok(1);
    }

    let report = match apply::apply(
        &prepared.docker,
        desired,
        plan,
        live,
        options.revision.as_deref(),
    )
    .await
    {
        Ok(report) => report,
        Err(error) => {
            eprintln!(
                "error: {error} ({} engine write(s) made before it)",
                error.engine_writes
            );
            return Ok(1);
        }
    };
    for change in &report.applied {
        println!(
            "{}/{}: {}",
            change.kind,
            change.name,
            past_tense(change.action)
        );
    }

    let converged =
        !options.wait || wait_for_services(&prepared.docker, &report, options.timeout).await;
    let blocked = plan.blocked();
    println!("{}", summary(&report, blocked, converged));
    Ok(if converged && blocked == 0 { 0 } else { 1 })
}

/// Waits for the services just created or updated, showing their progress; returns
/// whether they all converged.
async fn wait_for_services(docker: &Docker, report: &ApplyReport, timeout: Duration) -> bool {
    let to_wait: Vec<String> = report
        .applied
        .iter()
        .filter(|c| c.kind == Kind::Service && c.action != Action::Delete)
        .map(|c| c.name.clone())
        .collect();
    if to_wait.is_empty() {
        return true;
    }
    println!(
        "Waiting for {} service(s) to converge (timeout {})...",
        to_wait.len(),
        humantime::format_duration(timeout)
    );
    let live_display = std::io::stdout().is_terminal();
    let mut last: Vec<Progress> = Vec::new();
    let result = wait::converge(docker, &to_wait, timeout, |progress| {
        show_progress(progress, &mut last, live_display)
    })
    .await;
    if live_display {
        println!();
    }
    match result {
        Ok(()) => true,
        Err(error) => {
            eprintln!("error: {error}");
            false
        }
    }
}

/// The last line: whether the apply is complete, and what it did.
fn summary(report: &ApplyReport, blocked: usize, converged: bool) -> String {
    let count = |action| report.applied.iter().filter(|c| c.action == action).count();
    format!(
        "Apply {}: {} created, {} updated, {} deleted, {} replaced, {}{} blocked; {} engine write(s), {} conflict(s) retried.",
        if converged && blocked == 0 {
            "complete"
        } else {
            "incomplete"
        },
        count(Action::Create),
        count(Action::Update),
        count(Action::Delete),
        count(Action::Replace),
        match count(Action::Adopt) {
            0 => String::new(),
            adopted => format!("{adopted} adopted, "),
        },
        blocked,
        report.engine_writes,
        report.conflicts_retried,
    )
}

fn past_tense(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Delete => "deleted",
        Action::Replace => "replaced",
        Action::Adopt => "adopted",
    }
}

/// On a terminal, one line rewritten in place; otherwise a line per service whenever its
/// count changes, so logs stay readable.
fn show_progress(progress: &[Progress], last: &mut Vec<Progress>, live_display: bool) {
    let describe = |p: &Progress| {
        let mark = match p.state {
            ServiceState::Converged => " ✓",
            ServiceState::Failed(_) => " ✗",
            ServiceState::Converging => "",
        };
        format!("{}: {}/{} running{mark}", p.service, p.running, p.desired)
    };
    if live_display {
        let line: Vec<String> = progress.iter().map(describe).collect();
        print!("\r\x1b[K  {}", line.join("  "));
        let _ = std::io::stdout().flush();
    } else {
        for p in progress {
            if !last.contains(p) {
                println!("  {}", describe(p));
            }
        }
    }
    *last = progress.to_vec();
}
