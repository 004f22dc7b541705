//! The loop and the lease holder on a stand-in engine: triggers lead to exactly the
//! writes the decisions call for, shutdown releases the lease, a standby writes nothing,
//! a holder that cannot renew steps down.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use prometheus_client::metrics::counter::Counter;

use super::*;
use crate::controller::events::Reason;
use crate::controller::fake::FakeEngine;
use crate::controller::lease::LeaseState;
use crate::controller::shared::Snapshot;
use crate::observe::live::Live;
use crate::source::validate::validate_dir;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn context(live: &str) -> Arc<Context<FakeEngine>> {
    let desired = validate_dir(&fixtures().join("lab-desired"), &ValidateOptions::default())
        .unwrap()
        .desired;
    let shared = Arc::new(Shared::new("test".into(), 64));
    shared.set_snapshot(Snapshot {
        desired,
        revision: None,
    });
    let live = Live::from_recorded(&fixtures().join("engine").join(live)).unwrap();
    Arc::new(Context {
        engine: FakeEngine::with(live),
        shared,
        agent_port: None,
        allow_mass_prune: false,
        observation: SharedObservation::new(Duration::from_millis(20), Counter::default()),
    })
}

fn lease(ttl: Duration) -> Lease {
    Lease {
        name: "shoal-lease".into(),
        identity: "test".into(),
        ttl,
    }
}

/// Polls `done` every 10 ms for at most 5 s.
async fn eventually(done: impl Fn() -> bool) -> bool {
    for _ in 0..500 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_leader_corrects_drift_once_and_releases_the_lease_on_shutdown() {
    let context = context("drifted");
    let (triggers, triggered) = mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let queue = WorkQueue::new(Duration::from_millis(20), 4);
    let driving = tokio::spawn(drive(
        context.clone(),
        lease(Duration::from_secs(15)),
        queue,
        (triggers.clone(), triggered),
        async move {
            let _ = stopped.await;
        },
    ));
    // Taking the lease triggers every resource: nodes, networks, web and worker.
    let statuses = || context.shared.statuses().len();
    assert!(eventually(|| statuses() == 6).await, "{}", statuses());
    // A burst of engine events about web within the debounce: one more reconcile.
    for _ in 0..5 {
        triggers
            .send(Trigger::Key(
                ResourceKey::new(crate::resources::Kind::Service, "web"),
                Why::EngineEvent,
            ))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), driving)
        .await
        .unwrap()
        .unwrap();
    // The stand-in never converges, so the second reconcile writes web again: once per
    // reconcile, never per event of the burst.
    assert_eq!(
        context.engine.writes(),
        ["Service/web Update", "Service/web Update"]
    );
    assert_eq!(context.engine.releases.load(Ordering::Relaxed), 1);
    let reasons: Vec<Reason> = context.shared.events().iter().map(|e| e.reason).collect();
    assert!(reasons.contains(&Reason::LeaseAcquired), "{reasons:?}");
}

#[tokio::test]
async fn a_standby_writes_nothing() {
    let context = context("drifted");
    *context.engine.lease.lock().unwrap() = Some(LeaseState::HeldBy("other".into()));
    let (triggers, triggered) = mpsc::unbounded_channel();
    triggers.send(Trigger::All(Why::Revision)).unwrap();
    let queue = WorkQueue::new(Duration::from_millis(20), 4);
    drive(
        context.clone(),
        lease(Duration::from_secs(15)),
        queue,
        (triggers, triggered),
        tokio::time::sleep(Duration::from_millis(300)),
    )
    .await;
    assert_eq!(context.engine.writes(), Vec::<String>::new());
    assert_eq!(context.engine.observations.load(Ordering::Relaxed), 0);
    let readiness = context.shared.readiness();
    assert!(!readiness.leader);
    assert_eq!(readiness.lease_holder.as_deref(), Some("other"));
}

#[tokio::test]
async fn a_holder_that_cannot_renew_steps_down_after_two_thirds_of_the_ttl() {
    let context = context("applied");
    let (triggers, _triggered) = mpsc::unbounded_channel();
    let holder = tokio::spawn(lease::hold(
        Arc::new(lease(Duration::from_millis(600))),
        context.clone(),
        triggers,
    ));
    assert!(eventually(|| context.shared.readiness().leader).await);
    // The engine stops answering (a partition): renewals fail.
    *context.engine.lease.lock().unwrap() = None;
    let started = Instant::now();
    assert!(eventually(|| !context.shared.readiness().leader).await);
    holder.abort();
    // Not before two thirds of the ttl (400 ms) without a renewal.
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    let readiness = context.shared.readiness();
    assert!(
        readiness
            .lease_error
            .as_deref()
            .is_some_and(|e| e.starts_with("cannot renew the lease")),
        "{readiness:?}"
    );
    let events = context.shared.events();
    assert_eq!(events[0].reason, Reason::LeaseWaiting);
    assert!(
        events[0]
            .message
            .starts_with("stepped down: lease shoal-lease not renewed for"),
        "{}",
        events[0].message
    );
}
