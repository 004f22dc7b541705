//! `shoal doctor`: examines the swarm's network, DNS and storage once and prints what it
//! found (or JSON). Exit 0 when every check passed (warnings allowed), 2 when one
//! failed, 1 when the examination itself could not run.

use std::path::Path;

use crate::commands::validate::print_problems;
use crate::doctor::{self, DoctorOptions};
use crate::source::validate::{ValidateOptions, validate_dir};
use crate::swarm::engine;

/// Runs `shoal doctor`; returns the exit code.
pub async fn run(
    dir: &Path,
    validate: &ValidateOptions,
    options: &DoctorOptions,
    json: bool,
) -> miette::Result<u8> {
    let validation = validate_dir(dir, validate).map_err(|error| miette::miette!("{error}"))?;
    print_problems(&validation);
    if validation.errors() > 0 {
        eprintln!(
            "{} error(s) in {}: the doctor needs desired-state to know what shoal manages",
            validation.errors(),
            dir.display()
        );
        return Ok(1);
    }
    let docker = engine::connect()
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    let report = doctor::examine(&docker, &validation.desired, options)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report always serializes")
        );
    } else {
        print!("{}", doctor::render::text(&report));
    }
    Ok(if report.degraded() { 2 } else { 0 })
}
