use std::path::{Path, PathBuf};

use super::*;
use crate::import::write;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/compose/example/docker-compose.yml")
}

fn notes(imported: &Imported) -> Vec<String> {
    imported
        .notes
        .iter()
        .map(|note| format!("{}: {}: {}", note.line, note.field, note.message))
        .collect()
}

fn file<'a>(files: &'a [(PathBuf, String)], path: &str) -> &'a str {
    files
        .iter()
        .find(|(p, _)| p == Path::new(path))
        .map(|(_, text)| text.as_str())
        .unwrap_or_else(|| panic!("{path} not written"))
}

#[test]
fn the_example_platform_imports_under_its_stack_names() {
    let imported = import(&ComposeOptions {
        files: vec![example()],
        env_file: None,
        stack: Some("site".to_string()),
        rename: false,
    })
    .unwrap();
    let files = write::render(&imported.resources, "shoal import compose --stack site");
    let mut paths: Vec<_> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "networks/site_backend.yaml",
            "networks/site_frontend.yaml",
            "services/site_db.yaml",
            "services/site_http.yaml",
            "services/site_loadbalancer.yaml",
            "services/site_php-fpm.yaml",
        ]
    );
    let db = file(&files, "services/site_db.yaml");
    let (header, body) = db.split_once('\n').unwrap();
    assert!(
        header.starts_with("# Imported by `shoal import compose --stack site` from service db of ")
    );
    assert!(header.ends_with("docker-compose.yml:14."), "{header}");
    assert_eq!(
        body,
        "\
apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: site_db
  annotations:
    shoal.io/adopt: \"true\"
spec:
  image: example/mariadb:1
  mode: replicated
  replicas: 1
  env:
  - name: MARIADB_DATABASE
    value: wordpress
  - name: MARIADB_PASSWORD_FILE
    secretFile: wp_db_password
  - name: MARIADB_ROOT_PASSWORD_FILE
    secretFile: db_root_password
  - name: MARIADB_USER
    value: wordpress
  secrets:
  - source: db_root_password
  - source: wp_db_password
  mounts:
  - type: volume
    source: site_db-data
    target: /var/lib/mysql
  networks:
  - site_backend
  placement:
    constraints:
    - node.role == manager
  resources:
    limits:
      memory: 300M
    reservations:
      memory: 256M
  updateConfig:
    parallelism: 1
    order: stop-first
    failureAction: pause
  healthcheck:
    test:
    - CMD
    - healthcheck.sh
    - --connect
    - --innodb_initialized
    interval: 10s
    timeout: 5s
    retries: 5
    startPeriod: 30s
  stopGracePeriod: 1m
  labels:
    com.docker.stack.image: example/mariadb:1
    com.docker.stack.namespace: site
  containerLabels:
    com.docker.stack.namespace: site
"
    );
    let lb = file(&files, "services/site_loadbalancer.yaml");
    assert!(lb.contains("  ports:\n  - target: 80\n    published: 80\n    protocol: tcp\n    publishMode: host\n"), "{lb}");
    let http = file(&files, "services/site_http.yaml");
    assert!(
        http.contains("  args:\n  - nginx\n  - -c\n  - /etc/nginx/http.conf\n"),
        "{http}"
    );
    assert!(http.contains("    readOnly: true\n"), "{http}");
    // The anchor's settings, merged under `delay`.
    assert!(http.contains("  updateConfig:\n    parallelism: 1\n    delay: 5s\n    order: start-first\n    failureAction: rollback\n"), "{http}");
    assert_eq!(
        notes(&imported),
        [
            "51: services.php-fpm.build: Swarm ignores this: swarm runs images: build and push \
             the image, then set `image`",
            "52: services.php-fpm.depends_on: Swarm ignores this: swarm starts services in no \
             order: make the service retry its dependencies",
            "100: services.loadbalancer.container_name: Swarm ignores this: swarm names a \
             service's containers itself",
            "101: services.loadbalancer.restart: Swarm ignores this: use deploy.restart_policy",
        ]
    );
}

/// A project directory with the files given.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn service<'a>(imported: &'a Imported, name: &str) -> &'a ServiceSpec {
    imported
        .resources
        .iter()
        .find_map(|r| match &r.spec {
            ImportedSpec::Service(spec) if r.name == name => Some(&**spec),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no service {name}"))
}

use crate::resources::service::{Port, Protocol, PublishMode, ServiceSpec};

#[test]
fn files_merge_in_order_and_variables_come_from_the_env_file() {
    let dir = project(&[
        (".env", "SHOAL_TEST_TAG=1.27\nSHOAL_TEST_REPLICAS=3\n"),
        (
            "base.yml",
            "services:\n  web:\n    image: nginx:${SHOAL_TEST_TAG:?set the tag}\n    ports: [\"80:80\"]\n    environment: [MODE=base, LEVEL=1]\n",
        ),
        (
            "prod.yml",
            "services:\n  web:\n    environment: {MODE: prod}\n    ports: [\"443:443\"]\n    deploy:\n      replicas: ${SHOAL_TEST_REPLICAS}\n",
        ),
    ]);
    let imported = import(&ComposeOptions {
        files: vec![dir.path().join("base.yml"), dir.path().join("prod.yml")],
        env_file: None,
        stack: None,
        rename: false,
    })
    .unwrap();
    let web = service(&imported, "web");
    assert_eq!(web.image, "nginx:1.27");
    assert_eq!(web.replicas, Some(3));
    let env: Vec<_> = web
        .env
        .iter()
        .map(|v| format!("{}={}", v.name, v.value.as_deref().unwrap()))
        .collect();
    assert_eq!(env, ["LEVEL=1", "MODE=prod"]);
    let port = |p| Port {
        target: p,
        published: Some(p),
        protocol: Protocol::Tcp,
        publish_mode: PublishMode::Ingress,
    };
    assert_eq!(web.ports, [port(80), port(443)]);
    // No stack: the default network gets compose's name for it.
    let project_name = dir.path().file_name().unwrap().to_string_lossy();
    assert_eq!(web.networks, [format!("{project_name}_default")]);
    assert_eq!(imported.notes, []);
}

#[test]
fn a_required_variable_that_is_unset_names_its_file_and_line_and_writes_nothing() {
    let dir = project(&[(
        "compose.yml",
        "services:\n  web:\n    image: nginx\n    environment:\n      HOST: ${SHOAL_TEST_UNSET_HOST:?the database host}\n",
    )]);
    let error = import(&ComposeOptions {
        files: vec![dir.path().join("compose.yml")],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:5: services.web.environment.HOST: the variable SHOAL_TEST_UNSET_HOST must be \
             set: the database host",
            dir.path().join("compose.yml").display()
        )
    );
}

#[test]
fn a_literal_secret_is_left_out_and_its_value_never_shown() {
    let dir = project(&[(
        "compose.yml",
        "services:\n  db:\n    image: mariadb\n    environment:\n      MARIADB_ROOT_PASSWORD: hunter2\n      MARIADB_USER: wp\n",
    )]);
    let imported = import(&ComposeOptions {
        files: vec![dir.path().join("compose.yml")],
        ..Default::default()
    })
    .unwrap();
    let db = service(&imported, "db");
    assert_eq!(db.env.len(), 1);
    assert_eq!(db.env[0].name, "MARIADB_USER");
    let notes = notes(&imported);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].starts_with(
            "5: services.db.environment.MARIADB_ROOT_PASSWORD: MARIADB_ROOT_PASSWORD looks secret"
        ),
        "{}",
        notes[0]
    );
    let written = write::render(&imported.resources, "shoal import compose");
    assert!(!notes[0].contains("hunter2") && !written[0].1.contains("hunter2"));
}

#[test]
fn a_service_without_an_image_is_reported_and_the_others_imported() {
    let dir = project(&[(
        "compose.yml",
        "services:\n  app:\n    build: .\n  cache:\n    image: redis:7\n    stop_signal: SIGINT\n    tmpfs: /data\n",
    )]);
    let imported = import(&ComposeOptions {
        files: vec![dir.path().join("compose.yml")],
        ..Default::default()
    })
    .unwrap();
    let names: Vec<_> = imported.resources.iter().map(|r| r.name.as_str()).collect();
    let project_name = dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        names,
        ["cache".to_string(), format!("{project_name}_default")]
    );
    assert_eq!(
        notes(&imported),
        [
            "2: services.app.image: no image: swarm runs images, it builds none; build and push \
             it, set `image`, and import again (this service is not imported)",
            "6: services.cache.stop_signal: shoal cannot express this yet: not imported (set it on \
             the image, or on the service by hand: `docker service update` on cache)",
        ]
    );
    assert_eq!(service(&imported, "cache").mounts[0].target, "/data");
}

#[test]
fn existing_files_are_never_overwritten() {
    let dir = project(&[]);
    std::fs::create_dir(dir.path().join("services")).unwrap();
    std::fs::write(dir.path().join("services/web.yaml"), "mine").unwrap();
    let files = vec![
        (PathBuf::from("networks/n.yaml"), "n".to_string()),
        (PathBuf::from("services/web.yaml"), "theirs".to_string()),
    ];
    let error = write::write(dir.path(), &files).unwrap_err();
    assert!(error.starts_with("these files exist already, so nothing was written: "));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("services/web.yaml")).unwrap(),
        "mine"
    );
    assert!(!dir.path().join("networks").exists());
}

#[test]
fn renaming_gives_compose_names_keeps_the_stack_s_volumes_and_says_it_is_no_take_over() {
    let imported = import(&ComposeOptions {
        files: vec![example()],
        env_file: None,
        stack: Some("site".to_string()),
        rename: true,
    })
    .unwrap();
    let mut names: Vec<_> = imported.resources.iter().map(|r| r.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "backend",
            "db",
            "frontend",
            "http",
            "loadbalancer",
            "php-fpm"
        ]
    );
    assert!(imported.resources.iter().all(|r| !r.adopt));
    let db = service(&imported, "db");
    assert_eq!(db.mounts[0].source.as_deref(), Some("site_db-data"));
    assert!(!db.labels.contains_key("com.docker.stack.namespace"));
    let notes = notes(&imported);
    assert!(
        notes.iter().any(|n| n.starts_with(
            "13: services: --rename: services and networks take the compose names (web, not \
             site_web), so `shoal apply` creates them beside the stack's"
        )),
        "{notes:?}"
    );
}

#[test]
fn container_settings_carry_over_as_the_engine_spells_them() {
    let dir = project(&[(
        "compose.yml",
        "services:\n  tool:\n    image: busybox\n    hostname: tool-1\n    user: \"1000:1000\"\n    working_dir: /srv\n    init: true\n    cap_add: [net_admin, CAP_SYS_TIME]\n    cap_drop: [all]\n    labels: [team=ops, tier=tools]\n",
    )]);
    let imported = import(&ComposeOptions {
        files: vec![dir.path().join("compose.yml")],
        ..Default::default()
    })
    .unwrap();
    let tool = service(&imported, "tool");
    assert_eq!(tool.hostname.as_deref(), Some("tool-1"));
    assert_eq!(tool.user.as_deref(), Some("1000:1000"));
    assert_eq!(tool.working_dir.as_deref(), Some("/srv"));
    assert_eq!(tool.init, Some(true));
    assert_eq!(tool.cap_add, ["CAP_NET_ADMIN", "CAP_SYS_TIME"]);
    assert_eq!(tool.cap_drop, ["ALL"]);
    assert_eq!(
        tool.container_labels,
        std::collections::BTreeMap::from([
            ("team".to_string(), "ops".to_string()),
            ("tier".to_string(), "tools".to_string()),
        ])
    );
    assert_eq!(imported.notes, []);
}

/// Imports `file` (under tests/fixtures/compose), writes it beside `extra` desired-state
/// files, validates it as `shoal validate` would, and returns the notes.
fn round_trip(file: &str, stack: Option<&str>, extra: &[&str]) -> Vec<String> {
    let fixtures = crate::observe::recorded::fixtures();
    let imported = import(&ComposeOptions {
        files: vec![fixtures.join("compose").join(file)],
        stack: stack.map(str::to_string),
        ..Default::default()
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let files = write::render(&imported.resources, "shoal import compose");
    write::write(out.path(), &files).unwrap();
    for file in extra {
        let from = fixtures.join("../..").join(file);
        std::fs::copy(&from, out.path().join(from.file_name().unwrap())).unwrap();
    }
    let validation = crate::source::validate::validate_dir(
        out.path(),
        &crate::source::validate::ValidateOptions::default(),
    )
    .unwrap();
    assert_eq!(validation.errors(), 0, "{file}: {:#?}", validation.problems);
    notes(&imported)
}

#[test]
fn compose_files_of_known_shapes_import_and_validate() {
    let example = round_trip(
        "example/docker-compose.yml",
        Some("site"),
        &["desired-state/storage.yaml", "desired-state/nodes.yaml"],
    );
    assert_eq!(example.len(), 4);
    assert_eq!(
        round_trip("voting/docker-compose.yml", None, &[]),
        [
            "36: services.vote.depends_on: Swarm ignores this: swarm starts services in no order: \
         make the service retry its dependencies",
            "49: services.result.depends_on: Swarm ignores this: swarm starts services in no \
         order: make the service retry its dependencies",
        ]
    );
    assert_eq!(
        round_trip("wordpress/compose.yaml", Some("wp"), &[]),
        [
            "10: services.db.restart: Swarm ignores this: use deploy.restart_policy",
            "24: services.wordpress.restart: Swarm ignores this: use deploy.restart_policy",
            "39: secrets.db_password: shoal does not create swarm secrets: create it once before \
         applying: `docker secret create wp_db_password ./db_password.txt`",
        ]
    );
}
