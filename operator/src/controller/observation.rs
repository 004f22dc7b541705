//! One observation shared by the reconciles of a burst. Every reconcile needs the whole
//! live state (the plan of one resource depends on others: networks, volumes, mounts),
//! and a new revision or a resync triggers every key at once: without sharing, N
//! resources cost N full observations (five list calls, the gluster CLI, every agent).
//!
//! An observation is reused while younger than half the debounce (at most 250 ms): a
//! reconcile runs at least one debounce after the trigger that caused it, so a reused
//! observation was taken after the change it is about. Any write by shoal drops it. Only
//! one observation is in flight at a time; the reconciles that arrive meanwhile wait for
//! it and share it.
//!
//! The plan made from an observation is shared the same way: every reconcile decides
//! from the plan of all resources (its own change may depend on others'), and planning
//! 1,000 services once per reconcile made a pass cost O(n²).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Mutex;

use super::engine::Engine;
use super::shared::{Shared, Snapshot};
use crate::observe::ObserveError;
use crate::observe::live::Live;
use crate::plan::{self, Plan};

/// One observation of the live state, for the desired-state it was taken for, and the
/// plan between the two (made on first use: the node and volume watch needs none).
pub struct Observed {
    pub snapshot: Arc<Snapshot>,
    pub live: Live,
    /// When the observation was taken (the dashboard tells its age).
    pub at: SystemTime,
    plan: OnceLock<Plan>,
}

impl Observed {
    pub fn new(snapshot: Arc<Snapshot>, live: Live) -> Observed {
        Observed {
            snapshot,
            live,
            at: SystemTime::now(),
            plan: OnceLock::new(),
        }
    }

    /// Everything desired-state asks of the live state, planned once.
    pub fn plan(&self) -> &Plan {
        self.plan
            .get_or_init(|| plan::plan(&self.snapshot.desired, &self.live))
    }
}

struct Taken {
    /// When the observation started: the conservative age.
    started: Instant,
    observed: Arc<Observed>,
}

pub struct SharedObservation {
    max_age: Duration,
    latest: Mutex<Option<Taken>>,
    /// Counts each observation made (`shoal_observations_total`) and keeps the newest
    /// for `/api/v1/nodes`, `/volumes` and `/plan`.
    shared: Arc<Shared>,
}

impl SharedObservation {
    pub fn new(debounce: Duration, shared: Arc<Shared>) -> SharedObservation {
        SharedObservation {
            max_age: (debounce / 2).min(Duration::from_millis(250)),
            latest: Mutex::new(None),
            shared,
        }
    }

    /// The live state for `snapshot`: the latest observation if fresh, a new one if not.
    /// Its plan comes with it: made once for all who share it.
    pub async fn get<E: Engine>(
        &self,
        engine: &E,
        snapshot: &Arc<Snapshot>,
        agent_port: Option<u16>,
    ) -> Result<Arc<Observed>, ObserveError> {
        let mut latest = self.latest.lock().await;
        // The desired-state it was made for counts: what is observed depends on it.
        if let Some(taken) = latest.as_ref()
            && taken.started.elapsed() < self.max_age
            && Arc::ptr_eq(&taken.observed.snapshot, snapshot)
        {
            return Ok(taken.observed.clone());
        }
        let started = Instant::now();
        self.shared.metrics.observations.inc();
        let live = engine.observe(&snapshot.desired, agent_port).await?;
        let observed = Arc::new(Observed::new(snapshot.clone(), live));
        self.shared.set_observed(observed.clone());
        *latest = Some(Taken {
            started,
            observed: observed.clone(),
        });
        Ok(observed)
    }

    /// After a write: the next reconcile observes anew.
    pub async fn invalidate(&self) {
        *self.latest.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::controller::fake::FakeEngine;
    use crate::observe::recorded::CURRENT;
    use crate::resources::Desired;

    fn snapshot() -> Arc<Snapshot> {
        Arc::new(Snapshot {
            desired: Desired::default(),
            revision: None,
        })
    }

    #[tokio::test]
    async fn a_burst_shares_one_observation_and_its_plan_until_a_write_or_a_new_revision() {
        let engine = FakeEngine::with(crate::observe::recorded::live(CURRENT, "applied"));
        let shared = Arc::new(Shared::new("test".into(), 8));
        // Reused for 250 ms at most: far longer than this test's calls take.
        let observation = SharedObservation::new(Duration::from_secs(10), shared.clone());
        let first = snapshot();
        let (a, b) = tokio::join!(
            observation.get(&engine, &first, None),
            observation.get(&engine, &first, None)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(engine.observations.load(Ordering::Relaxed), 1);
        // One plan for all who share the observation.
        assert!(std::ptr::eq(a.plan(), b.plan()));

        observation.invalidate().await;
        observation.get(&engine, &first, None).await.unwrap();
        assert_eq!(engine.observations.load(Ordering::Relaxed), 2);

        let newest = observation.get(&engine, &snapshot(), None).await.unwrap();
        assert_eq!(engine.observations.load(Ordering::Relaxed), 3);
        assert_eq!(shared.metrics.observations.get(), 3);
        // The newest is what the dashboard's API serves.
        let served = shared.observed().expect("published");
        assert!(Arc::ptr_eq(&served, &newest));
    }
}
