//! `shoal schema`: writes the JSON Schema of every kind, or prints them.

use std::path::Path;

use miette::{Context, IntoDiagnostic};

use crate::schema;

/// Writes one `KIND.schema.json` per kind into `out`, or prints them all when `out` is
/// `None`.
pub fn run(out: Option<&Path>) -> miette::Result<()> {
    let schemas = schema::all();
    let Some(out) = out else {
        for (name, text) in schemas {
            println!("# {name}\n{text}");
        }
        return Ok(());
    };
    std::fs::create_dir_all(out)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot create {}", out.display()))?;
    for (name, text) in schemas {
        let path = out.join(&name);
        std::fs::write(&path, text)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
