//! A stand-in for the engine, for unit tests of the controller's loop and executor: it
//! answers observations from recorded engine JSON and records every write instead of
//! making it. It proves what the controller decides to call, never that the calls work
//! (the lab tests do that). With it, the recorded answers and desired-state the tests
//! share (tests/fixtures), and a context that puts them together.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::engine::Engine;
use super::lease::{Lease, LeaseState};
use super::observation::SharedObservation;
use super::reconcile::Context;
use super::shared::{Shared, Snapshot};
use crate::observe::ObserveError;
use crate::observe::live::Live;
use crate::plan::Change;
use crate::resources::{Desired, Kind};
use crate::source::validate::{ValidateOptions, validate_dir};
use crate::swarm::apply::ApplyError;
use crate::swarm::engine::EngineError;

#[derive(Default)]
pub struct FakeEngine {
    /// What observations return; `None`: the engine is unreachable.
    pub live: Mutex<Option<Live>>,
    /// `Kind/name action` of every write, in order.
    pub writes: Mutex<Vec<String>>,
    /// The HTTP status and message the next writes fail with, if any.
    pub write_error: Mutex<Option<(u16, String)>>,
    /// What lease attempts find; `None`: the engine answers with an error.
    pub lease: Mutex<Option<LeaseState>>,
    /// Lease attempts never return (a partition that drops packets).
    pub lease_hangs: AtomicBool,
    /// How many of the next lease attempts fail (then they answer as `lease` says).
    pub lease_failures: AtomicUsize,
    /// The services and networks `managed()` lists.
    pub managed: Mutex<Vec<(Kind, String)>>,
    pub observations: AtomicUsize,
    pub releases: AtomicUsize,
}

impl FakeEngine {
    pub fn with(live: Live) -> FakeEngine {
        FakeEngine {
            live: Mutex::new(Some(live)),
            lease: Mutex::new(Some(LeaseState::Held)),
            ..FakeEngine::default()
        }
    }

    pub fn writes(&self) -> Vec<String> {
        self.writes.lock().unwrap().clone()
    }

    fn error(status_code: u16, message: String) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        }
    }
}

impl Engine for FakeEngine {
    async fn observe(&self, _: &Desired, _: Option<u16>) -> Result<Live, ObserveError> {
        self.observations.fetch_add(1, Ordering::Relaxed);
        // As a real observation does, let others run meanwhile.
        tokio::task::yield_now().await;
        let live = self.live.lock().unwrap().clone();
        live.ok_or_else(|| {
            ObserveError::Engine(EngineError::Call {
                what: "listing services".into(),
                source: FakeEngine::error(503, "engine down".into()),
            })
        })
    }

    async fn apply(
        &self,
        _: &Desired,
        change: &Change,
        _: &Live,
        _: Option<&str>,
    ) -> Result<(), ApplyError> {
        self.writes.lock().unwrap().push(format!(
            "{}/{} {:?}",
            change.kind, change.name, change.action
        ));
        match self.write_error.lock().unwrap().clone() {
            None => Ok(()),
            Some((status_code, message)) => Err(ApplyError {
                change: format!("{}/{}", change.kind, change.name),
                action: change.action,
                source: EngineError::Call {
                    what: format!("updating {}", change.name),
                    source: FakeEngine::error(status_code, message),
                },
                engine_writes: 1,
            }),
        }
    }

    async fn heal(&self, volume: &str) -> Result<(), EngineError> {
        self.writes
            .lock()
            .unwrap()
            .push(format!("GlusterVolume/{volume} heal"));
        Ok(())
    }

    /// Recorded; the counter is the number of force updates made so far.
    async fn force_update(&self, service: &str) -> Result<u64, EngineError> {
        let mut writes = self.writes.lock().unwrap();
        writes.push(format!("Service/{service} force-update"));
        Ok(writes
            .iter()
            .filter(|w| w.ends_with("force-update"))
            .count() as u64)
    }

    async fn managed(&self) -> Result<Vec<(Kind, String)>, EngineError> {
        Ok(self.managed.lock().unwrap().clone())
    }

    async fn acquire(&self, _: &Lease) -> Result<LeaseState, bollard::errors::Error> {
        if self.lease_hangs.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
        let failing = self.lease_failures.load(Ordering::Relaxed);
        if failing > 0 {
            self.lease_failures.store(failing - 1, Ordering::Relaxed);
            return Err(FakeEngine::error(500, "a passing failure".into()));
        }
        let state = self.lease.lock().unwrap().clone();
        state.ok_or_else(|| FakeEngine::error(503, "no answer".into()))
    }

    async fn release(&self, _: &Lease) {
        self.releases.fetch_add(1, Ordering::Relaxed);
    }
}

/// tests/fixtures/lab-desired: nodes, networks, web (replicated) and worker (global).
pub fn lab_desired() -> Desired {
    validate_dir(
        &crate::observe::recorded::fixtures().join("lab-desired"),
        &ValidateOptions::default(),
    )
    .unwrap()
    .desired
}

/// The swarm as the lab's default engine answered (tests/fixtures/record): `applied` right
/// after `shoal apply` of lab-desired, `drifted` after `docker service update --env-add
/// EXTRA=1 --replicas 3 web`.
pub fn recorded(name: &str) -> Live {
    crate::observe::recorded::live(crate::observe::recorded::CURRENT, name)
}

pub fn snapshot(desired: Desired, revision: Option<&str>) -> Snapshot {
    Snapshot {
        desired,
        revision: revision.map(str::to_string),
    }
}

/// A controller context with `desired` in force (at `revision`) and the stand-in
/// answering `live`; observations are reused for `reuse` at most.
pub fn context(
    desired: Desired,
    revision: Option<&str>,
    live: Live,
    reuse: Duration,
) -> Arc<Context<FakeEngine>> {
    let shared = Arc::new(Shared::new("test".into(), 64));
    shared.set_snapshot(snapshot(desired, revision));
    Arc::new(Context {
        engine: FakeEngine::with(live),
        shared: shared.clone(),
        agent_port: None,
        allow_mass_prune: false,
        // Half the debounce is what is reused.
        observation: SharedObservation::new(reuse * 2, shared),
    })
}
