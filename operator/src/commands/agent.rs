//! `shoal agent`: one pass printed as JSON (`--once`), or passes forever with a status
//! endpoint.

use crate::agent::{self, AgentOptions};

/// Runs the agent; returns the exit code.
pub async fn run(
    options: AgentOptions,
    once: bool,
    listen: std::net::SocketAddr,
) -> miette::Result<u8> {
    if once {
        let status = agent::reconcile(&options, &mut None).await;
        println!(
            "{}",
            serde_json::to_string_pretty(&status).expect("a status always serializes")
        );
        return Ok(if status.healthy() { 0 } else { 1 });
    }
    agent::serve(options, listen)
        .await
        .map_err(|e| miette::miette!("agent: {e}"))?;
    Ok(0)
}
