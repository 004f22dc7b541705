//! Planning Secrets and Configs on the swarm recorded after `shoal apply` of
//! tests/fixtures/lab-desired, with versions of a Config added in the engine's JSON shape.

use std::path::Path;

use serde_json::json;

use crate::diff::FieldChange;
use crate::observe::live::Live;
use crate::observe::recorded::{self, CURRENT};
use crate::plan::{Action, Blocked, Change, plan};
use crate::resources::{Desired, Kind};
use crate::source::validate::{ValidateOptions, validate_dir};

const CONFIG: &str = "apiVersion: shoal/v1alpha1
kind: Config
metadata:
  name: greeting
spec:
  file: greeting.txt
";

/// lab-desired, its web service mounting Config/greeting of `content`, and `extra`.
fn desired(content: &str, extra: &str) -> Desired {
    desired_with(content, &format!("{CONFIG}{extra}"))
}

/// lab-desired, its web service mounting Config/greeting written as `greeting`.
fn desired_with(content: &str, greeting: &str) -> Desired {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(recorded::fixtures().join("lab-desired")).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if path.ends_with("web.yaml") {
            text = text.replace(
                "  secrets:\n",
                "  configs:\n    - source: greeting\n      target: /etc/greeting\n  secrets:\n",
            );
        }
        std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
    }
    std::fs::write(dir.path().join("greeting.yaml"), greeting).unwrap();
    std::fs::write(dir.path().join("greeting.txt"), content).unwrap();
    let options = ValidateOptions {
        allow_host_paths: vec![Path::new("/tmp").to_path_buf()],
        ..ValidateOptions::default()
    };
    let validation = validate_dir(dir.path(), &options).unwrap();
    assert_eq!(validation.errors(), 0, "{:?}", validation.problems);
    validation.desired
}

/// A config shoal made, as the engine lists it.
fn config(id: &str, name: &str, resource: &str, index: u64) -> bollard::models::Config {
    serde_json::from_value(json!({
        "ID": id,
        "Version": {"Index": index},
        "CreatedAt": "2026-12-04T04:00:00.000000000Z",
        "Spec": {
            "Name": name,
            "Labels": {
                "io.shoal.managed-by": "shoal",
                "io.shoal.resource": resource,
                "io.shoal.spec-hash": &name[name.len() - 8..],
                "io.shoal.data-source": "file"
            }
        }
    }))
    .unwrap()
}

/// The recorded swarm with web's spec (and, when `tasks_too`, its running tasks) mounting
/// config `id` named `name`.
fn web_mounting(mut live: Live, id: &str, name: &str, tasks_too: bool) -> Live {
    let reference: bollard::models::TaskSpecContainerSpecConfigs = serde_json::from_value(json!({
        "File": {"Name": "/etc/greeting", "UID": "0", "GID": "0", "Mode": 292},
        "ConfigID": id,
        "ConfigName": name
    }))
    .unwrap();
    let web = live
        .services
        .iter_mut()
        .find(|s| s.spec.as_ref().unwrap().name.as_deref() == Some("web"))
        .unwrap();
    let container = web.spec.as_mut().unwrap().task_template.as_mut().unwrap();
    container.container_spec.as_mut().unwrap().configs = Some(vec![reference.clone()]);
    let web_id = web.id.clone();
    if tasks_too {
        for task in live.tasks.iter_mut().filter(|t| t.service_id == web_id) {
            let spec = task.spec.as_mut().unwrap().container_spec.as_mut().unwrap();
            spec.configs = Some(vec![reference.clone()]);
        }
    }
    live
}

fn about(plan: &crate::plan::Plan, kind: Kind) -> Vec<Change> {
    plan.changes
        .iter()
        .filter(|c| c.kind == kind)
        .cloned()
        .collect()
}

#[test]
fn a_new_content_is_a_new_version_the_service_moves_to_and_the_old_one_waits_for_it() {
    let first = "greeting-a96db689";
    let second = format!("greeting-{}", &sha256("hello 2\n")[..8]);
    assert_eq!(first, format!("greeting-{}", &sha256("hello 1\n")[..8]));
    let mut live = web_mounting(recorded::live(CURRENT, "applied"), "cfg1", first, true);
    live.configs = vec![config("cfg1", first, "greeting", 2000)];

    let plan = plan(&desired("hello 2\n", ""), &live);
    let configs = about(&plan, Kind::Config);
    assert_eq!(configs.len(), 2, "{configs:#?}");
    assert_eq!(
        (
            configs[0].name.as_str(),
            configs[0].action,
            &configs[0].blocked
        ),
        ("greeting", Action::Create, &None)
    );
    assert_eq!(
        configs[0].fields,
        [
            FieldChange {
                path: "object".into(),
                from: None,
                to: Some(second.clone())
            },
            FieldChange {
                path: "data".into(),
                from: None,
                to: Some("file greeting.txt".into())
            },
        ]
    );
    assert_eq!(
        (
            configs[1].name.as_str(),
            configs[1].action,
            &configs[1].blocked
        ),
        (
            first,
            Action::Delete,
            &Some(Blocked::VersionInUse {
                services: vec!["web".into()],
                tasks: 2
            })
        )
    );
    let web = about(&plan, Kind::Service);
    assert_eq!(web.len(), 1);
    assert_eq!(
        web[0].blocked, None,
        "the version this plan creates holds nothing"
    );
    assert!(web[0].restarts_tasks);
    assert_eq!(
        web[0].fields,
        [FieldChange {
            path: "configs[0].source".into(),
            from: Some(first.into()),
            to: Some(second.clone())
        }]
    );

    // web moved; its old tasks still run with the old version: one kept (keep: 1)...
    let mut moved = web_mounting(live.clone(), "cfg2", &second, false);
    moved
        .configs
        .push(config("cfg2", &second, "greeting", 2010));
    let plan = crate::plan::plan(&desired("hello 2\n", ""), &moved);
    let configs = about(&plan, Kind::Config);
    assert_eq!(
        configs
            .iter()
            .map(|c| (c.name.as_str(), c.action, c.blocked.clone()))
            .collect::<Vec<_>>(),
        [(
            first,
            Action::Delete,
            Some(Blocked::VersionInUse {
                services: vec![],
                tasks: 2
            })
        )]
    );
    assert_eq!(about(&plan, Kind::Service), []);
    // ... and none with keep: 0.
    let plan = crate::plan::plan(&desired("hello 2\n", "  keep: 0\n"), &moved);
    assert_eq!(
        about(&plan, Kind::Config)
            .iter()
            .map(|c| (c.name.as_str(), c.action, c.blocked.clone()))
            .collect::<Vec<_>>(),
        [(first, Action::Delete, None)]
    );
}

#[test]
fn data_that_cannot_be_read_keeps_the_version_in_use_and_blocks_nothing_else() {
    let first = "greeting-a96db689";
    let mut live = web_mounting(recorded::live(CURRENT, "applied"), "cfg1", first, true);
    live.configs = vec![config("cfg1", first, "greeting", 2000)];
    // The data on the host is gone: its version is not known.
    let desired = desired_with(
        "hello 1\n",
        &CONFIG.replace("file: greeting.txt", "fromFile: /nonexistent/greeting.txt"),
    );
    let plan = plan(&desired, &live);
    assert_eq!(
        plan.changes
            .iter()
            .map(|c| (
                c.kind,
                c.name.as_str(),
                c.action,
                c.blocked.as_ref().map(|b| b.to_string())
            ))
            .collect::<Vec<_>>(),
        [(
            Kind::Config,
            "greeting",
            Action::Update,
            Some(format!(
                "{}:6:13: cannot read the host file /nonexistent/greeting.txt: No such file or \
                 directory (os error 2); {first} stays in use",
                desired
                    .find(Kind::Config, "greeting")
                    .unwrap()
                    .origin
                    .file
                    .display()
            ))
        )]
    );
}

#[test]
fn a_generated_secret_whose_resource_is_gone_is_kept() {
    let mut live = recorded::live(CURRENT, "applied");
    live.secrets.push(
        serde_json::from_value(json!({
            "ID": "sec1",
            "Version": {"Index": 2100},
            "Spec": {"Name": "api_key-1a2b3c4d", "Labels": {
                "io.shoal.managed-by": "shoal",
                "io.shoal.resource": "api_key",
                "io.shoal.data-source": "generate"
            }}
        }))
        .unwrap(),
    );
    let plan = plan(&desired("hello 1\n", ""), &live);
    let secrets = about(&plan, Kind::Secret);
    assert_eq!(
        secrets
            .iter()
            .map(|c| (
                c.name.as_str(),
                c.action,
                c.blocked.as_ref().map(|b| b.to_string())
            ))
            .collect::<Vec<_>>(),
        [(
            "api_key-1a2b3c4d",
            Action::Delete,
            Some(
                "a generated secret's value exists nowhere else, so shoal does not remove it: \
                 `docker secret rm api_key-1a2b3c4d` once nothing needs it"
                    .into()
            )
        )]
    );
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
