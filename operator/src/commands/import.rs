//! `shoal import compose`: reads compose files, prints every field not carried over
//! (file:line: field: why) to stderr, writes the resources, and says what it wrote.

use std::path::Path;

use crate::import::compose::{self, ComposeOptions};
use crate::import::write;

/// Runs the import; returns the exit code (1 when nothing was written).
pub fn compose(options: &ComposeOptions, out: &Path) -> miette::Result<u8> {
    let imported = match compose::import(options) {
        Ok(imported) => imported,
        Err(error) => {
            eprintln!("{error}");
            eprintln!("nothing was written");
            return Ok(1);
        }
    };
    for note in &imported.notes {
        eprintln!("{note}");
    }
    let command = match &options.stack {
        Some(stack) => format!("shoal import compose --stack {stack}"),
        None => "shoal import compose".to_string(),
    };
    let files = write::render(&imported.resources, &command);
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
            Ok(0)
        }
        Err(error) => {
            eprintln!("{error}");
            Ok(1)
        }
    }
}
