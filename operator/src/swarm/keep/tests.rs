//! Taking over a stack on what `docker stack deploy` really wrote (the engine's answers
//! recorded by tests/fixtures/record-stack from tests/fixtures/compose/adopt): the
//! compose file imported under the stack's name plans only adoptions with no field
//! changed, and the spec shoal then writes keeps every task's spec as it is, so swarm
//! restarts nothing.

use std::collections::HashMap;

use serde_json::Value;

use super::*;
use crate::diff;
use crate::diff::observed;
use crate::import::compose::{ComposeOptions, import};
use crate::import::write;
use crate::observe::live::Live;
use crate::observe::recorded::{CURRENT, engine_dir, fixtures};
use crate::plan::{Action, plan};
use crate::resources::{Desired, Spec};
use crate::source::validate::{ValidateOptions, validate_dir};
use crate::swarm::render;

fn recorded() -> Live {
    Live::from_recorded(&engine_dir(CURRENT).join("stack-deployed")).unwrap()
}

/// tests/fixtures/compose/adopt imported as the stack `adopt` and loaded back as
/// desired-state, as a user would: `shoal import compose --stack adopt`, then validate.
fn imported() -> (tempfile::TempDir, Desired) {
    let imported = import(&ComposeOptions {
        files: vec![fixtures().join("compose/adopt/docker-compose.yml")],
        env_file: None,
        stack: Some("adopt".to_string()),
        rename: false,
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let files = write::render(&imported.resources, "shoal import compose --stack adopt");
    write::write(out.path(), &files).unwrap();
    let options = ValidateOptions {
        strict: false,
        allow_host_paths: vec!["/var/lib/shoal-lab".into()],
        ..ValidateOptions::default()
    };
    let validation = validate_dir(out.path(), &options).unwrap();
    assert_eq!(validation.errors(), 0, "{:?}", validation.problems);
    (out, validation.desired)
}

/// The raw recorded spec of a service: what the engine holds, health check included.
fn raw_spec(name: &str) -> Value {
    let text =
        std::fs::read_to_string(engine_dir(CURRENT).join("stack-deployed/services.json")).unwrap();
    let services: Vec<Value> = serde_json::from_str(&text).unwrap();
    services
        .into_iter()
        .find(|s| s["Spec"]["Name"] == name)
        .map(|s| s["Spec"].clone())
        .unwrap()
}

/// What shoal's update of `name` sends, as the engine would store it (its JSON keys).
fn written(desired: &Desired, live: &Live, name: &str) -> Value {
    let Some(Spec::Service(spec)) = desired
        .find(crate::resources::Kind::Service, name)
        .map(|r| &r.spec)
    else {
        panic!("no service {name}");
    };
    let current = live.service(name).unwrap().spec.clone().unwrap();
    let force = current.task_template.as_ref().and_then(|t| t.force_update);
    let mut engine = render::service(name, spec, HashMap::new(), force, live).unwrap();
    let changes = diff::service(&observed::service(&current, &live.network_names()), spec);
    keep_unchanged(&current, &mut engine, &changed_fields(&changes));
    let mut json = serde_json::to_value(&engine).unwrap();
    // bollard writes the health check as `HealthCheck`; the engine reads it either way
    // and answers `Healthcheck`.
    let container = &mut json["TaskTemplate"]["ContainerSpec"];
    if let Some(check) = container
        .as_object_mut()
        .and_then(|c| c.remove("HealthCheck"))
    {
        container["Healthcheck"] = check;
    }
    json
}

/// The engine reads a null as an absent field, and answers some (`"SELinuxContext":
/// null`) that bollard leaves out.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(fields) => fields
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k, without_nulls(v)))
            .collect(),
        Value::Array(items) => items.into_iter().map(without_nulls).collect(),
        other => other,
    }
}

#[test]
fn an_imported_stack_plans_adoptions_with_no_field_changed() {
    let (_dir, desired) = imported();
    let plan = plan(&desired, &recorded());
    let changes: Vec<_> = plan
        .changes
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.action,
                c.fields.len(),
                c.restarts_tasks,
                c.blocked.is_some(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("adopt_app", Action::Adopt, 0, false, false),
            ("adopt_db", Action::Adopt, 0, false, false),
            ("adopt_lb", Action::Adopt, 0, false, false),
        ]
    );
    assert_eq!(
        plan.summary(),
        "Plan: 0 to create, 0 to update, 0 to delete. 3 to adopt."
    );
}

#[test]
fn taking_a_service_over_writes_its_task_spec_back_unchanged() {
    let (_dir, desired) = imported();
    let live = recorded();
    for name in ["adopt_app", "adopt_db", "adopt_lb"] {
        let before = without_nulls(raw_spec(name));
        let after = without_nulls(written(&desired, &live, name));
        assert_eq!(after["TaskTemplate"], before["TaskTemplate"], "{name}");
        assert_eq!(after["EndpointSpec"], before["EndpointSpec"], "{name}");
        assert_eq!(after["Mode"], before["Mode"], "{name}");
    }
}

#[test]
fn a_change_after_adoption_keeps_what_stack_deploy_set() {
    let (_dir, mut desired) = imported();
    let live = recorded();
    for resource in &mut desired.resources {
        if let Spec::Service(spec) = &mut resource.spec
            && resource.metadata.name == "adopt_app"
        {
            spec.env.retain(|var| var.name != "ROLE");
            spec.replicas = Some(3);
        }
    }
    let before = raw_spec("adopt_app");
    let after = written(&desired, &live, "adopt_app");
    let container = &after["TaskTemplate"]["ContainerSpec"];
    assert_eq!(container["Env"], serde_json::json!(["DB_HOST=db"]));
    assert_eq!(
        container["Labels"],
        before["TaskTemplate"]["ContainerSpec"]["Labels"]
    );
    assert_eq!(
        container["Mounts"],
        before["TaskTemplate"]["ContainerSpec"]["Mounts"]
    );
    assert_eq!(
        after["TaskTemplate"]["Networks"],
        before["TaskTemplate"]["Networks"]
    );
    assert_eq!(after["Mode"]["Replicated"]["Replicas"], 3);
}
