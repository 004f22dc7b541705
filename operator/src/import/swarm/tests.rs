//! `shoal import swarm` on what `docker stack deploy` wrote (recorded by
//! tests/fixtures/record-stack): the stack's services and networks come out, validate,
//! and plan as adoptions that change no field.

use super::*;
use crate::import::write;
use crate::observe::recorded::{CURRENT, engine_dir};
use crate::plan::{Action, plan};
use crate::source::validate::{ValidateOptions, validate_dir};

fn recorded() -> Live {
    Live::from_recorded(&engine_dir(CURRENT).join("stack-deployed")).unwrap()
}

#[test]
fn a_running_stack_imports_as_adoptions_that_change_nothing() {
    let live = recorded();
    let imported = from_live(&live, &Selection::Stack("adopt".to_string()));
    let mut names: Vec<_> = imported.resources.iter().map(|r| r.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "adopt_app",
            "adopt_backend",
            "adopt_db",
            "adopt_frontend",
            "adopt_lb"
        ]
    );
    assert_eq!(imported.notes, []);

    let out = tempfile::tempdir().unwrap();
    let files = write::render(&imported.resources, "shoal import swarm");
    write::write(out.path(), &files).unwrap();
    let options = ValidateOptions {
        strict: false,
        allow_host_paths: vec!["/var/lib/shoal-lab".into()],
        ..ValidateOptions::default()
    };
    let validation = validate_dir(out.path(), &options).unwrap();
    assert_eq!(validation.errors(), 0, "{:?}", validation.problems);
    let plan = plan(&validation.desired, &live);
    let changes: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.name.as_str(), c.action, c.fields.len()))
        .collect();
    assert_eq!(
        changes,
        [
            ("adopt_app", Action::Adopt, 0),
            ("adopt_db", Action::Adopt, 0),
            ("adopt_lb", Action::Adopt, 0),
        ]
    );
}

#[test]
fn a_literal_secret_in_a_running_service_is_left_out_and_not_shown() {
    let mut live = recorded();
    let spec = live.services[0].spec.as_mut().unwrap();
    let container = spec
        .task_template
        .as_mut()
        .unwrap()
        .container_spec
        .as_mut()
        .unwrap();
    container
        .env
        .get_or_insert_default()
        .push("API_TOKEN=s3cr3t-value".to_string());
    let name = spec.name.clone().unwrap();
    let imported = from_live(&live, &Selection::Services(vec![name.clone()]));
    let notes: Vec<String> = imported.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [format!(
            "service {name}: env.API_TOKEN: looks secret and holds a literal value, which shoal \
             keeps out of git: not imported; put it in a swarm secret and point the image at \
             its file"
        )]
    );
    let files = write::render(&imported.resources, "shoal import swarm");
    assert!(files.iter().all(|(_, text)| !text.contains("s3cr3t")));
}

#[test]
fn an_adopted_service_in_the_other_mode_and_a_differing_adopted_network_are_blocked() {
    use crate::plan::Blocked;
    use crate::resources::service::ServiceMode;
    let live = recorded();
    let mut imported = from_live(&live, &Selection::Stack("adopt".to_string()));
    for resource in &mut imported.resources {
        match (&mut resource.spec, resource.name.as_str()) {
            (ImportedSpec::Service(spec), "adopt_lb") => {
                spec.mode = ServiceMode::Global;
                spec.replicas = None;
            }
            (ImportedSpec::Network(spec), "adopt_frontend") => spec.internal = true,
            _ => {}
        }
    }
    let out = tempfile::tempdir().unwrap();
    write::write(out.path(), &write::render(&imported.resources, "test")).unwrap();
    let options = ValidateOptions {
        strict: false,
        allow_host_paths: vec!["/var/lib/shoal-lab".into()],
        ..ValidateOptions::default()
    };
    let desired = validate_dir(out.path(), &options).unwrap().desired;
    let plan = plan(&desired, &live);
    let blocked: Vec<_> = plan
        .changes
        .iter()
        .filter_map(|c| Some((c.name.as_str(), c.action, c.blocked.clone()?)))
        .collect();
    assert_eq!(
        blocked,
        [
            (
                "adopt_frontend",
                Action::Replace,
                Blocked::AdoptedNetworkDiffers {
                    name: "adopt_frontend".to_string()
                }
            ),
            (
                "adopt_lb",
                Action::Adopt,
                Blocked::AdoptModeDiffers {
                    name: "adopt_lb".to_string()
                }
            ),
        ]
    );
    assert_eq!(plan.count(Action::Adopt), 2);
}
