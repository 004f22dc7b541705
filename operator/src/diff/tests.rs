//! Normalisation and field diffs on specs read back from engine JSON.

use std::collections::HashMap;

use super::*;
use crate::observe::live::Live;

fn spec(yaml: &str) -> ServiceSpec {
    serde_saphyr::from_str(yaml).unwrap()
}

/// The spec as the engine would store and return it: rendered, serialized the way the
/// engine answers, read back.
fn round_trip(desired: &ServiceSpec) -> ServiceSpec {
    let engine =
        crate::swarm::render::service("s", desired, HashMap::new(), None, &with_secrets(desired))
            .unwrap();
    observed::service(&engine, &HashMap::new())
}

/// A swarm holding every secret `spec` mounts.
fn with_secrets(spec: &ServiceSpec) -> Live {
    let mut live = Live::default();
    for (name, ..) in crate::swarm::render::secret_mounts(spec) {
        live.secrets.push(bollard::models::Secret {
            id: Some(format!("id-{name}")),
            spec: Some(bollard::models::SecretSpec {
                name: Some(name.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    live
}

#[test]
fn an_update_config_without_parallelism_means_one_task_at_a_time() {
    let desired = spec("image: x\nupdateConfig:\n  order: stop-first\n  failureAction: pause\n");
    assert_eq!(service(&round_trip(&desired), &desired), vec![]);
    // The engine's own zero, written by someone else, is "all at once": drift.
    let mut live = round_trip(&desired);
    live.update_config.as_mut().unwrap().parallelism = Some(0);
    assert_eq!(
        service(&live, &desired),
        vec![FieldChange {
            path: "updateConfig.parallelism".into(),
            from: Some("0".into()),
            to: None
        }]
    );
}

#[test]
fn engine_defaults_equal_unset_fields() {
    let desired = spec("image: x\n");
    let live = spec(
        "image: x@sha256:0123\nreplicas: 1\nstopGracePeriod: 10s\nrestartPolicy: {condition: any, delay: 5s, maxAttempts: 0}\nupdateConfig: {parallelism: 1, delay: 0s, failureAction: pause, monitor: 5s, maxFailureRatio: 0, order: stop-first}\n",
    );
    assert_eq!(service(&live, &desired), vec![]);
}

#[test]
fn quantities_compare_by_value_and_env_by_name() {
    let desired = spec(
        "image: x\nresources: {limits: {memory: 0.5G}}\nenv: [{name: A, value: '1'}, {name: B, value: '2'}]\n",
    );
    let live = spec(
        "image: x\nresources: {limits: {memory: 512M}}\nenv: [{name: B, value: '2'}, {name: A, value: '1'}]\n",
    );
    assert_eq!(service(&live, &desired), vec![]);
}

#[test]
fn restarting_fields_are_told_apart() {
    assert!(!restarts_tasks("replicas"));
    assert!(!restarts_tasks("labels.team"));
    assert!(!restarts_tasks("ports[0].published"));
    assert!(!restarts_tasks("updateConfig.parallelism"));
    assert!(restarts_tasks("image"));
    assert!(restarts_tasks("env.X"));
    assert!(restarts_tasks("resources.limits.memory"));
}

#[test]
fn a_literal_path_to_a_mounted_secret_is_not_drift() {
    let desired = spec(
        "image: x\nenv: [{name: DB_PASSWORD_FILE, value: /run/secrets/pw}]\nsecrets: [{source: db, target: pw}]\n",
    );
    assert_eq!(service(&round_trip(&desired), &desired), vec![]);
}

#[test]
fn a_secret_target_given_as_a_path_is_not_prefixed_twice() {
    let desired = spec(
        "image: x\nenv: [{name: DB_PASSWORD_FILE, secretFile: db}]\nsecrets: [{source: db, target: /run/secrets/pw}]\n",
    );
    let live = with_secrets(&desired);
    let engine = crate::swarm::render::service("s", &desired, HashMap::new(), None, &live).unwrap();
    let env = engine
        .task_template
        .unwrap()
        .container_spec
        .unwrap()
        .env
        .unwrap();
    assert_eq!(env, ["DB_PASSWORD_FILE=/run/secrets/pw"]);
}

#[test]
fn secret_looking_names_are_matched_anywhere_in_a_word() {
    use crate::resources::service::looks_secret;
    for name in [
        "DB_PASSWORD",
        "API_KEYS",
        "JWT_SECRETS",
        "GITHUB_TOKENS",
        "APIKEY",
    ] {
        assert!(looks_secret(name), "{name}");
    }
    for name in ["DB_HOST", "WORDPRESS_DB_USER", "PORT"] {
        assert!(!looks_secret(name), "{name}");
    }
}

/// Both lab engines answer a service's health check under `Healthcheck`, while bollard's
/// model reads `HealthCheck` (the API's swagger); observe::services puts the key right,
/// so the live health check is read, also of services shoal did not create (and so
/// without shoal's label, labels::HEALTHCHECK). bollard alone still loses it: when it
/// reads the engine's key, the first check fails, and observe::services can go.
#[test]
fn the_engines_answer_the_health_check_under_a_key_bollard_does_not_read() {
    use crate::observe::recorded::{self, ENGINES};
    for engine in ENGINES {
        let path = recorded::engine_dir(engine).join("applied/services.json");
        let raw: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let web = raw
            .iter()
            .find(|s| s["Spec"]["Name"] == "web")
            .expect("web recorded");
        let container = &web["Spec"]["TaskTemplate"]["ContainerSpec"];
        assert_eq!(
            container["Healthcheck"]["Test"],
            serde_json::json!(["CMD", "wget", "-qO-", "http://127.0.0.1:8081/health"]),
            "engine {engine}"
        );
        assert_eq!(container.get("HealthCheck"), None, "engine {engine}");
        let by_bollard: Vec<bollard::models::Service> =
            serde_json::from_value(serde_json::Value::Array(raw.clone())).unwrap();
        let by_bollard = by_bollard
            .iter()
            .find(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) == Some("web"))
            .and_then(|s| {
                s.spec
                    .as_ref()?
                    .task_template
                    .as_ref()?
                    .container_spec
                    .clone()
            });
        assert_eq!(
            by_bollard.unwrap().health_check,
            None,
            "engine {engine}: bollard reads the health check now"
        );
        let live = recorded::live(engine, "applied");
        let read = live.service("web").unwrap().spec.as_ref().unwrap();
        let container = read.task_template.as_ref().unwrap().container_spec.as_ref();
        let check = container.unwrap().health_check.clone().unwrap();
        assert_eq!(
            check.test.unwrap(),
            ["CMD", "wget", "-qO-", "http://127.0.0.1:8081/health"],
            "engine {engine}"
        );
    }
}
