//! Where every command's logs go: stderr, as text for people or JSON for log collectors,
//! so that stdout carries only what the command prints.

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Installs the logger. Without a `level` (or `RUST_LOG`), long-running commands log at
/// info, whose lines are their events; the others only warn.
pub fn init(level: Option<&str>, long_running: bool, format: LogFormat) {
    let level = level.unwrap_or(if long_running { "info" } else { "warn" });
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level))
        // bollard logs whole engine answers at debug level, env values (secrets) included.
        .add_directive("bollard=info".parse().expect("a valid directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => {
            crate::controller::events::log_for_people(false);
            builder.json().init()
        }
    }
}
