//! `shoal run`: the operator, until SIGTERM.

use crate::controller::run::{self, RunOptions};

/// Runs the operator; returns the exit code (0 after a clean stop).
pub async fn run(options: RunOptions) -> miette::Result<u8> {
    run::run(options)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(0)
}

/// This instance's name when none is given: `HOSTNAME-PID-RANDOM`.
pub fn default_identity() -> String {
    let host = crate::host::hostname();
    // The pid alone repeats across containers (pid 1): a random suffix keeps two instances
    // from both believing they hold the lease.
    format!("{}-{}-{:04x}", host, std::process::id(), fastrand::u16(..))
}
