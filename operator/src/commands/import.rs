//! `shoal import compose` and `shoal import swarm`: read what people run today, print
//! every field not carried over (where it was written: why) to stderr, write the
//! resources, and say what was written.

use std::path::Path;

use crate::import::compose::{self, ComposeOptions};
use crate::import::swarm::{self, Selection};
use crate::import::{Imported, write};
use crate::swarm::engine;

/// `shoal import compose`; returns the exit code (1 when nothing was written).
pub fn compose(options: &ComposeOptions, out: &Path) -> miette::Result<u8> {
    let imported = match compose::import(options) {
        Ok(imported) => imported,
        Err(error) => {
            eprintln!("{error}");
            eprintln!("nothing was written");
            return Ok(1);
        }
    };
    let command = match &options.stack {
        Some(stack) => format!("shoal import compose --stack {stack}"),
        None => "shoal import compose".to_string(),
    };
    Ok(write_out(&imported, &command, out))
}

/// `shoal import swarm`: from the engine DOCKER_HOST names.
pub async fn swarm(selection: &Selection, out: &Path) -> miette::Result<u8> {
    let docker = engine::connect()
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    let live = crate::observe::swarm::observe(&docker)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    let imported = swarm::from_live(&live, selection);
    if !imported
        .resources
        .iter()
        .any(|r| matches!(r.spec, crate::import::ImportedSpec::Service(_)))
    {
        eprintln!("no running service matches: nothing was written");
        return Ok(1);
    }
    Ok(write_out(&imported, "shoal import swarm", out))
}

fn write_out(imported: &Imported, command: &str, out: &Path) -> u8 {
    for note in &imported.notes {
        eprintln!("{note}");
    }
    let files = write::render(&imported.resources, command);
    match write::write(out, &files) {
        Ok(written) => {
            for path in &written {
                println!("wrote {}", path.display());
            }
            println!(
                "{} resources written to {}; {} field(s) not carried over (above)",
                written.len(),
                out.display(),
                imported.notes.len()
            );
            0
        }
        Err(error) => {
            eprintln!("{error}");
            1
        }
    }
}
