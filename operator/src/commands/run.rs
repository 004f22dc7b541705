//! `shoal run`: the operator, until SIGTERM.

use crate::controller::run::{self, RunOptions};

/// Runs the operator; returns the exit code (0 after a clean stop).
pub async fn run(options: RunOptions) -> miette::Result<u8> {
    run::run(options)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(0)
}
