//! The loop and the lease holder on a stand-in engine: triggers lead to exactly the
//! writes the decisions call for, shutdown releases the lease, a standby writes nothing,
//! a holder that cannot renew steps down.

use std::sync::atomic::Ordering;

use super::*;
use crate::controller::events::Reason;
use crate::controller::fake::{self, FakeEngine, lab_desired, recorded};
use crate::controller::lease::LeaseState;
use crate::resources::Kind;

fn context(live: &str) -> Arc<Context<FakeEngine>> {
    context_without(live, "")
}

/// The lab fixture in force without the resource named `without`, the engine answering
/// the recording `live`.
fn context_without(live: &str, without: &str) -> Arc<Context<FakeEngine>> {
    let mut desired = lab_desired();
    desired.resources.retain(|r| r.name() != without);
    fake::context(desired, None, recorded(live), Duration::from_millis(10))
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
async fn a_leader_writes_once_per_reconcile_prunes_leftovers_and_releases_the_lease() {
    // worker is no longer desired: the leftover lookup finds it and it is pruned.
    let context = context_without("drifted", "worker");
    *context.engine.managed.lock().unwrap() = vec![
        (Kind::Service, "web".into()),
        (Kind::Service, "worker".into()),
    ];
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
    // Taking the lease triggers every resource (nodes, networks, web) and the leftovers.
    let writes = || context.engine.writes().len();
    assert!(
        eventually(|| writes() == 2).await,
        "{:?}",
        context.engine.writes()
    );
    let mut first = context.engine.writes();
    first.sort();
    assert_eq!(first, ["Service/web Update", "Service/worker Delete"]);
    // A burst of engine events about web within the debounce: one more reconcile.
    for _ in 0..5 {
        let web = ResourceKey::new(Kind::Service, "web");
        triggers.send(Trigger::Key(web, Why::EngineEvent)).unwrap();
    }
    assert!(eventually(|| writes() == 3).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), driving)
        .await
        .unwrap()
        .unwrap();
    // The stand-in never converges, so the second reconcile writes web again: once per
    // reconcile, never per event of the burst.
    assert_eq!(writes(), 3);
    assert_eq!(context.engine.writes()[2], "Service/web Update");
    assert_eq!(context.engine.releases.load(Ordering::Relaxed), 1);
    let count = |reason| {
        context
            .shared
            .events()
            .iter()
            .filter(|e| e.reason == reason)
            .map(|e| e.count)
            .sum::<u64>()
    };
    assert_eq!(count(Reason::LeaseAcquired), 1);
    assert_eq!(count(Reason::DriftDetected), 2);
    assert_eq!(count(Reason::DriftCorrected), 2);
    assert_eq!(count(Reason::Applied), 1);
    assert_eq!(
        context
            .shared
            .status(&ResourceKey::new(Kind::Service, "worker")),
        None
    );
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

/// Takes the lease, then makes renewals fail (`hang`: never return) and waits for the
/// step-down: how long after the last renewal it came, as the event says.
async fn step_down(hang: bool) -> (f64, crate::controller::shared::Readiness) {
    let context = context("applied");
    let (triggers, _triggered) = mpsc::unbounded_channel();
    let ttl = Duration::from_secs(3);
    let holder = tokio::spawn(lease::hold(Arc::new(lease(ttl)), context.clone(), triggers));
    assert!(eventually(|| context.shared.readiness().leader).await);
    // The engine stops answering, or answers errors (a partition).
    if hang {
        context.engine.lease_hangs.store(true, Ordering::Relaxed);
    } else {
        *context.engine.lease.lock().unwrap() = None;
    }
    assert!(eventually(|| !context.shared.readiness().leader).await);
    holder.abort();
    let events = context.shared.events();
    assert_eq!(events[0].reason, Reason::LeaseWaiting);
    let after = events[0]
        .message
        .strip_prefix("stepped down: lease shoal-lease not renewed for ")
        .and_then(|rest| rest.strip_suffix('s'))
        .unwrap_or_else(|| panic!("{}", events[0].message));
    (after.parse().unwrap(), context.shared.readiness())
}

#[tokio::test]
async fn a_holder_whose_renewals_fail_steps_down_before_anyone_may_take_over() {
    let (after, readiness) = step_down(false).await;
    // Two thirds of the 3 s ttl, before the ttl at which another instance may take over.
    assert!((2.0..3.0).contains(&after), "{after}");
    assert!(
        readiness
            .lease_error
            .as_deref()
            .is_some_and(|e| e.starts_with("cannot renew the lease")),
        "{readiness:?}"
    );
}

#[tokio::test]
async fn a_holder_whose_renewals_hang_steps_down_before_anyone_may_take_over() {
    let (after, readiness) = step_down(true).await;
    assert!((2.0..3.0).contains(&after), "{after}");
    assert_eq!(
        readiness.lease_error.as_deref(),
        Some("cannot renew the lease: the engine did not answer in time")
    );
}

#[tokio::test]
async fn one_failed_renewal_does_not_cost_the_lease() {
    let context = context("applied");
    let (triggers, _triggered) = mpsc::unbounded_channel();
    let holder = tokio::spawn(lease::hold(
        Arc::new(lease(Duration::from_secs(3))),
        context.clone(),
        triggers,
    ));
    assert!(eventually(|| context.shared.readiness().leader).await);
    context.engine.lease_failures.store(1, Ordering::Relaxed);
    let failed = || context.shared.readiness().lease_error.is_some();
    assert!(eventually(failed).await);
    // Tried again sooner than a full third of the ttl, well before the step-down.
    assert!(eventually(|| !failed()).await);
    holder.abort();
    assert!(context.shared.readiness().leader);
    let reasons: Vec<Reason> = context.shared.events().iter().map(|e| e.reason).collect();
    assert_eq!(reasons, [Reason::LeaseAcquired]);
}
