//! `dependsOn` on the swarm recorded after `shoal apply` of tests/fixtures/lab-desired
//! (web replicated, worker global), worker depending on web.

use bollard::models::{ServiceUpdateStatus, ServiceUpdateStatusStateEnum};

use crate::observe::live::Live;
use crate::observe::recorded::{self, CURRENT};
use crate::plan::{Action, Blocked, plan};
use crate::resources::{Desired, Kind, Spec};
use crate::source::validate::{ValidateOptions, validate_dir};

/// lab-desired with worker depending on `depends_on`, and web's replicas set.
fn desired(depends_on: &[&str], web_replicas: u64) -> Desired {
    let mut desired = validate_dir(
        &recorded::fixtures().join("lab-desired"),
        &ValidateOptions::default(),
    )
    .unwrap()
    .desired;
    for resource in &mut desired.resources {
        if let Spec::Service(spec) = &mut resource.spec {
            match resource.metadata.name.as_str() {
                "worker" => spec.depends_on = depends_on.iter().map(|d| d.to_string()).collect(),
                _ => spec.replicas = Some(web_replicas),
            }
        }
    }
    desired
}

fn rolling_out(mut live: Live, service: &str) -> Live {
    let found = live
        .services
        .iter_mut()
        .find(|s| s.spec.as_ref().unwrap().name.as_deref() == Some(service))
        .unwrap();
    found.update_status = Some(ServiceUpdateStatus {
        state: Some(ServiceUpdateStatusStateEnum::UPDATING),
        ..Default::default()
    });
    live
}

fn services(plan: &crate::plan::Plan) -> Vec<(&str, Action, Option<String>)> {
    plan.changes
        .iter()
        .filter(|c| c.kind == Kind::Service)
        .map(|c| {
            (
                c.name.as_str(),
                c.action,
                c.blocked.as_ref().map(|b| b.to_string()),
            )
        })
        .collect()
}

/// worker created anew (removed from the recording), web as recorded or changed.
fn without_worker(live: Live) -> Live {
    let mut live = live;
    live.services
        .retain(|s| s.spec.as_ref().unwrap().name.as_deref() != Some("worker"));
    live
}

#[test]
fn a_service_waits_for_a_dependency_to_be_changed_and_healthy_first() {
    let live = without_worker(recorded::live(CURRENT, "applied"));
    // web as recorded, 2 of 2 running: worker may be created.
    let ready = plan(&desired(&["Service/web", "Network/backnet"], 2), &live);
    assert_eq!(services(&ready), [("worker", Action::Create, None)]);

    // web has a change to make: worker waits for it.
    let pending = plan(&desired(&["Service/web"], 3), &live);
    assert_eq!(
        services(&pending),
        [
            ("web", Action::Update, None),
            (
                "worker",
                Action::Create,
                Some("waiting for Service/web (dependsOn): it has a change to make first".into())
            )
        ]
    );

    // web rolling out: worker waits too.
    let rolling = plan(&desired(&["Service/web"], 2), &rolling_out(live, "web"));
    assert_eq!(
        services(&rolling),
        [(
            "worker",
            Action::Create,
            Some("waiting for Service/web (dependsOn): it is rolling out".into())
        )]
    );
    assert!(
        rolling.changes[0]
            .blocked
            .as_ref()
            .is_some_and(Blocked::clears_by_itself)
    );
}

#[test]
fn a_dependency_waits_for_its_dependents_rollout() {
    let live = rolling_out(recorded::live(CURRENT, "applied"), "worker");
    let plan = plan(&desired(&["Service/web"], 3), &live);
    assert_eq!(
        services(&plan),
        [(
            "web",
            Action::Update,
            Some("waiting for worker (which depend on it) to finish rolling out".into())
        )]
    );
}
