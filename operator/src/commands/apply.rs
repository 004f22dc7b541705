//! `shoal apply`: plan, refuse what must not run (an invalid desired-state, a mass
//! prune), make the changes, and wait until the swarm has converged on them.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use crate::commands::plan::prepare;
use crate::plan::{self, Action};
use crate::resources::Kind;
use crate::source::validate::ValidateOptions;
use crate::swarm::apply;
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

    let to_wait: Vec<String> = report
        .applied
        .iter()
        .filter(|c| c.kind == Kind::Service && c.action != Action::Delete)
        .map(|c| c.name.clone())
        .collect();
    let mut converged = true;
    if options.wait && !to_wait.is_empty() {
        println!(
            "Waiting for {} service(s) to converge (timeout {})...",
            to_wait.len(),
            humantime::format_duration(options.timeout)
        );
        let live_display = std::io::stdout().is_terminal();
        let mut last: Vec<Progress> = Vec::new();
        let result = wait::converge(&prepared.docker, &to_wait, options.timeout, |progress| {
            show_progress(progress, &mut last, live_display)
        })
        .await;
        if live_display {
            println!();
        }
        if let Err(error) = result {
            eprintln!("error: {error}");
            converged = false;
        }
    }

    let blocked = plan.blocked();
    let count = |action| report.applied.iter().filter(|c| c.action == action).count();
    println!(
        "Apply {}: {} created, {} updated, {} deleted, {} replaced, {} blocked; {} engine write(s), {} conflict(s) retried.",
        if converged && blocked == 0 {
            "complete"
        } else {
            "incomplete"
        },
        count(Action::Create),
        count(Action::Update),
        count(Action::Delete),
        count(Action::Replace),
        blocked,
        report.engine_writes,
        report.conflicts_retried,
    );
    Ok(if converged && blocked == 0 { 0 } else { 1 })
}

fn past_tense(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Delete => "deleted",
        Action::Replace => "replaced",
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
