//! The `shoal` command line: parses arguments and hands them to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use shoal::commands;
use shoal::source::validate::ValidateOptions;

#[derive(Parser)]
#[command(
    name = "shoal",
    version,
    about = "A GitOps operator for Docker Swarm and GlusterFS"
)]
struct Cli {
    /// Log level (or set RUST_LOG for finer filters); default info for run and agent,
    /// whose logs are their events, warn otherwise.
    #[arg(long, global = true)]
    log_level: Option<String>,
    /// Log format: human on a terminal, json for log collectors.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// Where desired-state comes from and how strictly it is checked.
#[derive(Args)]
struct Source {
    /// The desired-state directory.
    #[arg(default_value = "desired-state")]
    dir: PathBuf,
    /// Treat warnings as errors.
    #[arg(long)]
    strict: bool,
    /// A host path (and everything under it) services may bind-mount although no
    /// GlusterVolume is mounted there. Repeatable; adds to .shoal-policy.yaml.
    #[arg(long = "allow-host-path", value_name = "PATH")]
    allow_host_paths: Vec<PathBuf>,
}

impl Source {
    fn options(&self) -> ValidateOptions {
        ValidateOptions {
            strict: self.strict,
            allow_host_paths: self.allow_host_paths.clone(),
        }
    }
}

/// Where the agents serve their status.
#[derive(Args)]
struct Agents {
    /// The port every node's agent serves /api/v1/status on, at the node's swarm address.
    #[arg(long, default_value_t = 9851)]
    agent_port: u16,
    /// Do not ask the agents: services wait only for their volume to be started.
    #[arg(long)]
    no_agents: bool,
}

impl Agents {
    fn port(&self) -> Option<u16> {
        (!self.no_agents).then_some(self.agent_port)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Check a desired-state directory and report every problem with file:line:col.
    Validate(Source),
    /// Show what apply would change. Exit 0: no changes, 2: changes pending, 1: error.
    Plan {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        agents: Agents,
        /// Print the plan as JSON (shape: docs/plan-json.md).
        #[arg(long)]
        json: bool,
    },
    /// Make the swarm match desired-state, then wait for it to converge.
    Apply {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        agents: Agents,
        /// Return once the changes are sent, without waiting for tasks.
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for convergence.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Allow deleting more than half of the managed services (or all of them).
        #[arg(long)]
        allow_mass_prune: bool,
        /// Source revision (git commit) to record on every object this apply writes.
        #[arg(long)]
        revision: Option<String>,
    },
    /// Converge this host: mount GlusterVolumes from the local server, keep their
    /// directories; serve /healthz and /api/v1/status.
    Agent {
        #[command(flatten)]
        source: Source,
        /// One pass, print the status as JSON, exit 0 when healthy and 1 otherwise.
        #[arg(long)]
        once: bool,
        /// Where to serve /healthz and /api/v1/status. shoal plan and apply read it at
        /// the node's swarm address.
        #[arg(long, default_value = "0.0.0.0:9851")]
        listen: std::net::SocketAddr,
        /// Time between passes.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        interval: Duration,
        /// Keep an fstab line (with _netdev) for every volume.
        #[arg(long)]
        manage_fstab: bool,
        /// The fstab file to manage.
        #[arg(long, default_value = "/etc/fstab")]
        fstab: PathBuf,
    },
    /// The operator: converge desired-state (a directory, watched, or a git repository)
    /// continuously, correct or report drift, serve status, events and metrics.
    Run {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        agents: Agents,
        /// Fetch desired-state from this git repository (any URL git accepts) instead of
        /// watching DIR.
        #[arg(long)]
        git_url: Option<String>,
        /// Branch, tag or commit to follow (default: the remote's HEAD).
        #[arg(long)]
        git_ref: Option<String>,
        /// Subdirectory of the repository holding desired-state.
        #[arg(long)]
        git_path: Option<PathBuf>,
        /// Time between fetches.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        git_interval: Duration,
        /// Where fetched revisions are kept.
        #[arg(long, default_value = "/var/lib/shoal/git")]
        git_cache: PathBuf,
        /// Poll DIR at this interval instead of relying on inotify (network filesystems).
        #[arg(long, value_parser = humantime::parse_duration)]
        poll_interval: Option<Duration>,
        /// Where to serve /healthz, /readyz, /metrics, /api/v1/status and /api/v1/events.
        #[arg(long, default_value = "127.0.0.1:9850")]
        listen: std::net::SocketAddr,
        /// Look at everything this often (with jitter): swarm sends no event for some changes.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        resync: Duration,
        /// Quiet time that ends a burst of changes before a reconcile.
        #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
        debounce: Duration,
        /// Reconciles running at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Allow deleting more than half of the managed services (or all of them).
        #[arg(long)]
        allow_mass_prune: bool,
        /// The swarm config holding the lease that lets one instance act.
        #[arg(long, default_value = "shoal-lease")]
        lease_name: String,
        /// A lease not renewed for this long is taken over.
        #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
        lease_ttl: Duration,
        /// This instance's name in the lease and events (default: HOSTNAME-PID-RANDOM).
        #[arg(long)]
        identity: Option<String>,
    },
    /// Print the status of a running `shoal run` as a table.
    Status {
        /// The instance's address.
        #[arg(long, default_value = "http://127.0.0.1:9850")]
        server: String,
    },
    /// Write the JSON Schema of every resource kind (to stdout without --out).
    Schema {
        /// Directory to write KIND.schema.json files into, e.g. crds/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn init_logging(level: &str, format: LogFormat) {
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
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> miette::Result<ExitCode> {
    let cli = Cli::parse();
    let long_running = matches!(cli.command, Command::Run { .. } | Command::Agent { .. });
    let level = cli
        .log_level
        .clone()
        .unwrap_or_else(|| if long_running { "info" } else { "warn" }.to_string());
    init_logging(&level, cli.log_format);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| miette::miette!("{e}"))?;
    let code = match cli.command {
        Command::Validate(source) => {
            u8::from(!commands::validate::run(&source.dir, &source.options())?)
        }
        Command::Plan {
            source,
            agents,
            json,
        } => runtime.block_on(commands::plan::run(
            &source.dir,
            &source.options(),
            agents.port(),
            json,
        ))?,
        Command::Apply {
            source,
            agents,
            no_wait,
            timeout,
            allow_mass_prune,
            revision,
        } => {
            let options = commands::apply::ApplyOptions {
                validate: source.options(),
                wait: !no_wait,
                timeout,
                allow_mass_prune,
                revision,
                agent_port: agents.port(),
            };
            runtime.block_on(commands::apply::run(&source.dir, &options))?
        }
        Command::Agent {
            source,
            once,
            listen,
            interval,
            manage_fstab,
            fstab,
        } => {
            let options = shoal::agent::AgentOptions {
                dir: source.dir.clone(),
                validate: source.options(),
                manage_fstab,
                fstab,
                interval,
            };
            runtime.block_on(commands::agent::run(options, once, listen))?
        }
        Command::Run {
            source,
            agents,
            git_url,
            git_ref,
            git_path,
            git_interval,
            git_cache,
            poll_interval,
            listen,
            resync,
            debounce,
            concurrency,
            allow_mass_prune,
            lease_name,
            lease_ttl,
            identity,
        } => {
            use shoal::controller::run::{RunOptions, SourceOptions};
            let source_options = match git_url {
                Some(url) => SourceOptions::Git {
                    git: shoal::source::git::GitSource {
                        url,
                        reference: git_ref,
                        path: git_path,
                        cache: git_cache,
                    },
                    interval: git_interval,
                },
                None => SourceOptions::Dir {
                    dir: source.dir.clone(),
                    poll: poll_interval,
                },
            };
            let identity = identity.unwrap_or_else(|| {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
                // The pid alone repeats across containers (pid 1): a random suffix keeps
                // two instances from both believing they hold the lease.
                format!(
                    "{}-{}-{:04x}",
                    host.trim(),
                    std::process::id(),
                    fastrand::u16(..)
                )
            });
            let options = RunOptions {
                source: source_options,
                validate: source.options(),
                listen,
                resync,
                debounce,
                concurrency,
                agent_port: agents.port(),
                allow_mass_prune,
                lease_name,
                lease_ttl,
                identity,
            };
            runtime.block_on(commands::run::run(options))?
        }
        Command::Status { server } => runtime.block_on(commands::status::run(&server))?,
        Command::Schema { out } => {
            commands::schema::run(out.as_deref())?;
            0
        }
    };
    Ok(ExitCode::from(code))
}
