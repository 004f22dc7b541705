//! What the controller's tasks share: the desired-state in force, every resource's
//! status, the event log, the metrics, and what readiness depends on. Each piece sits
//! behind its own short-held lock; no lock is held across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use serde::Serialize;

use super::decide::Memory;
use super::events::{Event, EventLog};
use super::metrics::Metrics;
use super::notify::Notifier;
use super::observation::Observed;
use super::status::{Condition, ConditionReason, ResourceKey, ResourceStatus, Sync};
use crate::diff;
use crate::resources::Desired;

/// How many events the live stream holds for a slow listener.
pub const LIVE_EVENTS_BUFFER: usize = 256;

/// Where desired-state comes from, and how following it goes (the dashboard's header).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceInfo {
    pub kind: SourceKind,
    /// The repository's URL without credentials, or the directory.
    pub location: String,
    /// The branch, tag or commit followed (git), if not the remote's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The subdirectory of the repository (git).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// When the repository was last fetched (git), or the directory last read.
    #[serde(serialize_with = "super::events::rfc3339::optional")]
    pub last_fetch: Option<SystemTime>,
    /// When the desired-state in force was put in force.
    #[serde(serialize_with = "super::events::rfc3339::optional")]
    pub loaded_at: Option<SystemTime>,
    /// The commit in force (git): its time and subject line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<crate::source::git::Commit>,
}

/// What desired-state is read from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    #[default]
    Directory,
    Git,
}

/// One valid desired-state and the revision it came from.
#[derive(Debug)]
pub struct Snapshot {
    pub desired: Desired,
    /// The git commit, when desired-state comes from git.
    pub revision: Option<String>,
}

/// Why the instance is not ready, if it is not.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Readiness {
    /// The engine could not be reached or observed by a reconcile.
    pub engine_error: Option<String>,
    /// The engine's events stream is lost (until it is open again).
    pub events_error: Option<String>,
    /// The newest source revision could not be loaded (the last good one stays).
    pub source_error: Option<String>,
    /// Why the lease could not be read or renewed, if it could not.
    pub lease_error: Option<String>,
    /// This instance holds the lease and acts; otherwise who does.
    pub leader: bool,
    pub lease_holder: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct Remembered {
    synced_hash: Option<String>,
    written_hash: Option<String>,
    rejected: Option<(String, String)>,
}

pub struct Shared {
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    statuses: Mutex<BTreeMap<ResourceKey, ResourceStatus>>,
    events: Mutex<EventLog>,
    /// What each key's reconciles remember (besides its status): the desired hashes it was
    /// last synced at, last written with, and last rejected for.
    memory: Mutex<HashMap<ResourceKey, Remembered>>,
    readiness: Mutex<Readiness>,
    pub metrics: Metrics,
    /// The instance's identity in the lease and in events.
    pub identity: String,
    /// When the loop last went round (Unix seconds): /healthz.
    heartbeat: AtomicU64,
    /// Woken by every node event of the engine: the node watch looks at once.
    pub node_event: tokio::sync::Notify,
    /// Woken by a push webhook: the git loop fetches at once (a permit is kept when it
    /// is fetching already, so pushes meanwhile make one more fetch).
    pub fetch_now: tokio::sync::Notify,
    /// The push webhook's settings, when `shoal run` follows git with a webhook secret.
    pub webhook: std::sync::OnceLock<super::webhook::Listener>,
    /// Conditions the heal watch keeps on resources between reconciles (a service's
    /// tasks killed at their limit or looping), shown with their status.
    watched: Mutex<BTreeMap<ResourceKey, Vec<Condition>>>,
    /// Where events are also sent, with `--notify`.
    notifier: OnceLock<Notifier>,
    /// Every event as recorded (a repeat with its count), for the live stream
    /// `/api/v1/events/stream`; nobody listening costs nothing.
    live_events: tokio::sync::broadcast::Sender<Event>,
    /// The newest observation of the live state and its plan (`/api/v1/nodes`,
    /// `/volumes`, `/plan`).
    observed: RwLock<Option<Arc<Observed>>>,
    /// Where desired-state comes from and how its following goes.
    source: Mutex<SourceInfo>,
    /// The doctor's last verdict on the network, and the conditions its failures put on
    /// resources.
    network: Mutex<Option<super::doctor::NetworkStatus>>,
    network_conditions: Mutex<BTreeMap<ResourceKey, Vec<Condition>>>,
}

fn unix_now() -> u64 {
    super::unix_now().as_secs()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take status and events down with it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub fn new(identity: String, event_capacity: usize) -> Shared {
        Shared {
            snapshot: RwLock::new(None),
            statuses: Mutex::new(BTreeMap::new()),
            events: Mutex::new(EventLog::new(event_capacity)),
            memory: Mutex::new(HashMap::new()),
            readiness: Mutex::new(Readiness::default()),
            metrics: Metrics::default(),
            identity,
            heartbeat: AtomicU64::new(unix_now()),
            node_event: tokio::sync::Notify::new(),
            fetch_now: tokio::sync::Notify::new(),
            webhook: std::sync::OnceLock::new(),
            watched: Mutex::new(BTreeMap::new()),
            notifier: OnceLock::new(),
            live_events: tokio::sync::broadcast::channel(LIVE_EVENTS_BUFFER).0,
            observed: RwLock::new(None),
            source: Mutex::new(SourceInfo::default()),
            network: Mutex::new(None),
            network_conditions: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn heartbeat(&self) {
        self.heartbeat.store(unix_now(), Ordering::Relaxed);
    }

    /// Seconds since the loop last went round.
    pub fn since_heartbeat(&self) -> u64 {
        unix_now().saturating_sub(self.heartbeat.load(Ordering::Relaxed))
    }

    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Puts `snapshot` in force if it differs from the one before (revision, or any
    /// resource's spec or metadata); whether it did.
    pub fn set_snapshot(&self, snapshot: Snapshot) -> bool {
        if let Some(revision) = &snapshot.revision {
            self.metrics.set_revision(revision);
        }
        // Statuses (and drift memory) of resources no longer desired go with them; a
        // changed spec is Unknown until its reconcile.
        let hashes: HashMap<ResourceKey, String> = snapshot
            .desired
            .resources
            .iter()
            .map(|r| {
                (
                    ResourceKey::new(r.kind(), r.name()),
                    diff::desired_hash(&r.spec),
                )
            })
            .collect();
        // Annotations count too: the drift policy is one.
        let changed = self.snapshot().is_none_or(|previous| {
            previous.revision != snapshot.revision
                || previous.desired.resources.len() != hashes.len()
                || previous.desired.resources.iter().any(|r| {
                    let key = ResourceKey::new(r.kind(), r.name());
                    hashes.get(&key) != Some(&diff::desired_hash(&r.spec))
                        || snapshot
                            .desired
                            .find(r.kind(), r.name())
                            .map(|n| &n.metadata)
                            != Some(&r.metadata)
                })
        });
        if !changed {
            // The same desired-state stays the same Arc: reconciles in flight and the
            // shared observation go on with it.
            return false;
        }
        lock(&self.statuses).retain(|key, status| {
            let Some(hash) = hashes.get(key) else {
                return false;
            };
            if *hash != status.desired_hash {
                status.sync = Sync::Unknown;
                status.conditions = vec![Condition::not_synced(
                    ConditionReason::NewRevision,
                    "not reconciled against the new desired-state yet",
                )];
            }
            true
        });
        let mut memory = lock(&self.memory);
        memory.retain(|key, _| hashes.contains_key(key));
        // What the engine rejected may fit now: another resource may have given up the
        // port or name it wanted. A new desired-state tries every rejected spec once more.
        for remembered in memory.values_mut() {
            remembered.rejected = None;
        }
        drop(memory);
        lock(&self.source).loaded_at = Some(SystemTime::now());
        *self
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::new(snapshot));
        true
    }

    /// Whether `snapshot` is still the desired-state in force: what a reconcile of an
    /// older one found is not published (its key may be gone; the new one is reconciled).
    pub fn in_force(&self, snapshot: &Snapshot) -> bool {
        self.snapshot()
            .is_some_and(|current| std::ptr::eq(Arc::as_ptr(&current), snapshot))
    }

    pub fn revision(&self) -> Option<String> {
        self.snapshot().and_then(|s| s.revision.clone())
    }

    pub fn record(&self, event: Event) {
        // The notifier counts repeats itself: it gets this occurrence (count 1), with the
        // id the API shows.
        let mut occurrence = event.clone();
        let mut log = lock(&self.events);
        let kept = log.record(event).clone();
        // Sent under the log's lock, so the stream's order is the log's.
        let _ = self.live_events.send(kept.clone());
        drop(log);
        occurrence.id = kept.id;
        if let Some(notifier) = self.notifier.get() {
            // Never waits.
            notifier.notify(&occurrence);
        }
    }

    /// Every event recorded from now on, as recorded; a listener that falls more than
    /// [`LIVE_EVENTS_BUFFER`] behind is told it lagged.
    pub fn subscribe_events(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.live_events.subscribe()
    }

    pub fn set_observed(&self, observed: Arc<Observed>) {
        *self
            .observed
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(observed);
    }

    /// Forgets the newest observation: an instance that stops acting observes no more,
    /// and must not serve what it saw as current.
    pub fn clear_observed(&self) {
        *self
            .observed
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    /// The newest observation, if one was made (only the acting instance observes).
    pub fn observed(&self) -> Option<Arc<Observed>> {
        self.observed
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn source(&self) -> SourceInfo {
        lock(&self.source).clone()
    }

    pub fn update_source(&self, change: impl FnOnce(&mut SourceInfo)) {
        change(&mut lock(&self.source));
    }

    /// Sends every event recorded from now on to `notifier` too (set once).
    pub fn set_notifier(&self, notifier: Notifier) {
        let _ = self.notifier.set(notifier);
    }

    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).newest_first()
    }

    pub fn set_status(&self, key: &ResourceKey, status: ResourceStatus) {
        lock(&self.statuses).insert(key.clone(), status);
    }

    /// The status of `key` as its last reconcile set it.
    pub fn status(&self, key: &ResourceKey) -> Option<ResourceStatus> {
        lock(&self.statuses).get(key).cloned()
    }

    /// Every status, with the conditions the heal watch and the doctor keep (what is
    /// served).
    pub fn statuses(&self) -> Vec<ResourceStatus> {
        let watched = lock(&self.watched);
        let network = lock(&self.network_conditions);
        lock(&self.statuses)
            .iter()
            .map(|(key, status)| {
                let mut status = status.clone();
                status
                    .conditions
                    .extend(watched.get(key).into_iter().flatten().cloned());
                status
                    .conditions
                    .extend(network.get(key).into_iter().flatten().cloned());
                status
            })
            .collect()
    }

    /// The doctor's verdict and the conditions of its failures (none on a standby).
    pub fn set_network(
        &self,
        network: Option<super::doctor::NetworkStatus>,
        conditions: BTreeMap<ResourceKey, Vec<Condition>>,
    ) {
        *lock(&self.network) = network;
        *lock(&self.network_conditions) = conditions;
    }

    pub fn network(&self) -> Option<super::doctor::NetworkStatus> {
        lock(&self.network).clone()
    }

    /// Replaces the conditions the heal watch keeps.
    pub fn set_watched_conditions(&self, conditions: BTreeMap<ResourceKey, Vec<Condition>>) {
        *lock(&self.watched) = conditions;
    }

    /// Forgets a resource that is gone (pruned).
    pub fn forget(&self, key: &ResourceKey) {
        lock(&self.statuses).remove(key);
        lock(&self.memory).remove(key);
    }

    /// What the decision of `key`'s next reconcile needs to remember.
    pub fn memory(&self, key: &ResourceKey) -> Memory {
        let remembered = lock(&self.memory).get(key).cloned().unwrap_or_default();
        Memory {
            synced_hash: remembered.synced_hash,
            written_hash: remembered.written_hash,
            rejected: remembered.rejected,
            previous: self.status(key),
        }
    }

    /// `key` was seen in sync with the desired spec of hash `hash`.
    pub fn remember_synced(&self, key: &ResourceKey, hash: String) {
        let mut memory = lock(&self.memory);
        let remembered = memory.entry(key.clone()).or_default();
        remembered.synced_hash = Some(hash);
        // In sync now, by whatever means: a later difference is drift, not that rejection.
        remembered.rejected = None;
    }

    /// shoal wrote the desired spec of hash `hash` to `key`'s object.
    pub fn remember_written(&self, key: &ResourceKey, hash: String) {
        let mut memory = lock(&self.memory);
        let remembered = memory.entry(key.clone()).or_default();
        remembered.synced_hash = Some(hash.clone());
        remembered.written_hash = Some(hash);
        remembered.rejected = None;
    }

    /// The engine rejected the desired spec of hash `hash` (`why`): not written again
    /// until desired-state changes (any resource of it).
    pub fn remember_rejected(&self, key: &ResourceKey, hash: String, why: String) {
        lock(&self.memory).entry(key.clone()).or_default().rejected = Some((hash, why));
    }

    pub fn readiness(&self) -> Readiness {
        lock(&self.readiness).clone()
    }

    pub fn update_readiness(&self, change: impl FnOnce(&mut Readiness)) {
        change(&mut lock(&self.readiness));
    }

    /// Refreshes the resources gauge from the statuses.
    pub fn count_resources(&self) {
        let statuses = lock(&self.statuses);
        self.metrics.resources.clear();
        for status in statuses.values() {
            self.metrics
                .resources
                .get_or_create(&super::metrics::ResourceState {
                    kind: status.kind,
                    sync: status.sync,
                    health: status.health,
                })
                .inc();
        }
    }
}

/// The whole of `/api/v1/status`.
#[derive(Serialize)]
pub struct InstanceStatus {
    pub identity: String,
    pub revision: Option<String>,
    pub source: SourceInfo,
    pub readiness: Readiness,
    /// How many resources desired-state has; `resources` lists those reconciled so far.
    pub desired: usize,
    pub resources: Vec<ResourceStatus>,
    /// The doctor's last verdict (`--doctor-interval`); none before its first
    /// examination, on a standby, or when it is off.
    pub network: Option<super::doctor::NetworkStatus>,
}

impl Shared {
    pub fn instance_status(&self) -> InstanceStatus {
        InstanceStatus {
            identity: self.identity.clone(),
            revision: self.revision(),
            source: self.source(),
            readiness: self.readiness(),
            desired: self.snapshot().map_or(0, |s| s.desired.resources.len()),
            resources: self.statuses(),
            network: self.network(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fake::lab_desired;

    fn desired() -> Desired {
        lab_desired()
    }

    fn snapshot(desired: Desired) -> Snapshot {
        crate::controller::fake::snapshot(desired, None)
    }

    #[test]
    fn only_a_different_desired_state_replaces_the_one_in_force() {
        let shared = Shared::new("test".into(), 8);
        assert!(shared.set_snapshot(snapshot(desired())));
        let first = shared.snapshot().unwrap();
        assert!(shared.in_force(&first));

        // Read again, the same: the snapshot in force stays (reconciles in flight publish).
        assert!(!shared.set_snapshot(snapshot(desired())));
        assert!(Arc::ptr_eq(&first, &shared.snapshot().unwrap()));

        // An annotation alone (the drift policy) is a change.
        let mut annotated = desired();
        annotated.resources[0]
            .metadata
            .annotations
            .insert("shoal.io/drift".into(), "report".into());
        assert!(shared.set_snapshot(snapshot(annotated)));
        assert!(!shared.in_force(&first));
    }
}
