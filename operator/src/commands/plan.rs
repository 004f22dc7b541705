//! `shoal plan`: what apply would change, like `terraform plan -detailed-exitcode`:
//! exit 0 when the swarm matches, 2 when changes are pending, 1 on error.

use std::io::IsTerminal;
use std::path::Path;

use bollard::Docker;

use crate::commands::validate::print_problems;
use crate::observe::live::Live;
use crate::plan::{self, Plan};
use crate::source::validate::{ValidateOptions, Validation, validate_dir};
use crate::swarm::engine;

/// The validated desired-state, the engine, what it runs, and the plan between them.
pub struct Prepared {
    pub validation: Validation,
    pub docker: Docker,
    pub live: Live,
    pub plan: Plan,
}

/// Validates `dir` (printing its problems), then observes the swarm, GlusterFS and the
/// agents on `agent_port` (`None`: agents are not asked), and plans. `None` when
/// desired-state has errors: nothing may be planned from it.
pub async fn prepare(
    dir: &Path,
    options: &ValidateOptions,
    agent_port: Option<u16>,
) -> miette::Result<Option<Prepared>> {
    let validation = validate_dir(dir, options).map_err(|error| miette::miette!("{error}"))?;
    print_problems(&validation);
    if validation.errors() > 0 {
        eprintln!(
            "{} error(s) in {}: nothing is planned or applied",
            validation.errors(),
            dir.display()
        );
        return Ok(None);
    }
    let docker = engine::connect()
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    let live = crate::observe::observe(&docker, &validation.desired, agent_port)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    let plan = plan::plan(&validation.desired, &live);
    Ok(Some(Prepared {
        validation,
        docker,
        live,
        plan,
    }))
}

/// Runs `shoal plan`; returns the exit code.
pub async fn run(
    dir: &Path,
    options: &ValidateOptions,
    agent_port: Option<u16>,
    json: bool,
) -> miette::Result<u8> {
    let Some(prepared) = prepare(dir, options, agent_port).await? else {
        return Ok(1);
    };
    let plan = &prepared.plan;
    if json {
        print!("{}", plan::render::json(plan));
    } else {
        print!(
            "{}",
            plan::render::text(plan, std::io::stdout().is_terminal())
        );
    }
    Ok(if plan.has_changes() { 2 } else { 0 })
}
