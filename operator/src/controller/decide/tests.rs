//! `decide` on engine answers recorded from the lab (tests/fixtures/record): `applied` is
//! the swarm right after `shoal apply` of tests/fixtures/lab-desired, `drifted` the same
//! after `docker service update --env-add EXTRA=1 --replicas 3 web` by hand.

use bollard::models::{ServiceUpdateStatus, ServiceUpdateStatusStateEnum as State};

use super::*;
use crate::controller::fake::{self, lab_desired, recorded};
use crate::diff;
use crate::resources::{Desired, Spec};

fn desired() -> Desired {
    lab_desired()
}

fn snapshot(desired: Desired) -> Snapshot {
    fake::snapshot(desired, None)
}

fn web() -> ResourceKey {
    ResourceKey::new(Kind::Service, "web")
}

fn hash_of(desired: &Desired, key: &ResourceKey) -> String {
    diff::desired_hash(&desired.find(key.kind, &key.name).unwrap().spec)
}

/// desired-state with web's replicas set to `replicas`.
fn with_web_replicas(replicas: u64) -> Desired {
    let mut desired = desired();
    for resource in &mut desired.resources {
        if let Spec::Service(spec) = &mut resource.spec
            && resource.metadata.name == "web"
        {
            spec.replicas = Some(replicas);
        }
    }
    desired
}

/// `live` after swarm rolled back an update of web (the old spec runs again).
fn rolled_back_web(live: Live) -> Live {
    with_web_rollout(live, State::ROLLBACK_COMPLETED, "rollback completed")
}

/// `live` with web's rollout in `state`, the engine saying `message`.
fn with_web_rollout(mut live: Live, state: State, message: &str) -> Live {
    let service = live
        .services
        .iter_mut()
        .find(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) == Some("web"))
        .unwrap();
    service.update_status = Some(ServiceUpdateStatus {
        state: Some(state),
        message: Some(message.into()),
        ..Default::default()
    });
    live
}

/// An observation of `live` taken for `snapshot`.
fn observed(snapshot: Snapshot, live: &Live) -> Observed {
    Observed::new(std::sync::Arc::new(snapshot), live.clone())
}

fn decision(decided: &Decided) -> &Decision {
    &decided.decision
}

#[test]
fn in_sync_is_synced_and_healthy() {
    let desired = desired();
    let memory = Memory::default();
    let decided = decide(
        &web(),
        &observed(snapshot(desired.clone()), &recorded("applied")),
        &memory,
        false,
    );
    assert_eq!(decision(&decided), &Decision::Synced);
    let status = decided.status.unwrap();
    assert_eq!(
        (status.sync, status.health, status.drift, status.conditions),
        (Sync::Synced, Health::Healthy, DriftPolicy::Enforce, vec![])
    );
    assert_eq!(status.desired_hash, hash_of(&desired, &web()));
}

#[test]
fn a_hand_made_change_is_drift_corrected_or_reported_by_policy() {
    let desired = desired();
    let synced = Memory {
        synced_hash: Some(hash_of(&desired, &web())),
        ..Memory::default()
    };
    let decided = decide(
        &web(),
        &observed(snapshot(desired.clone()), &recorded("drifted")),
        &synced,
        false,
    );
    let Decision::Apply { change, drift } = decision(&decided) else {
        panic!("{decided:?}");
    };
    assert!(drift);
    assert_eq!(
        change
            .fields
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        ["env.EXTRA", "replicas"]
    );
    assert_eq!(decided.status.unwrap().sync, Sync::OutOfSync);

    // After a restart nothing is remembered: the object's spec-hash label tells.
    let decided = decide(
        &web(),
        &observed(snapshot(desired.clone()), &recorded("drifted")),
        &Memory::default(),
        false,
    );
    assert!(matches!(
        decision(&decided),
        Decision::Apply { drift: true, .. }
    ));

    let mut report = desired.clone();
    report
        .resources
        .iter_mut()
        .find(|r| r.metadata.name == "web")
        .unwrap()
        .metadata
        .annotations
        .insert(status::DRIFT_ANNOTATION.into(), "report".into());
    let decided = decide(
        &web(),
        &observed(snapshot(report), &recorded("drifted")),
        &synced,
        false,
    );
    assert!(matches!(decision(&decided), Decision::ReportDrift(c) if c.fields.len() == 2));
    let status = decided.status.unwrap();
    assert_eq!(status.drift, DriftPolicy::Report);
    assert_eq!(
        status.conditions,
        [Condition::not_synced(
            ConditionReason::DriftReported,
            "2 field(s) differ; drift policy is report: not corrected"
        )]
    );
}

#[test]
fn a_change_of_desired_state_is_not_drift() {
    let before = desired();
    let memory = Memory {
        synced_hash: Some(hash_of(&before, &web())),
        ..Memory::default()
    };
    let decided = decide(
        &web(),
        &observed(snapshot(with_web_replicas(4)), &recorded("applied")),
        &memory,
        false,
    );
    let Decision::Apply { change, drift } = decision(&decided) else {
        panic!("{decided:?}");
    };
    assert!(!drift);
    assert_eq!(change.fields.len(), 1);
    assert_eq!(change.fields[0].to.as_deref(), Some("4"));
}

#[test]
fn a_spec_swarm_rolled_back_is_reported_once_and_never_written_again() {
    let desired = with_web_replicas(4);
    let written = Memory {
        written_hash: Some(hash_of(&desired, &web())),
        synced_hash: Some(hash_of(&desired, &web())),
        ..Memory::default()
    };
    let live = rolled_back_web(recorded("applied"));
    let decided = decide(
        &web(),
        &observed(snapshot(desired.clone()), &live),
        &written,
        false,
    );
    let message = "swarm rolled the update back (rollback completed): fix desired-state; shoal \
                   will not write this spec again";
    assert_eq!(
        decision(&decided),
        &Decision::RolledBack {
            message: message.into(),
            first: true
        }
    );
    let status = decided.status.unwrap();
    assert_eq!(
        (status.sync, status.health),
        (Sync::OutOfSync, Health::Degraded)
    );
    assert_eq!(
        status.conditions,
        [Condition::not_synced(
            ConditionReason::RolloutFailed,
            message
        )]
    );

    // The next reconcile (a resync, an engine event) knows it said so already.
    let again = Memory {
        previous: Some(status),
        ..written.clone()
    };
    let decided = decide(
        &web(),
        &observed(snapshot(desired.clone()), &live),
        &again,
        false,
    );
    assert!(matches!(
        decision(&decided),
        Decision::RolledBack { first: false, .. }
    ));

    // A new desired spec is tried.
    let decided = decide(
        &web(),
        &observed(snapshot(with_web_replicas(5)), &live),
        &again,
        false,
    );
    assert!(matches!(
        decision(&decided),
        Decision::Apply { drift: false, .. }
    ));

    // Not written by this instance (a restart): written once more.
    let decided = decide(
        &web(),
        &observed(snapshot(desired), &live),
        &Memory::default(),
        false,
    );
    assert!(matches!(decision(&decided), Decision::Apply { .. }));
}

#[test]
fn a_hand_made_change_during_no_rollback_is_drift_not_a_rollback() {
    let desired = desired();
    let written = Memory {
        written_hash: Some(hash_of(&desired, &web())),
        synced_hash: Some(hash_of(&desired, &web())),
        ..Memory::default()
    };
    // drifted: web is "updating" (the hand-made change), not rolled back.
    let decided = decide(
        &web(),
        &observed(snapshot(desired), &recorded("drifted")),
        &written,
        false,
    );
    assert!(matches!(
        decision(&decided),
        Decision::Apply { drift: true, .. }
    ));
}

#[test]
fn a_missing_secret_blocks_and_needs_someone() {
    let mut live = recorded("applied");
    live.secrets.clear();
    live.services
        .retain(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) != Some("web"));
    let decided = decide(
        &web(),
        &observed(snapshot(desired()), &live),
        &Memory::default(),
        false,
    );
    let Decision::Blocked(why) = decision(&decided) else {
        panic!("{decided:?}");
    };
    assert!(!why.clears_by_itself());
    let status = decided.status.unwrap();
    assert_eq!(
        (status.sync, status.health),
        (Sync::OutOfSync, Health::Missing)
    );
    assert_eq!(status.conditions[0].reason, ConditionReason::Blocked);
}

#[test]
fn a_service_waits_for_the_network_the_same_burst_creates() {
    let mut live = recorded("applied");
    live.networks
        .retain(|n| n.name.as_deref() != Some("appnet"));
    live.services
        .retain(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) != Some("web"));
    let desired = desired();
    // apply writes the network first, so its plan holds nothing back...
    let plan = plan::plan(&desired, &live);
    let web_change = plan.changes.iter().find(|c| c.name == "web").unwrap();
    assert_eq!(
        (web_change.action, &web_change.blocked),
        (Action::Create, &None)
    );
    // ...but a reconcile of web alone waits for appnet's, which triggers it.
    let decided = decide(
        &web(),
        &observed(snapshot(desired), &live),
        &Memory::default(),
        false,
    );
    assert_eq!(
        decision(&decided),
        &Decision::Blocked(Blocked::Render(RenderError::MissingNetwork(
            "appnet".into()
        )))
    );
    let status = decided.status.unwrap();
    assert_eq!(status.conditions[0].reason, ConditionReason::Waiting);
    assert_eq!(
        status.conditions[0].message,
        "network \"appnet\" does not exist yet"
    );
}

#[test]
fn a_resource_removed_from_desired_state_is_pruned_unless_most_would_go() {
    // worker is gone from desired-state: one of two services is not a mass prune.
    let mut desired = desired();
    desired.resources.retain(|r| r.metadata.name != "worker");
    let worker = ResourceKey::new(Kind::Service, "worker");
    let decided = decide(
        &worker,
        &observed(snapshot(desired.clone()), &recorded("applied")),
        &Memory::default(),
        false,
    );
    assert!(matches!(
        decision(&decided),
        Decision::Apply { change, drift: false } if change.action == Action::Delete
    ));
    // A leftover shows until it is gone.
    let status = decided.status.unwrap();
    assert_eq!(
        (status.sync, status.drift),
        (Sync::OutOfSync, DriftPolicy::Enforce)
    );

    // Both gone: refused, unless allowed.
    desired.resources.retain(|r| r.kind() != Kind::Service);
    let decided = decide(
        &worker,
        &observed(snapshot(desired.clone()), &recorded("applied")),
        &Memory::default(),
        false,
    );
    assert!(matches!(decision(&decided), Decision::RefusePrune { .. }));
    assert_eq!(decided.status.unwrap().sync, Sync::OutOfSync);
    let decided = decide(
        &worker,
        &observed(snapshot(desired), &recorded("applied")),
        &Memory::default(),
        true,
    );
    assert!(matches!(decision(&decided), Decision::Apply { .. }));
}

#[test]
fn neither_desired_nor_live_is_gone() {
    let key = ResourceKey::new(Kind::Service, "never-was");
    let decided = decide(
        &key,
        &observed(snapshot(desired()), &recorded("applied")),
        &Memory::default(),
        false,
    );
    assert_eq!(decided.decision, Decision::Gone);
    assert_eq!(decided.status, None);
}

#[test]
fn a_rolled_back_drift_correction_is_caught_and_a_rollback_by_hand_is_drift() {
    // A hand-made change keeps the spec-hash label: shoal set it back, swarm rolled that
    // back to the hand-made spec. The label cannot tell; the difference does.
    let desired = desired();
    let written = Memory {
        written_hash: Some(hash_of(&desired, &web())),
        synced_hash: Some(hash_of(&desired, &web())),
        ..Memory::default()
    };
    let live = rolled_back_web(recorded("drifted"));
    let decided = decide(
        &web(),
        &observed(snapshot(desired.clone()), &live),
        &written,
        false,
    );
    assert!(matches!(
        decision(&decided),
        Decision::RolledBack { first: true, .. }
    ));

    // `docker service rollback` by hand, while it runs: drift, set back.
    let by_hand = with_web_rollout(
        recorded("drifted"),
        State::ROLLBACK_STARTED,
        rollout::MANUAL_ROLLBACK,
    );
    let decided = decide(
        &web(),
        &observed(snapshot(desired), &by_hand),
        &written,
        false,
    );
    assert!(matches!(
        decision(&decided),
        Decision::Apply { drift: true, .. }
    ));
}

#[test]
fn a_settled_rollback_to_what_desired_state_asks_is_healthy() {
    // desired-state was set back to the spec swarm rolled back to: nothing differs.
    let desired = desired();
    let written = Memory {
        written_hash: Some("an older desired spec".into()),
        ..Memory::default()
    };
    let live = rolled_back_web(recorded("applied"));
    let decided = decide(&web(), &observed(snapshot(desired), &live), &written, false);
    assert_eq!(decision(&decided), &Decision::Synced);
    assert_eq!(decided.status.unwrap().health, Health::Healthy);
}

#[test]
fn a_change_waiting_for_storage_waits_and_one_needing_someone_is_blocked() {
    let key = ResourceKey::new(Kind::Service, "web");
    let cases = [
        (
            Blocked::VolumeNotStarted {
                volume: "GlusterVolume/storage".into(),
                source: "/data/storage/www".into(),
            },
            ConditionReason::Waiting,
        ),
        (
            Blocked::NameTaken {
                kind: Kind::Service,
                name: "web".into(),
            },
            ConditionReason::Blocked,
        ),
    ];
    for (why, reason) in cases {
        let decision = Decision::Blocked(why.clone());
        let resource = desired().find(Kind::Service, "web").cloned().unwrap();
        let status = status_of(
            &key,
            Some(&resource),
            Health::Missing,
            &decision,
            &Memory::default(),
        );
        assert_eq!(
            status.conditions,
            [Condition::not_synced(reason, why.to_string())]
        );
        assert_eq!(status.sync, Sync::OutOfSync);
    }
}
