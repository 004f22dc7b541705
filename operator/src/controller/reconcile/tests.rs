//! The executor on a stand-in engine answering recorded lab JSON: which writes a
//! reconcile makes, which events and status it leaves, how it asks to be requeued.

use bollard::models::{ServiceUpdateStatus, ServiceUpdateStatusStateEnum as State};

use super::*;
use crate::controller::fake::{self, FakeEngine, lab_desired, recorded};
use crate::resources::{Kind, Spec};
use crate::source::validate::{ValidateOptions, validate_dir};

/// A context with tests/fixtures/lab-desired in force at revision c0ffee (web's replicas
/// changed when `replicas` is set) and the engine answering `live`; each reconcile
/// observes anew, as after any write.
fn context(live: Live, replicas: Option<u64>) -> Arc<Context<FakeEngine>> {
    let mut desired = lab_desired();
    for resource in &mut desired.resources {
        if let (Spec::Service(spec), Some(replicas)) = (&mut resource.spec, replicas)
            && resource.metadata.name == "web"
        {
            spec.replicas = Some(replicas);
        }
    }
    fake::context(desired, Some("c0ffee"), live, Duration::ZERO)
}

fn web() -> ResourceKey {
    ResourceKey::new(Kind::Service, "web")
}

fn reasons(ctx: &Context<FakeEngine>) -> Vec<(Reason, u64)> {
    let mut events = ctx.shared.events();
    events.reverse();
    events.iter().map(|e| (e.reason, e.count)).collect()
}

#[tokio::test]
async fn in_sync_writes_nothing() {
    let ctx = context(recorded("applied"), None);
    let reconciled = reconcile(&ctx, &web()).await;
    assert_eq!(reconciled, done(ReconcileResult::synced, None));
    assert_eq!(ctx.engine.writes(), Vec::<String>::new());
    assert_eq!(reasons(&ctx), []);
    let status = ctx.shared.status(&web()).unwrap();
    assert_eq!(
        (status.sync, status.health),
        (Sync::Synced, Health::Healthy)
    );
}

#[tokio::test]
async fn drift_is_corrected_with_exactly_one_write() {
    let ctx = context(recorded("drifted"), None);
    let reconciled = reconcile(&ctx, &web()).await;
    assert_eq!(
        reconciled,
        done(ReconcileResult::applied, Some(AFTER_APPLY_REQUEUE))
    );
    assert_eq!(ctx.engine.writes(), ["Service/web Update"]);
    assert_eq!(
        reasons(&ctx),
        [(Reason::DriftDetected, 1), (Reason::DriftCorrected, 1)]
    );
    let status = ctx.shared.status(&web()).unwrap();
    assert_eq!(
        (status.sync, status.health),
        (Sync::Synced, Health::Progressing)
    );
    assert_eq!(status.last_applied_revision.as_deref(), Some("c0ffee"));
    assert_eq!(
        ctx.shared.memory(&web()).written_hash,
        Some(status.desired_hash)
    );
}

#[tokio::test]
async fn a_rolled_back_spec_is_reported_once_and_not_written_again() {
    // shoal writes replicas 4; swarm rolls it back to the recorded spec.
    let ctx = context(recorded("applied"), Some(4));
    reconcile(&ctx, &web()).await;
    assert_eq!(ctx.engine.writes(), ["Service/web Update"]);
    let mut live = recorded("applied");
    let service = live
        .services
        .iter_mut()
        .find(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) == Some("web"))
        .unwrap();
    service.update_status = Some(ServiceUpdateStatus {
        state: Some(State::ROLLBACK_COMPLETED),
        message: Some("rollback completed".into()),
        ..Default::default()
    });
    *ctx.engine.live.lock().unwrap() = Some(live);

    for _ in 0..3 {
        let reconciled = reconcile(&ctx, &web()).await;
        assert_eq!(reconciled, done(ReconcileResult::rolled_back, None));
    }
    assert_eq!(ctx.engine.writes(), ["Service/web Update"]);
    assert_eq!(
        reasons(&ctx),
        [(Reason::Applied, 1), (Reason::ApplyFailed, 1)]
    );
    let status = ctx.shared.status(&web()).unwrap();
    assert_eq!(
        (status.sync, status.health),
        (Sync::OutOfSync, Health::Degraded)
    );
    assert_eq!(status.conditions[0].reason, ConditionReason::RolloutFailed);
}

#[tokio::test]
async fn a_rejected_spec_is_not_written_again_until_desired_state_changes() {
    let ctx = context(recorded("drifted"), None);
    *ctx.engine.write_error.lock().unwrap() = Some((
        400,
        "invalid mount config: bind source path does not exist".into(),
    ));
    let reconciled = reconcile(&ctx, &web()).await;
    assert_eq!(
        reconciled,
        Reconciled {
            outcome: Outcome::Terminal,
            result: ReconcileResult::error
        }
    );
    let answer = "Update Service/web failed: updating web: Docker responded with status code \
                  400: invalid mount config: bind source path does not exist";
    let failed = Condition::not_synced(ConditionReason::ApplyFailed, answer);
    assert_eq!(
        ctx.shared.status(&web()).unwrap().conditions,
        std::slice::from_ref(&failed)
    );

    // Resyncs and engine events reconcile it again: nothing is written, nothing said.
    for _ in 0..3 {
        let reconciled = reconcile(&ctx, &web()).await;
        assert_eq!(reconciled, done(ReconcileResult::rejected, None));
    }
    assert_eq!(ctx.engine.writes(), ["Service/web Update"]);
    assert_eq!(
        reasons(&ctx),
        [(Reason::DriftDetected, 1), (Reason::ApplyFailed, 1)]
    );
    let status = ctx.shared.status(&web()).unwrap();
    assert_eq!(
        (status.sync, status.conditions),
        (Sync::OutOfSync, vec![failed])
    );

    // A new desired-state, even one that leaves web as it was, tries it once more: what
    // was in the way (another resource's port, say) may be gone.
    let same = Snapshot {
        desired: ctx.shared.snapshot().unwrap().desired.clone(),
        revision: Some("c0ffee2".into()),
    };
    ctx.shared.set_snapshot(same);
    *ctx.engine.write_error.lock().unwrap() = None;
    let reconciled = reconcile(&ctx, &web()).await;
    assert_eq!(reconciled.result, ReconcileResult::applied);
    assert_eq!(
        ctx.engine.writes(),
        ["Service/web Update", "Service/web Update"]
    );
    assert_eq!(ctx.shared.memory(&web()).rejected, None);
}

#[tokio::test]
async fn a_leftover_gone_by_other_means_loses_its_status() {
    // worker is no longer desired, its prune refused: it keeps a status meanwhile.
    let ctx = context(recorded("applied"), None);
    let mut desired = ctx.shared.snapshot().unwrap().desired.clone();
    desired.resources.retain(|r| r.kind() != Kind::Service);
    ctx.shared.set_snapshot(Snapshot {
        desired,
        revision: None,
    });
    let worker = ResourceKey::new(Kind::Service, "worker");
    reconcile(&ctx, &worker).await;
    assert_eq!(ctx.shared.status(&worker).unwrap().sync, Sync::OutOfSync);
    // Removed by hand: the next reconcile finds nothing, and forgets it.
    let mut live = recorded("applied");
    live.services
        .retain(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) != Some("worker"));
    *ctx.engine.live.lock().unwrap() = Some(live);
    let reconciled = reconcile(&ctx, &worker).await;
    assert_eq!(reconciled, done(ReconcileResult::synced, None));
    assert_eq!(ctx.shared.status(&worker), None);
    assert_eq!(ctx.engine.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn an_unreachable_engine_is_transient_and_makes_the_instance_unready() {
    let ctx = context(recorded("applied"), None);
    *ctx.engine.live.lock().unwrap() = None;
    let reconciled = reconcile(&ctx, &web()).await;
    assert_eq!(reconciled.outcome, Outcome::Transient);
    assert_eq!(reasons(&ctx), [(Reason::EngineUnreachable, 1)]);
    assert!(ctx.shared.readiness().engine_error.is_some());
    assert_eq!(ctx.engine.writes(), Vec::<String>::new());
}

/// A replica-2 volume that the lab put in split-brain (each brick written while the
/// other was cut off), as recorded in tests/fixtures/gluster/split-brain.
const SPLIT: &str = "apiVersion: shoal/v1alpha1
kind: GlusterVolume
metadata:
  name: sb
spec:
  replica: 2
  force: true
  bricks:
    - {node: node2, path: /data/bricks/sb}
    - {node: node3, path: /data/bricks/sb}
  mountPoint: /mnt/sb
";

#[tokio::test]
async fn split_brain_is_an_event_and_a_degraded_volume_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sb.yaml"), SPLIT).unwrap();
    let validation = validate_dir(dir.path(), &ValidateOptions::default()).unwrap();
    assert_eq!(validation.errors(), 0, "{:?}", validation.problems);
    let mut live = recorded("applied");
    live.gluster = Some(Ok(crate::observe::gluster::recorded_pool("split-brain")));
    let ctx = context(live, None);
    ctx.shared.set_snapshot(Snapshot {
        desired: validation.desired,
        revision: None,
    });
    let key = ResourceKey::new(Kind::GlusterVolume, "sb");
    let reconciled = reconcile(&ctx, &key).await;
    assert_eq!(reconciled.result, ReconcileResult::synced);
    assert_eq!(ctx.engine.writes(), Vec::<String>::new());
    let events = ctx.shared.events();
    assert_eq!(
        (events[0].reason, events[0].message.as_str()),
        (Reason::SplitBrain, "2 entries in split-brain")
    );
    let status = ctx.shared.status(&key).unwrap();
    assert_eq!(
        (status.sync, status.health),
        (Sync::Synced, Health::Degraded)
    );
    assert_eq!(
        status.conditions,
        [Condition::unhealthy(
            ConditionReason::StorageDegraded,
            "2/2 bricks online, 1 file in split-brain (/x): shoal never picks a copy; \
             resolve each with `gluster volume heal sb split-brain latest-mtime FILE` (or \
             `bigger-file FILE`, or `source-brick HOST:BRICK FILE`), or set \
             cluster.favorite-child-policy"
        )]
    );
}

#[test]
fn failures_are_classified_for_the_queue() {
    let engine = |status_code: u16, message: &str| EngineError::Call {
        what: "updating service web".into(),
        source: bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: message.into(),
        },
    };
    assert_eq!(
        error_policy(&engine(500, "rpc error: update out of sequence")),
        Outcome::Conflict
    );
    // A name taken meanwhile is no version race: backed off like any failure.
    assert_eq!(
        error_policy(&engine(409, "service web already exists")),
        Outcome::Transient
    );
    assert_eq!(
        error_policy(&engine(
            400,
            "invalid mount config: bind source path does not exist"
        )),
        Outcome::Terminal
    );
    assert_eq!(
        error_policy(&engine(503, "node is not part of a swarm")),
        Outcome::Transient
    );
    assert_eq!(
        error_policy(&EngineError::Refused(
            "network appnet does not exist".into()
        )),
        Outcome::Transient
    );
}
