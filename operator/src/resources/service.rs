//! The `Service` kind: one Docker Swarm service, written the way `docker service create`
//! and compose files spell things, so people can move their stacks over field by field.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::quantity::{Cpus, Duration, MemorySize};

/// Default file mode of a mounted secret, as the docker CLI sets it.
pub const SECRET_DEFAULT_MODE: u32 = 0o444;

/// Desired state of a swarm service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    /// Image reference, e.g. `nginx:1.25` or `registry.local/app@sha256:...`.
    pub image: String,
    /// `replicated` (a fixed number of tasks, the default) or `global` (one task per node).
    #[serde(default)]
    pub mode: ServiceMode,
    /// Number of tasks in `replicated` mode (default 1). Not allowed with `mode: global`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// Overrides the image's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Overrides the image's default arguments (CMD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Environment variables. Anything secret comes from a swarm secret (`secretFile`),
    /// never a literal value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Swarm secrets mounted as files under `/run/secrets/`: a `Secret` resource's
    /// name, or a secret made out of band.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretRef>,
    /// Swarm configs mounted as files: a `Config` resource's name, or a config made out
    /// of band.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<ConfigRef>,
    /// Published ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Bind mounts, named volumes and tmpfs mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Names of the networks the tasks attach to (declared as `Network` resources, or
    /// `host` / `ingress`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// Where tasks may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Memory and CPU limits and reservations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// How tasks are restarted when they exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// How a change rolls out over the tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    /// How a failed rollout is rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<UpdateConfig>,
    /// Container health check; overrides the image's HEALTHCHECK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Time to wait after SIGTERM before the container is killed (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    /// Labels on the swarm service (not on its containers).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Labels on the service's containers (compose's service `labels`). Changing them
    /// replaces the tasks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub container_labels: BTreeMap<String, String>,
    /// The containers' hostname (default: the container ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The user the process runs as: `name`, `uid`, `uid:gid` (default: the image's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The process's working directory (default: the image's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Run an init process (docker-init) as PID 1 that reaps zombies and forwards signals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Kernel capabilities added to the default set, as the engine names them
    /// (`CAP_NET_ADMIN`, or `ALL`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Kernel capabilities dropped from the default set (`CAP_MKNOD`, or `ALL`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Resources (`Service/db`, `GlusterVolume/storage`) that must be Healthy before this
    /// service is created or updated; a rollout of a Service named here waits until this
    /// service's own rollout is done. Not a swarm field: it orders shoal's writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// Scheduling mode of a service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceMode {
    /// A fixed number of tasks spread by the scheduler.
    #[default]
    Replicated,
    /// Exactly one task on every node that satisfies the placement constraints.
    Global,
}

/// One environment variable: a literal `value`, or `secretFile`, the path of a mounted
/// swarm secret (the `*_FILE` convention of the official images).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Literal value. Forbidden for names that look secret (PASSWORD, SECRET, TOKEN, KEY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Name of a swarm secret: the variable is set to its file path
    /// (`/run/secrets/NAME`) and the secret is attached to the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<String>,
}

/// A swarm secret exposed to the service as a file: a `Secret` resource (its value from
/// a key-decrypted file, the host or generated: never in git in the clear), or a secret
/// created out of band (`docker secret create`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// Name of the swarm secret.
    pub source: String,
    /// File name under `/run/secrets/` (default: the secret's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Owner uid of the file (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Owner gid of the file (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// File mode as an octal string, e.g. `"0400"` (default `"0444"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// A swarm config exposed to the service as a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigRef {
    /// Name of the `Config` resource (or of a swarm config made out of band).
    pub source: String,
    /// Absolute path of the file in the container (default: `/` and the source's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Owner uid of the file (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Owner gid of the file (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// File mode as an octal string, e.g. `"0440"` (default `"0444"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

impl ConfigRef {
    /// Where the file goes: `target`, or `/` and the source's name (as the docker CLI
    /// does).
    pub fn target_path(&self) -> String {
        self.target
            .clone()
            .unwrap_or_else(|| format!("/{}", self.source))
    }
}

/// A published port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// Port inside the container (1-65535).
    pub target: u32,
    /// Port on the host (host mode) or on every node's routing mesh (ingress mode).
    /// Omitted: the engine picks one from 30000-32767 in ingress mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<u32>,
    /// `tcp` (default), `udp` or `sctp`.
    #[serde(default)]
    pub protocol: Protocol,
    /// `ingress` (the routing mesh, the default) or `host` (bound on the node running the
    /// task: no mesh, the client address is kept, connections are not dropped by IPVS).
    #[serde(default)]
    pub publish_mode: PublishMode,
}

/// Transport protocol of a port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

/// How a port is published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    /// Through the swarm routing mesh on every node.
    #[default]
    Ingress,
    /// Directly on the node that runs the task.
    Host,
}

/// A mount into the service's containers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mount {
    /// `bind` (a host path: must lie under a GlusterVolume mountPoint or an allowed host
    /// path), `volume` (a named volume local to the node) or `tmpfs`.
    #[serde(rename = "type")]
    pub kind: MountKind,
    /// Host path (bind) or volume name (volume). Not allowed for tmpfs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Absolute path inside the container.
    pub target: String,
    /// Mount read-only (bind and volume).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Size limit of a tmpfs mount, e.g. `64M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<MemorySize>,
}

/// Kind of mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

/// Placement of tasks on nodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    /// Constraints all of which a node must meet: `KEY == VALUE` or `KEY != VALUE`, KEY
    /// one of node.id, node.hostname, node.role, node.platform.os, node.platform.arch,
    /// node.labels.NAME, engine.labels.NAME.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// Spread preferences, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<SpreadPreference>,
    /// At most this many tasks of the service on one node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u64>,
}

/// Spread tasks evenly over the values of a node label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpreadPreference {
    /// The label to spread over, e.g. `node.labels.zone`.
    pub spread: String,
}

/// Resource limits and reservations of each task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// Hard caps: a task above its memory limit is OOM-killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceAmounts>,
    /// What the scheduler sets aside on a node for each task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservations: Option<ResourceAmounts>,
}

/// An amount of memory and CPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceAmounts {
    /// Memory, e.g. `300M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemorySize>,
    /// CPUs, e.g. `0.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
}

/// When the swarm restarts a task whose container exited.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestartPolicy {
    /// `any` (default), `on-failure` or `none`.
    #[serde(default)]
    pub condition: RestartCondition,
    /// Wait between restarts (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// Give up after this many restarts within `window` (default: never give up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u64>,
    /// The window over which `maxAttempts` is counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}

/// Restart condition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    #[default]
    Any,
    OnFailure,
    None,
}

/// Rolling update (or rollback) settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateConfig {
    /// Tasks changed at once (default 1; 0 means all at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u64>,
    /// Wait between batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// `stop-first` (default) or `start-first` (the new task runs before the old one stops:
    /// no gap, but both hold memory for a moment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<UpdateOrder>,
    /// On a failed task: `pause` (default), `continue`, or `rollback` (updateConfig only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_action: Option<FailureAction>,
    /// How long a new task is watched for failure after it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Duration>,
    /// Fraction of tasks (0 to 1) that may fail before the failure action runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failure_ratio: Option<f64>,
}

/// Order of stop and start during a rolling change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    StopFirst,
    StartFirst,
}

/// What a rollout does when a task fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    Pause,
    Continue,
    Rollback,
}

/// Container health check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Healthcheck {
    /// The check: `["CMD", "prog", "arg"...]` runs a program, `["CMD-SHELL", "cmd"]` runs a
    /// shell command; `["NONE"]` disables the image's check.
    pub test: Vec<String>,
    /// Time between checks (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Time after which a check counts as failed (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Consecutive failures before the task is unhealthy (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    /// Grace period after start during which failures do not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
}

impl ServiceSpec {
    /// Names of the swarm secrets the service uses, whether listed under `secrets` or
    /// referenced from `env`.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.secrets
            .iter()
            .map(|secret| secret.source.as_str())
            .chain(self.env.iter().filter_map(|var| var.secret_file.as_deref()))
    }
}

/// Name fragments that mark an environment variable as secret.
const SECRET_NAME_WORDS: [&str; 5] = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY"];

/// Whether an environment variable's name says it holds a secret (`DB_PASSWORD`,
/// `API_TOKEN`, `AUTH_KEY`, `APIKEY`). Such values are refused in desired-state and
/// hidden wherever live values are shown.
pub fn looks_secret(name: &str) -> bool {
    name.to_ascii_uppercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| SECRET_NAME_WORDS.iter().any(|secret| word.contains(secret)))
}
