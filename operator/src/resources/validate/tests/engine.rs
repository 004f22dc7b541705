//! Values and combinations Docker refuses, caught before apply: each fed as a bad input,
//! asserting the exact `file:line:col: Kind/name: message`.

use super::{STORAGE, problems, service};

/// A service whose `resources.limits` mapping the test completes, at line 9 onwards.
const LIMITS: &str = "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  \
                      image: nginx\n  resources:\n    limits:\n";

#[test]
fn a_memory_limit_below_dockers_minimum() {
    assert_eq!(
        problems(&format!("{LIMITS}      memory: 4M\n")),
        ["t.yaml:9:15: Service/web: memory limit 4M is below Docker's minimum of 6M"]
    );
    assert_eq!(
        problems(&format!("{LIMITS}      memory: 6M\n")),
        Vec::<String>::new()
    );
    // A reservation has no minimum.
    assert_eq!(
        problems(&format!(
            "{LIMITS}      memory: 64M\n    reservations: {{memory: 1M}}\n"
        )),
        Vec::<String>::new()
    );
}

#[test]
fn sizes_and_durations_beyond_what_docker_holds() {
    assert_eq!(
        problems(&format!("{LIMITS}      memory: 9000000T\n")),
        [
            "t.yaml:9:15: Service/web: spec.resources.limits.memory: size \"9000000T\" is larger \
             than Docker can hold (8388607T)"
        ]
    );
    assert_eq!(
        problems(&service("web", "  stopGracePeriod: 2562048h\n")),
        [
            "t.yaml:9:20: Service/web: spec.stopGracePeriod: invalid duration \"2562048h\": \
             longer than Docker can hold (2562047h47m16.854775807s) (write it as Docker does: \
             a number and a unit, ns, us, ms, s, m or h, repeated: 10s, 1m30s, 500ms, 1.5h)"
        ]
    );
    assert_eq!(
        problems(&service("web", "  stopGracePeriod: 10sec\n")),
        [
            "t.yaml:9:20: Service/web: spec.stopGracePeriod: invalid duration \"10sec\": \
             unknown unit \"sec\" (write it as Docker does: a number and a unit, ns, us, ms, s, \
             m or h, repeated: 10s, 1m30s, 500ms, 1.5h)"
        ]
    );
}

#[test]
fn max_replicas_per_node_on_a_global_service() {
    assert_eq!(
        problems(&service(
            "web",
            "  mode: global\n  placement:\n    maxReplicasPerNode: 1\n"
        )),
        [
            "t.yaml:11:25: Service/web: maxReplicasPerNode cannot be set with mode: global (a \
             global service runs one task per node; docker refuses it)"
        ]
    );
}

#[test]
fn names_docker_would_refuse() {
    let doc = |image: &str, extra: &str| {
        format!(
            "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  image: \
             {image}\n  resources:\n    limits: {{memory: 64M}}\n{extra}"
        )
    };
    assert_eq!(
        problems(&doc("Example/Nginx:1", "")),
        [
            "t.yaml:6:10: Service/web: image \"Example/Nginx:1\" is not a reference Docker \
             accepts: the repository name must be lowercase"
        ]
    );
    assert_eq!(
        problems(&doc("nginx:-1", "")),
        [
            "t.yaml:6:10: Service/web: image \"nginx:-1\" is not a reference Docker accepts: \
             expected [registry/]name[:tag][@digest], e.g. nginx:1.27 or ghcr.io/org/app:2"
        ]
    );
    assert_eq!(
        problems(&doc("ghcr.io/org/app:2.1", "")),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&service(
            "web",
            "  env:\n    - {name: DB_PASSWORD_FILE, secretFile: /run/secrets/db}\n  secrets:\n    \
             - {source: \"-db\"}\n  mounts:\n    - {type: volume, source: data/x, target: /x}\n"
        )),
        [
            "t.yaml:10:44: Service/web: secretFile \"/run/secrets/db\" is a path; name the swarm \
             secret instead: \"db\"",
            "t.yaml:12:16: Service/web: secret source \"-db\" is not a swarm secret name: \
             letters, digits, - _ and ., starting and ending with a letter or digit, at most 64 \
             characters (docker secret ls shows them)",
            "t.yaml:14:30: Service/web: \"data/x\" is a path, not a volume name: for a directory \
             of the host use type: bind",
        ]
    );
}

#[test]
fn paths_with_dot_dot_are_refused_with_where_they_lead() {
    let mounts = "  mounts:\n    - {type: bind, source: /data/storage/../../etc, target: /etc2}\n    \
                  - {type: bind, source: /data/x/../storage/www, target: /up}\n";
    assert_eq!(
        problems(&format!("{STORAGE}{}", service("web", mounts))),
        [
            "t.yaml:22:28: Service/web: bind mount source \"/data/storage/../../etc\" has a \
             `..`: write the path it leads to (/etc)",
            "t.yaml:23:28: Service/web: bind mount source \"/data/x/../storage/www\" has a \
             `..`: write the path it leads to (/data/storage/www)",
        ]
    );
    let volume = STORAGE
        .replace(
            "mountPoint: /data/storage",
            "mountPoint: /data/x/../storage",
        )
        .replacen("path: /bricks/s", "path: /bricks/../bricks/s", 1);
    assert_eq!(
        problems(&volume),
        [
            "t.yaml:8:24: GlusterVolume/storage: brick path \"/bricks/../bricks/s\" has a `..`: \
             write the path it leads to (/bricks/s)",
            "t.yaml:11:15: GlusterVolume/storage: mountPoint \"/data/x/../storage\" has a `..`: \
             write the path it leads to (/data/storage)",
        ]
    );
}

#[test]
fn a_cpu_limit_below_dockers_minimum_and_a_disabled_check_with_settings() {
    assert_eq!(
        problems(
            &service(
                "web",
                "  healthcheck:\n    test: [\"NONE\"]\n    interval: 10s\n"
            )
            .replace(
                "limits: {memory: 64M}",
                "limits: {memory: 64M, cpus: 0.005}"
            )
        ),
        [
            "t.yaml:8:33: Service/web: CPU limit 0.005 is below Docker's minimum of 0.01",
            "t.yaml:10:5: Service/web: warning: [\"NONE\"] disables the health check: its \
             interval, timeout, retries and startPeriod do nothing (the docker CLI refuses them \
             together)",
        ]
    );
}
