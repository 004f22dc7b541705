//! The loop of `shoal run`: triggers in (desired-state changes, engine events, the
//! resync timer, the lease), reconciles out, through the work queue. Only the lease
//! holder reconciles. On SIGTERM or SIGINT it takes no new work, lets the reconciles in
//! flight finish, gives the lease up and returns.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tracing::Instrument;

use super::engine::Engine;
use super::lease::{self, Lease};
use super::metrics::{KindLabel, KindResult, ReconcileResult};
use super::observation::SharedObservation;
use super::queue::{Outcome, WorkQueue};
use super::reconcile::{self, Context, Reconciled};
use super::shared::Shared;
use super::status::ResourceKey;
use super::{Trigger, Why};
use crate::source::git::GitSource;
use crate::source::validate::ValidateOptions;

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
    /// How long a returned node stays ready before tasks are moved back onto it.
    pub rebalance_settle: Duration,
    /// The secret push webhooks are signed with (git sources only).
    pub webhook_secret_file: Option<PathBuf>,
    /// Where and which events are notified.
    pub notify: super::notify::NotifyOptions,
    /// How often the doctor examines the network, and how (none: never).
    pub doctor: Option<(Duration, crate::doctor::DoctorOptions)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error(transparent)]
    Engine(#[from] crate::swarm::engine::EngineError),
    #[error("cannot watch {0}: {1}")]
    Watch(PathBuf, notify::Error),
    #[error(
        "--lease-ttl {} is too short: at least 6s (the lease's timestamps are whole seconds, \
         and a holder steps down a third of the ttl before anyone may take over)",
        humantime::format_duration(*.0)
    )]
    LeaseTtl(Duration),
    #[error("{0}")]
    Webhook(String),
    #[error(transparent)]
    Notify(#[from] super::notify::NotifyError),
}

/// Below this, a holder's step-down (at two thirds of the ttl) may come after another
/// instance may take over (a second early, timestamps being whole seconds).
const MIN_LEASE_TTL: Duration = Duration::from_secs(6);

/// Runs until SIGTERM or SIGINT.
pub async fn run(options: RunOptions) -> Result<(), RunError> {
    if options.lease_ttl < MIN_LEASE_TTL {
        return Err(RunError::LeaseTtl(options.lease_ttl));
    }
    let notify = super::notify::Config::read(&options.notify)?;
    let shared = Arc::new(Shared::new(options.identity.clone(), 512));
    if let Some(file) = &options.webhook_secret_file {
        let SourceOptions::Git { git, .. } = &options.source else {
            return Err(RunError::Webhook(
                "--webhook-secret-file needs --git-url: a watched directory gets no pushes".into(),
            ));
        };
        let listener = super::webhook::Listener::from_file(file, git.reference.clone())
            .map_err(RunError::Webhook)?;
        let _ = shared.webhook.set(listener);
    }
    if let Some(notify) = notify {
        shared.set_notifier(super::notify::start(
            notify,
            options.identity.clone(),
            shared.metrics.notifications.clone(),
            super::notify::Policy::default(),
        )?);
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| RunError::Listen(options.listen, e))?;
    tracing::info!(listen = %options.listen, identity = %options.identity, "shoal run");
    let app = crate::controller::server::router(shared.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let docker = crate::swarm::engine::connect().await?;

    let (triggers, triggered) = mpsc::unbounded_channel::<Trigger>();
    super::source::spawn(&options, shared.clone(), triggers.clone())?;
    tokio::spawn(super::engine_events::follow(
        docker.clone(),
        shared.clone(),
        triggers.clone(),
    ));
    tokio::spawn(resync(options.resync, triggers.clone()));
    if let Some((interval, doctor)) = options.doctor.clone() {
        tokio::spawn(super::doctor::watch(
            docker.clone(),
            shared.clone(),
            interval,
            doctor,
        ));
    }
    let context = Arc::new(Context {
        engine: docker,
        shared: shared.clone(),
        agent_port: options.agent_port,
        allow_mass_prune: options.allow_mass_prune,
        observation: SharedObservation::new(options.debounce, shared.clone()),
    });
    let lease = Lease {
        name: options.lease_name.clone(),
        identity: options.identity.clone(),
        ttl: options.lease_ttl,
    };
    tokio::spawn(super::heal::watch(
        context.clone(),
        triggers.clone(),
        super::heal::Timing {
            settle: options.rebalance_settle,
            ..super::heal::Timing::default()
        },
    ));
    let queue = WorkQueue::new(options.debounce, options.concurrency);
    drive(
        context,
        lease,
        queue,
        (triggers, triggered),
        shutdown_signal(),
    )
    .await;
    server.abort();
    tracing::info!("stopped");
    Ok(())
}

/// The loop's state between two turns.
struct Loop<E> {
    context: Arc<Context<E>>,
    queue: WorkQueue<ResourceKey>,
    triggers: UnboundedSender<Trigger>,
    /// What last triggered each key waiting in the queue (for its reconcile's span).
    why: HashMap<ResourceKey, Why>,
    finished: UnboundedSender<(ResourceKey, Reconciled, Duration)>,
    stopping: bool,
}

/// Holds the lease and reconciles what the triggers name until `shutdown` completes;
/// then lets the reconciles in flight finish and gives the lease up.
pub async fn drive<E: Engine>(
    context: Arc<Context<E>>,
    lease: Lease,
    queue: WorkQueue<ResourceKey>,
    (triggers, mut triggered): (UnboundedSender<Trigger>, UnboundedReceiver<Trigger>),
    shutdown: impl Future<Output = ()>,
) {
    let lease = Arc::new(lease);
    let lease_holder = tokio::spawn(lease::hold(
        lease.clone(),
        context.clone(),
        triggers.clone(),
    ));
    let (finished, mut done) = mpsc::unbounded_channel();
    let mut state = Loop {
        context: context.clone(),
        queue,
        triggers,
        why: HashMap::new(),
        finished,
        stopping: false,
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let now = Instant::now();
        let leader = context.shared.readiness().leader;
        if !state.stopping && leader {
            state.start_due(now);
        }
        context
            .shared
            .metrics
            .queue_depth
            .set(state.queue.depth() as i64);
        if state.stopping && state.queue.is_idle() {
            break;
        }
        let next = state.next_wake(now, leader);
        tokio::select! {
            _ = &mut shutdown, if !state.stopping => {
                tracing::info!("stopping: no new work; waiting for the reconciles in flight");
                state.stopping = true;
            }
            Some(trigger) = triggered.recv() => state.on_trigger(trigger),
            Some((key, reconciled, elapsed)) = done.recv() => state.on_finished(key, reconciled, elapsed),
            _ = tokio::time::sleep_until(next.into()) => {}
        }
        context.shared.heartbeat();
    }
    // Renewing after the release would take the lease back for another ttl.
    lease_holder.abort();
    let _ = lease_holder.await;
    context.engine.release(&lease).await;
}

impl<E: Engine> Loop<E> {
    /// Starts a reconcile of every key that is due, as far as concurrency allows.
    fn start_due(&mut self, now: Instant) {
        for key in self.queue.pop_ready(now) {
            let why = self.why.remove(&key).unwrap_or(Why::Requeue);
            let context = self.context.clone();
            let finished = self.finished.clone();
            let span = tracing::info_span!("reconcile", key = %key, reason = ?why);
            tokio::spawn(
                async move {
                    let started = Instant::now();
                    // A panicking reconcile must still finish its key, or the key is
                    // never reconciled again and shutdown waits for it forever.
                    let reconciled = AssertUnwindSafe(reconcile::reconcile(&context, &key))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| {
                            tracing::error!("reconcile panicked; retried with backoff");
                            Reconciled {
                                outcome: Outcome::Transient,
                                result: ReconcileResult::error,
                            }
                        });
                    let _ = finished.send((key, reconciled, started.elapsed()));
                }
                .instrument(span),
            );
        }
    }

    /// When to go round again: when a key falls due, but only if it could then start
    /// (a standby, a full queue or a stopping loop would otherwise spin). A standby looks
    /// at the lease every second.
    fn next_wake(&self, now: Instant, leader: bool) -> Instant {
        let can_start = !self.stopping && leader && self.queue.has_capacity();
        match self.queue.next_due() {
            Some(due) if can_start => due.min(now + Duration::from_secs(5)),
            _ if !self.stopping && !leader => now + Duration::from_secs(1),
            _ => now + Duration::from_secs(5),
        }
    }

    fn on_trigger(&mut self, trigger: Trigger) {
        let now = Instant::now();
        match trigger {
            Trigger::Key(key, why) => {
                self.why.insert(key.clone(), why);
                self.queue.trigger(key, now);
            }
            Trigger::All(why) => {
                let Some(snapshot) = self.context.shared.snapshot() else {
                    return;
                };
                for resource in &snapshot.desired.resources {
                    let key = ResourceKey::new(resource.kind(), resource.name());
                    self.why.insert(key.clone(), why);
                    self.queue.trigger(key, now);
                }
                tokio::spawn(managed_leftovers(
                    self.context.clone(),
                    snapshot,
                    self.triggers.clone(),
                ));
            }
        }
    }

    fn on_finished(&mut self, key: ResourceKey, reconciled: Reconciled, elapsed: Duration) {
        let shared = &self.context.shared;
        shared
            .metrics
            .reconciles
            .get_or_create(&KindResult {
                kind: key.kind,
                result: reconciled.result,
            })
            .inc();
        shared
            .metrics
            .reconcile_duration
            .get_or_create(&KindLabel { kind: key.kind })
            .observe(elapsed.as_secs_f64());
        if let Some(delay) = self.queue.finish(&key, reconciled.outcome, Instant::now()) {
            tracing::info!(%key, retry_in = ?delay, "reconcile failed; backing off");
        }
        shared.count_resources();
    }
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
async fn managed_leftovers<E: Engine>(
    context: Arc<Context<E>>,
    snapshot: Arc<super::shared::Snapshot>,
    triggers: UnboundedSender<Trigger>,
) {
    let Ok(managed) = context.engine.managed().await else {
        return;
    };
    for (kind, name) in managed {
        if snapshot.desired.find(kind, &name).is_none() {
            let _ = triggers.send(Trigger::Key(ResourceKey::new(kind, name), Why::Leftover));
        }
    }
}

/// Every `period` (give or take a tenth), look at everything: swarm sends no event when
/// it reschedules tasks, and events can be missed.
async fn resync(period: Duration, triggers: UnboundedSender<Trigger>) {
    loop {
        let jitter = period.mul_f64(fastrand::f64() * 0.2 + 0.9);
        tokio::time::sleep(jitter).await;
        if triggers.send(Trigger::All(Why::Resync)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
