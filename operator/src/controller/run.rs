//! The loop of `shoal run`: triggers in (desired-state changes, engine events, the
//! resync timer, the lease), reconciles out, through the work queue. Only the lease
//! holder reconciles. On SIGTERM or SIGINT it takes no new work, lets the reconciles in
//! flight finish, gives the lease up and returns.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::panic::AssertUnwindSafe;

use bollard::Docker;
use futures_util::FutureExt;
use tokio::sync::mpsc::{self, UnboundedSender};

use super::Trigger;
use super::events::{Event, Reason};
use super::lease::{Lease, LeaseState};
use super::queue::WorkQueue;
use super::reconcile::{self, Context, Reconciled};
use super::shared::{Shared, Snapshot};
use super::status::ResourceKey;
use crate::resources::Kind;
use crate::source::git::GitSource;
use crate::source::validate::{ValidateOptions, validate_dir};
use crate::source::watch::DirWatch;
use crate::swarm::labels;

/// Where desired-state comes from.
#[derive(Clone, Debug)]
pub enum SourceOptions {
    /// A directory, watched (polled every `poll` when set).
    Dir {
        dir: PathBuf,
        poll: Option<Duration>,
    },
    /// A git repository, fetched every `interval`.
    Git { git: GitSource, interval: Duration },
}

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub source: SourceOptions,
    pub validate: ValidateOptions,
    pub listen: SocketAddr,
    pub resync: Duration,
    pub debounce: Duration,
    pub concurrency: usize,
    pub agent_port: Option<u16>,
    pub allow_mass_prune: bool,
    pub lease_name: String,
    pub lease_ttl: Duration,
    pub identity: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error(transparent)]
    Engine(#[from] crate::swarm::engine::EngineError),
    #[error("cannot watch {0}: {1}")]
    Watch(PathBuf, notify::Error),
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(options: RunOptions) -> Result<(), RunError> {
    let shared = Arc::new(Shared::new(options.identity.clone(), 512));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| RunError::Listen(options.listen, e))?;
    tracing::info!(listen = %options.listen, identity = %options.identity, "shoal run");
    let app = crate::server::router(shared.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let docker = crate::swarm::engine::connect().await?;

    let (triggers, mut triggered) = mpsc::unbounded_channel::<Trigger>();
    spawn_source(&options, shared.clone(), triggers.clone())?;
    tokio::spawn(super::engine_events::follow(
        docker.clone(),
        shared.clone(),
        triggers.clone(),
    ));
    tokio::spawn(resync(options.resync, triggers.clone()));
    let lease = Arc::new(Lease {
        name: options.lease_name.clone(),
        identity: options.identity.clone(),
        ttl: options.lease_ttl,
    });
    let lease_holder = tokio::spawn(hold_lease(
        lease.clone(),
        docker.clone(),
        shared.clone(),
        triggers.clone(),
    ));

    let context = Arc::new(Context {
        docker: docker.clone(),
        shared: shared.clone(),
        agent_port: options.agent_port,
        allow_mass_prune: options.allow_mass_prune,
        observation: super::observation::SharedObservation::new(
            options.debounce,
            shared.metrics.observations.clone(),
        ),
    });
    let (finished, mut done) = mpsc::unbounded_channel::<(ResourceKey, Reconciled, Duration)>();
    let mut queue: WorkQueue<ResourceKey> = WorkQueue::new(options.debounce, options.concurrency);
    let mut stopping = false;
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let now = Instant::now();
        let leader = shared.readiness().leader;
        if !stopping && leader {
            for key in queue.pop_ready(now) {
                let context = context.clone();
                let finished = finished.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    // A panicking reconcile must still finish its key, or the key is
                    // never reconciled again and shutdown waits for it forever.
                    let reconciled = AssertUnwindSafe(reconcile::reconcile(&context, &key))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| {
                            tracing::error!(%key, "reconcile panicked; retried with backoff");
                            Reconciled {
                                outcome: super::queue::Outcome::Transient,
                                result: "error",
                            }
                        });
                    let _ = finished.send((key, reconciled, started.elapsed()));
                });
            }
        }
        shared.metrics.queue_depth.set(queue.depth() as i64);
        if stopping && queue.is_idle() {
            break;
        }
        // Sleep until a key falls due only when it could then start: a standby, a full
        // queue or a stopping loop would otherwise go round without pause. A standby
        // looks at the lease every second.
        let can_start = !stopping && leader && queue.has_capacity();
        let next = match queue.next_due() {
            Some(due) if can_start => due.min(now + Duration::from_secs(5)),
            _ if !stopping && !leader => now + Duration::from_secs(1),
            _ => now + Duration::from_secs(5),
        };
        tokio::select! {
            _ = &mut shutdown, if !stopping => {
                tracing::info!("stopping: no new work; waiting for the reconciles in flight");
                stopping = true;
            }
            Some(trigger) = triggered.recv() => match trigger {
                Trigger::Key(key) => queue.trigger(key, Instant::now()),
                Trigger::All => {
                    if let Some(snapshot) = shared.snapshot() {
                        for resource in &snapshot.desired.resources {
                            queue.trigger(ResourceKey::new(resource.kind(), resource.name()), Instant::now());
                        }
                        tokio::spawn(managed_leftovers(docker.clone(), snapshot, triggers.clone()));
                    }
                }
            },
            Some((key, reconciled, elapsed)) = done.recv() => {
                let kind = key.kind.to_string();
                shared.metrics.reconciles.get_or_create(&super::metrics::KindResult {
                    kind: kind.clone(),
                    result: reconciled.result.to_string(),
                }).inc();
                shared.metrics.reconcile_duration
                    .get_or_create(&super::metrics::KindLabel { kind })
                    .observe(elapsed.as_secs_f64());
                if let Some(delay) = queue.finish(&key, reconciled.outcome, Instant::now()) {
                    tracing::info!(%key, retry_in = ?delay, "reconcile failed; backing off");
                }
                shared.count_resources();
            }
            _ = tokio::time::sleep_until(next.into()) => {}
        }
        shared.heartbeat();
    }
    // Renewing after the release would take the lease back for another ttl.
    lease_holder.abort();
    lease.release(&docker).await;
    server.abort();
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Managed objects that desired-state no longer has: their keys, so they are pruned.
async fn managed_leftovers(
    docker: Docker,
    snapshot: Arc<Snapshot>,
    triggers: UnboundedSender<Trigger>,
) {
    let Ok(live) = crate::swarm::engine::observe(&docker).await else {
        return;
    };
    let services = live
        .services
        .iter()
        .filter_map(|s| s.spec.as_ref())
        .filter(|s| labels::is_managed(s.labels.as_ref()))
        .filter_map(|s| s.name.clone())
        .map(|name| (Kind::Service, name));
    let networks = live
        .networks
        .iter()
        .filter(|n| labels::is_managed(n.labels.as_ref()))
        .filter_map(|n| n.name.clone())
        .map(|name| (Kind::Network, name));
    for (kind, name) in services.chain(networks) {
        if snapshot.desired.find(kind, &name).is_none() {
            let _ = triggers.send(Trigger::Key(ResourceKey::new(kind, name)));
        }
    }
}

/// Every `period` (give or take a tenth), look at everything: swarm sends no event when
/// it reschedules tasks, and events can be missed.
async fn resync(period: Duration, triggers: UnboundedSender<Trigger>) {
    loop {
        let jitter = period.mul_f64(fastrand::f64() * 0.2 + 0.9);
        tokio::time::sleep(jitter).await;
        if triggers.send(Trigger::All).is_err() {
            return;
        }
    }
}

/// Takes and renews the lease every third of its ttl.
async fn hold_lease(
    lease: Arc<Lease>,
    docker: Docker,
    shared: Arc<Shared>,
    triggers: UnboundedSender<Trigger>,
) {
    let mut held = false;
    let mut renewed = Instant::now();
    // Others take a lease over once it is a ttl old: step down well before that when
    // renewals fail (a partitioned manager must stop acting on its own).
    let step_down_after = lease.ttl * 2 / 3;
    loop {
        let attempt = tokio::time::timeout(lease.ttl / 3, lease.try_acquire(&docker)).await;
        match attempt {
            Ok(Ok(LeaseState::Held)) => {
                renewed = Instant::now();
                shared.update_readiness(|r| {
                    r.lease_error = None;
                    r.leader = true;
                    r.lease_holder = Some(lease.identity.clone());
                });
                if !held {
                    held = true;
                    shared.record(Event::new(
                        Reason::LeaseAcquired,
                        None,
                        format!("{} holds lease {} and acts", lease.identity, lease.name),
                    ));
                    let _ = triggers.send(Trigger::All);
                }
            }
            Ok(Ok(LeaseState::HeldBy(holder))) => {
                if held || shared.readiness().lease_holder.as_deref() != Some(&holder) {
                    shared.record(Event::new(
                        Reason::LeaseWaiting,
                        None,
                        format!("waiting: lease {} is held by {holder}", lease.name),
                    ));
                }
                held = false;
                shared.update_readiness(|r| {
                    r.lease_error = None;
                    r.leader = false;
                    r.lease_holder = Some(holder);
                });
            }
            Ok(Err(error)) => lease_failed(&shared, error.to_string()),
            Err(_) => lease_failed(&shared, "the engine did not answer in time".to_string()),
        }
        if held && renewed.elapsed() >= step_down_after {
            held = false;
            shared.update_readiness(|r| r.leader = false);
            shared.record(Event::new(
                Reason::LeaseWaiting,
                None,
                format!(
                    "stepped down: lease {} not renewed for {}s",
                    lease.name,
                    renewed.elapsed().as_secs()
                ),
            ));
        }
        tokio::time::sleep(lease.ttl / 3).await;
    }
}

fn lease_failed(shared: &Shared, error: String) {
    shared.update_readiness(|r| r.lease_error = Some(format!("cannot renew the lease: {error}")));
}

/// What loading a revision came to.
#[derive(Clone, Debug, PartialEq)]
enum Loaded {
    /// Valid, and in force now.
    InForce,
    /// Invalid: not applied, with why (final for this revision).
    Invalid(String),
    /// Could not be read: worth another try.
    Unreadable,
}

/// Loads and validates `dir`; a valid one becomes the desired-state in force.
fn load(
    shared: &Shared,
    dir: &std::path::Path,
    options: &ValidateOptions,
    revision: Option<String>,
) -> Loaded {
    let label = revision.as_deref().map(short).unwrap_or("directory");
    match validate_dir(dir, options) {
        Ok(validation) if validation.errors() == 0 => {
            let count = validation.desired.resources.len();
            let changed = shared.set_snapshot(Snapshot {
                desired: validation.desired,
                revision: revision.clone(),
            });
            shared.update_readiness(|r| r.source_error = None);
            if !changed {
                return Loaded::InForce;
            }
            shared.record(
                Event::new(
                    Reason::RevisionLoaded,
                    None,
                    format!("desired-state {label} loaded: {count} resources"),
                )
                .with_revision(revision),
            );
            Loaded::InForce
        }
        Ok(validation) => {
            let problems: Vec<String> = validation
                .problems
                .iter()
                .filter(|p| p.is_error())
                .map(|p| p.to_string())
                .collect();
            let message = format!(
                "desired-state {label} is invalid, not applied ({} error(s)); the last good one stays: {}",
                problems.len(),
                problems.join("; ")
            );
            shared.update_readiness(|r| r.source_error = Some(message.clone()));
            shared.record(
                Event::new(Reason::InvalidRevision, None, message.clone()).with_revision(revision),
            );
            Loaded::Invalid(message)
        }
        Err(error) => {
            let message = format!("desired-state {label} cannot be read: {error}");
            shared.update_readiness(|r| r.source_error = Some(message.clone()));
            shared.record(Event::new(Reason::SourceFailed, None, message).with_revision(revision));
            Loaded::Unreadable
        }
    }
}

fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Starts following the source: loads it, then again on every change.
fn spawn_source(
    options: &RunOptions,
    shared: Arc<Shared>,
    triggers: UnboundedSender<Trigger>,
) -> Result<(), RunError> {
    let validate = options.validate.clone();
    match &options.source {
        SourceOptions::Dir { dir, poll } => {
            let (changed, mut changes) = mpsc::unbounded_channel();
            let mut watch = DirWatch::start(dir, options.debounce, *poll, changed)
                .map_err(|e| RunError::Watch(dir.clone(), e))?;
            if load(&shared, dir, &validate, None) == Loaded::InForce {
                let _ = triggers.send(Trigger::All);
            }
            let (watched, dir) = (dir.clone(), dir.clone());
            let (rewatch, mut rewatches) = mpsc::unbounded_channel::<()>();
            // Read again on every change, and at each resync period anyway: inotify can
            // drop events (a full queue), and a lost change must not stay lost.
            let resync = options.resync;
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        change = changes.recv() => {
                            if change.is_none() {
                                return;
                            }
                            let _ = rewatch.send(());
                        }
                        _ = tokio::time::sleep(resync) => {}
                    }
                    if load(&shared, &dir, &validate, None) == Loaded::InForce
                        && triggers.send(Trigger::All).is_err()
                    {
                        return;
                    }
                }
            });
            // The watch lives in this task, which follows a swapped symlink after each burst.
            tokio::spawn(async move {
                while rewatches.recv().await.is_some() {
                    if let Err(error) = watch.rewatch(&watched) {
                        tracing::warn!(%error, dir = %watched.display(), "cannot watch again");
                    }
                }
            });
            Ok(())
        }
        SourceOptions::Git { git, interval } => {
            let git = git.clone();
            let interval = *interval;
            // A fetch that hangs must not stop syncing for good.
            let timeout = (interval * 4).max(Duration::from_secs(120));
            tokio::spawn(async move {
                // The newest revision and what loading it came to.
                let mut loaded: Option<(String, Loaded)> = None;
                loop {
                    let synced = tokio::time::timeout(timeout, git.sync()).await;
                    match synced {
                        Ok(Ok(revision)) => {
                            shared.metrics.git_last_sync.set(unix_seconds());
                            match &loaded {
                                Some((sha, outcome))
                                    if *sha == revision.sha && *outcome != Loaded::Unreadable =>
                                {
                                    // Fetching works again: the error is this revision's own,
                                    // or none.
                                    let error = match outcome {
                                        Loaded::Invalid(message) => Some(message.clone()),
                                        _ => None,
                                    };
                                    shared.update_readiness(|r| r.source_error = error);
                                }
                                _ => {
                                    let outcome = load(
                                        &shared,
                                        &revision.dir,
                                        &validate,
                                        Some(revision.sha.clone()),
                                    );
                                    let in_force = outcome == Loaded::InForce;
                                    loaded = Some((revision.sha, outcome));
                                    if in_force && triggers.send(Trigger::All).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        failed => {
                            let error = match failed {
                                Ok(Err(error)) => error.to_string(),
                                _ => format!("no answer within {}s", timeout.as_secs()),
                            };
                            let message =
                                format!("git sync failed, the last good revision stays: {error}");
                            shared.update_readiness(|r| r.source_error = Some(message.clone()));
                            shared.record(Event::new(Reason::SourceFailed, None, message));
                        }
                    }
                    tokio::time::sleep(interval).await;
                }
            });
            Ok(())
        }
    }
}
