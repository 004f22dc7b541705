//! The `shoal` command line: parses arguments and hands them to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use shoal::agent::AgentOptions;
use shoal::commands::apply::ApplyOptions;
use shoal::commands::{self, logging};
use shoal::controller::notify::{NotifyOptions, Severity};
use shoal::controller::run::{RunOptions, SourceOptions};
use shoal::doctor::DoctorOptions;
use shoal::import::compose::ComposeOptions;
use shoal::import::swarm::Selection;
use shoal::source::data::AgeKey;
use shoal::source::git::GitSource;
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
    /// A file of age identities that decrypts the SOPS and age files of Secrets and
    /// Configs (as sops reads SOPS_AGE_KEY_FILE).
    #[arg(long, value_name = "FILE", env = "SOPS_AGE_KEY_FILE")]
    age_key_file: Option<PathBuf>,
    /// The name of an environment variable holding the age identities instead.
    #[arg(long, value_name = "NAME", conflicts_with = "age_key_file")]
    age_key_env: Option<String>,
}

impl Source {
    fn options(&self) -> ValidateOptions {
        let age_key = match (&self.age_key_file, &self.age_key_env) {
            (Some(file), _) => Some(AgeKey::File(file.clone())),
            (None, Some(name)) => Some(AgeKey::Env(name.clone())),
            (None, None) => None,
        };
        ValidateOptions {
            strict: self.strict,
            allow_host_paths: self.allow_host_paths.clone(),
            age_key,
            skip_data: false,
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

/// The doctor's canary (docs/doctor.md).
#[derive(Args)]
struct Canary {
    /// The image of the doctor's canary service on each managed overlay: busybox (its sh,
    /// httpd, nc, timeout, grep, sed, ping and nslookup), present or pullable on every node.
    #[arg(long, default_value = "busybox:1.36")]
    canary_image: String,
    /// How long the canary may take to run on every ready node.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    canary_timeout: Duration,
}

impl Canary {
    /// `patience`: how long to wait for another examination under way.
    fn options(&self, agent_port: u16, patience: Duration) -> DoctorOptions {
        DoctorOptions {
            agent_port,
            canary_image: self.canary_image.clone(),
            canary_timeout: self.canary_timeout,
            patience,
        }
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
    Apply(ApplyArgs),
    /// Find the network, DNS and storage faults that break a swarm silently: ports
    /// between the nodes, the overlays (a canary service), service discovery, gluster,
    /// engine versions and clocks. Exit 0: every check passed, 2: one failed, 1: error.
    Doctor {
        #[command(flatten)]
        source: Source,
        /// The port every node's agent listens on (the probes run there).
        #[arg(long, default_value_t = 9851)]
        agent_port: u16,
        #[command(flatten)]
        canary: Canary,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Converge this host: mount GlusterVolumes from the local server, keep their
    /// directories; serve /healthz and /api/v1/status.
    Agent(AgentArgs),
    /// The operator: converge desired-state (a directory, watched, or a git repository)
    /// continuously, correct or report drift, serve status, events and metrics.
    Run(Box<RunArgs>),
    /// Print the status of a running `shoal run` as a table.
    Status {
        /// The instance's address.
        #[arg(long, default_value = "http://127.0.0.1:9850")]
        server: String,
    },
    /// Write desired-state from what people run today.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write the JSON Schema of every resource kind (to stdout without --out).
    Schema {
        /// Directory to write KIND.schema.json files into, e.g. crds/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// From compose files, read as `docker stack deploy -c FILE...` reads them: one
    /// resource file per service; every field not carried over is printed with its
    /// file:line. Existing files are never overwritten.
    Compose {
        /// Compose files, merged in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Variables for ${VAR} (default: .env next to the first file); the environment
        /// overrides them.
        #[arg(long)]
        env_file: Option<PathBuf>,
        /// The stack the files run as (`docker stack deploy ... NAME`): resources keep
        /// its names (NAME_web, NAME_default), so shoal can take the stack over.
        #[arg(long)]
        stack: Option<String>,
        /// With --stack: name services and networks as the compose file does (web), so
        /// shoal creates them beside the stack's: a delete and create, not a take-over.
        #[arg(long, requires = "stack")]
        rename: bool,
        /// Directory to write services/ and networks/ into.
        #[arg(long, default_value = "desired-state")]
        out: PathBuf,
    },
    /// From the running swarm (DOCKER_HOST): services, the networks they use and node
    /// labels, read as shoal's diff reads them, each annotated to be adopted in place.
    Swarm {
        /// Only the services of this stack (`docker stack deploy ... NAME`).
        #[arg(long, conflicts_with = "service")]
        stack: Option<String>,
        /// Only these services (repeatable).
        #[arg(long)]
        service: Vec<String>,
        /// Directory to write services/, networks/ and nodes/ into.
        #[arg(long, default_value = "desired-state")]
        out: PathBuf,
    },
}

#[derive(Args)]
struct ApplyArgs {
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
}

#[derive(Args)]
struct AgentArgs {
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
}

#[derive(Args)]
struct RunArgs {
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
    /// Where to serve /healthz, /readyz, /metrics, /api/v1/status, /api/v1/events and the
    /// push webhook.
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
    /// How long a node back from a crash stays ready before shoal moves tasks back onto it
    /// (a node that goes down again meanwhile starts over).
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    rebalance_settle: Duration,
    /// A file holding the secret that GitHub, Gitea/Forgejo or GitLab push webhooks are
    /// signed with: POST /api/v1/webhook/git then fetches at once (with --git-url).
    #[arg(long, value_name = "FILE")]
    webhook_secret_file: Option<PathBuf>,
    #[command(flatten)]
    notify: Notify,
    /// Run the doctor's checks this often (0s: never); failures are the NetworkDegraded
    /// condition and events. Needs the agents.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    doctor_interval: Duration,
    #[command(flatten)]
    canary: Canary,
}

/// Where events are posted (docs/run.md, Notifications).
#[derive(Args)]
struct Notify {
    /// Post events to this webhook (repeatable): http(s)://... gets each event as JSON,
    /// slack+https://... and https://hooks.slack.com/... a Slack-compatible message. The
    /// URL is a credential, and a command line is visible to `ps`: see --notify-file.
    #[arg(long = "notify", value_name = "URL")]
    urls: Vec<String>,
    /// A file of webhook URLs as --notify takes them, one a line (`#` starts a comment).
    #[arg(long = "notify-file", value_name = "PATH")]
    file: Option<PathBuf>,
    /// The reasons notified, comma-separated, or `all` [default: ApplyFailed,
    /// DriftDetected, DriftCorrected, NodeDown, NodeReady, VolumeDegraded, Healed,
    /// TaskOOMKilled, CrashLooping, InvalidRevision, SourceFailed].
    #[arg(long = "notify-reasons", value_name = "REASONS")]
    reasons: Option<String>,
    /// `warning`: notify only warnings; `info`: every event the reasons let through.
    #[arg(long = "notify-severity", value_enum, default_value = "info")]
    severity: NotifySeverity,
}

#[derive(Clone, Copy, ValueEnum)]
enum NotifySeverity {
    Info,
    Warning,
}

impl Notify {
    fn options(self) -> NotifyOptions {
        NotifyOptions {
            urls: self.urls,
            file: self.file,
            reasons: self.reasons,
            severity: match self.severity {
                NotifySeverity::Info => Severity::Info,
                NotifySeverity::Warning => Severity::Warning,
            },
        }
    }
}

impl From<LogFormat> for logging::LogFormat {
    fn from(format: LogFormat) -> Self {
        match format {
            LogFormat::Human => logging::LogFormat::Human,
            LogFormat::Json => logging::LogFormat::Json,
        }
    }
}

impl ApplyArgs {
    fn options(&self) -> ApplyOptions {
        ApplyOptions {
            validate: self.source.options(),
            wait: !self.no_wait,
            timeout: self.timeout,
            allow_mass_prune: self.allow_mass_prune,
            revision: self.revision.clone(),
            agent_port: self.agents.port(),
        }
    }
}

impl AgentArgs {
    fn options(&self) -> AgentOptions {
        AgentOptions {
            dir: self.source.dir.clone(),
            validate: ValidateOptions {
                skip_data: true,
                ..self.source.options()
            },
            manage_fstab: self.manage_fstab,
            fstab: self.fstab.clone(),
            interval: self.interval,
        }
    }
}

impl RunArgs {
    fn options(self) -> RunOptions {
        let source = match self.git_url {
            Some(url) => SourceOptions::Git {
                git: GitSource {
                    url,
                    reference: self.git_ref,
                    path: self.git_path,
                    cache: self.git_cache,
                },
                interval: self.git_interval,
            },
            None => SourceOptions::Dir {
                dir: self.source.dir.clone(),
                poll: self.poll_interval,
            },
        };
        RunOptions {
            source,
            validate: self.source.options(),
            listen: self.listen,
            resync: self.resync,
            debounce: self.debounce,
            concurrency: self.concurrency,
            agent_port: self.agents.port(),
            allow_mass_prune: self.allow_mass_prune,
            lease_name: self.lease_name,
            lease_ttl: self.lease_ttl,
            identity: self
                .identity
                .unwrap_or_else(commands::run::default_identity),
            rebalance_settle: self.rebalance_settle,
            webhook_secret_file: self.webhook_secret_file,
            notify: self.notify.options(),
            doctor: match (self.agents.port(), self.doctor_interval.is_zero()) {
                // Another examination under way (`shoal doctor`): this one is skipped.
                (Some(port), false) => Some((
                    self.doctor_interval,
                    self.canary.options(port, Duration::ZERO),
                )),
                _ => None,
            },
        }
    }
}

fn main() -> miette::Result<ExitCode> {
    let cli = Cli::parse();
    let long_running = matches!(cli.command, Command::Run(_) | Command::Agent(_));
    logging::init(
        cli.log_level.as_deref(),
        long_running,
        cli.log_format.into(),
    );
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
        Command::Doctor {
            source,
            agent_port,
            canary,
            json,
        } => runtime.block_on(commands::doctor::run(
            &source.dir,
            &source.options(),
            // Another examination under way (shoal run's): waited for.
            &canary.options(agent_port, Duration::from_secs(5 * 60)),
            json,
        ))?,
        Command::Apply(args) => {
            runtime.block_on(commands::apply::run(&args.source.dir, &args.options()))?
        }
        Command::Agent(args) => {
            runtime.block_on(commands::agent::run(args.options(), args.once, args.listen))?
        }
        Command::Run(args) => runtime.block_on(commands::run::run(args.options()))?,
        Command::Status { server } => runtime.block_on(commands::status::run(&server))?,
        Command::Import(ImportCommand::Compose {
            files,
            env_file,
            stack,
            rename,
            out,
        }) => commands::import::compose(
            &ComposeOptions {
                files,
                env_file,
                stack,
                rename,
            },
            &out,
        )?,
        Command::Import(ImportCommand::Swarm {
            stack,
            service,
            out,
        }) => {
            let selection = match (stack, service.is_empty()) {
                (Some(stack), _) => Selection::Stack(stack),
                (None, false) => Selection::Services(service),
                (None, true) => Selection::All,
            };
            runtime.block_on(commands::import::swarm(&selection, &out))?
        }
        Command::Schema { out } => {
            commands::schema::run(out.as_deref())?;
            0
        }
    };
    Ok(ExitCode::from(code))
}
