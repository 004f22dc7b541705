//! Every rule fed a bad input, asserting the exact `file:line:col: Kind/name: message`.

use std::path::{Path, PathBuf};

use crate::diagnostics;
use crate::source::{Loaded, load_text};

use super::policy::Policy;
use super::validate;

/// Loads `yaml` as the file `t.yaml` and returns every problem, rendered, in order.
fn problems_with(yaml: &str, policy: &Policy) -> Vec<String> {
    let mut loaded = Loaded::default();
    load_text(Path::new("t.yaml"), yaml, &mut loaded);
    let mut problems = loaded.problems;
    problems.extend(validate(&loaded.desired, policy, Path::new("dir")));
    diagnostics::sort(&mut problems);
    problems.iter().map(ToString::to_string).collect()
}

pub(super) fn problems(yaml: &str) -> Vec<String> {
    problems_with(yaml, &Policy::default())
}

/// A service document with a memory limit (so no warning), the given extra spec lines
/// appended at line 9 onwards, with two-space indentation under `spec:`.
pub(super) fn service(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  image: nginx\n  resources:\n    limits: {{memory: 64M}}\n{extra_spec}"
    )
}

#[test]
fn the_example_desired_state_is_valid_without_warnings() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../desired-state");
    let validation = crate::source::validate::validate_dir(&dir, &Default::default()).unwrap();
    let rendered: Vec<String> = validation
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(rendered, Vec::<String>::new());
    assert_eq!(validation.desired.resources.len(), 14);
}

#[test]
fn yaml_syntax_error() {
    assert_eq!(
        problems("apiVersion: shoal/v1alpha1\nkind: Service\nmetadata: {name: [x\n"),
        ["t.yaml:3:18: YAML syntax error: unclosed bracket '['"]
    );
}

#[test]
fn unknown_field() {
    assert_eq!(
        problems(&service("web", "  colour: red\n")),
        [
            "t.yaml:9:3: Service/web: spec.colour: unknown field `colour`, expected one of image, \
             mode, replicas, command, args, env, secrets, configs, ports, mounts, networks, placement, \
             resources, restartPolicy, updateConfig, rollbackConfig, healthcheck, \
             stopGracePeriod, labels, containerLabels, hostname, user, workingDir, init, capAdd, \
             capDrop, dependsOn"
        ]
    );
}

#[test]
fn wrong_type() {
    assert_eq!(
        problems(&service("web", "  replicas: many\n")),
        [
            "t.yaml:9:13: Service/web: spec.replicas: expected a whole number, 0 or more, not \"many\""
        ]
    );
}

#[test]
fn missing_required_field() {
    assert_eq!(
        problems(
            "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"
        ),
        ["t.yaml:5:1: Service/web: spec.image: missing (required)"]
    );
    assert_eq!(
        problems("apiVersion: shoal/v1alpha1\nkind: GlusterVolume\nmetadata:\n  name: storage\n"),
        ["t.yaml:1:1: GlusterVolume/storage: spec: missing (required)"]
    );
    assert_eq!(
        problems("kind: Network\nmetadata:\n  name: n\n"),
        ["t.yaml:1:1: Network/n: apiVersion: missing (required)"]
    );
}

#[test]
fn unknown_kind_and_api_version() {
    assert_eq!(
        problems(
            "apiVersion: shoal/v1alpha1\nkind: Servce\nmetadata:\n  name: web\n---\napiVersion: apps/v1\nkind: Service\nmetadata:\n  name: api\n"
        ),
        [
            "t.yaml:2:7: Servce/web: unknown kind \"Servce\": expected one of Node, Network, \
             GlusterVolume, Secret, Config, Service",
            "t.yaml:6:13: Service/api: unknown apiVersion \"apps/v1\": expected \"shoal/v1alpha1\"",
        ]
    );
}

#[test]
fn a_document_that_is_not_a_mapping() {
    assert_eq!(
        problems("- just\n- a list\n"),
        ["t.yaml:1:1: a resource must be a mapping with apiVersion, kind, metadata and spec"]
    );
}

#[test]
fn all_problems_of_a_file_are_reported_not_just_the_first() {
    let yaml = format!(
        "{}---\n{}",
        service("a", "  colour: red\n"),
        service("b", "  replicas: many\n")
    );
    assert_eq!(problems(&yaml).len(), 2);
}

#[test]
fn duplicate_names_within_a_kind() {
    let yaml = format!(
        "{}---\n{}---\napiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: web\n",
        service("web", ""),
        service("web", "")
    );
    assert_eq!(
        problems(&yaml),
        ["t.yaml:13:9: Service/web: duplicate name: Service/web is already defined at t.yaml:4:9"]
    );
}

#[test]
fn invalid_names() {
    assert_eq!(
        problems(&service("web.app", "")),
        [
            "t.yaml:4:9: Service/web.app: invalid name \"web.app\": use 1 to 63 letters, digits, \
             '-' or '_', starting and ending with a letter or digit"
        ]
    );
}

const STORAGE: &str = "apiVersion: shoal/v1alpha1\nkind: GlusterVolume\nmetadata:\n  name: storage\nspec:\n  replica: 3\n  bricks:\n    - {node: n1, path: /bricks/s}\n    - {node: n2, path: /bricks/s}\n    - {node: n3, path: /bricks/s}\n  mountPoint: /data/storage\n---\n";

#[test]
fn bind_mount_must_lie_on_gluster_or_an_allowed_host_path() {
    let mounts = "  mounts:\n    - {type: bind, source: /data/storage/www, target: /www}\n    - {type: bind, source: /data/storage2/x, target: /x}\n    - {type: bind, source: /var/run/docker.sock, target: /var/run/docker.sock}\n";
    let yaml = format!("{STORAGE}{}", service("web", mounts));
    let outside = |line: usize, source: &str| {
        format!(
            "t.yaml:{line}:28: Service/web: bind mount source \"{source}\" lies under no \
             GlusterVolume mountPoint (declared: /data/storage) and no allowed host path: a host \
             path differs from node to node; move it onto a GlusterVolume or allow it with \
             --allow-host-path or allowHostPaths in .shoal-policy.yaml"
        )
    };
    assert_eq!(
        problems(&yaml),
        [
            outside(23, "/data/storage2/x"),
            outside(24, "/var/run/docker.sock")
        ]
    );
    let policy = Policy {
        allow_host_paths: vec![PathBuf::from("/var/run/docker.sock")],
    };
    assert_eq!(
        problems_with(&yaml, &policy),
        [outside(23, "/data/storage2/x")]
    );
}

#[test]
fn mount_shapes() {
    let mounts = "  mounts:\n    - {type: bind, target: /a}\n    - {type: volume, target: /b, size: 1M}\n    - {type: tmpfs, source: x, target: c, readOnly: true, size: 0}\n";
    assert_eq!(
        problems(&service("web", mounts)),
        [
            "t.yaml:10:7: Service/web: a bind mount needs a source path",
            "t.yaml:11:7: Service/web: a volume mount needs a source (the volume's name)",
            "t.yaml:11:40: Service/web: size is only for tmpfs mounts",
            "t.yaml:12:29: Service/web: a tmpfs mount has no source",
            "t.yaml:12:40: Service/web: mount target \"c\" must be an absolute path",
            "t.yaml:12:53: Service/web: a tmpfs mount cannot be read-only",
            "t.yaml:12:65: Service/web: size 0 must be greater than zero",
        ]
    );
}

#[test]
fn undeclared_network() {
    let yaml = format!(
        "apiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: backend\n---\n{}",
        service(
            "web",
            "  networks: [backend, host, ingress, frontend, backend]\n"
        )
    );
    assert_eq!(
        problems(&yaml),
        [
            "t.yaml:14:38: Service/web: network \"frontend\" is not declared: add a Network \
             resource named \"frontend\" (only host and ingress exist without one)",
            "t.yaml:14:48: Service/web: network \"backend\" is listed twice",
        ]
    );
}

#[test]
fn malformed_placement() {
    let placement = "  placement:\n    constraints:\n      - node.role == manager\n      - node.labels.db = true\n      - node.colour == red\n    preferences:\n      - spread: zone\n    maxReplicasPerNode: 0\n";
    assert_eq!(
        problems(&service("web", placement)),
        [
            "t.yaml:12:9: Service/web: constraint \"node.labels.db = true\" has no operator: \
             write KEY == VALUE or KEY != VALUE",
            "t.yaml:13:9: Service/web: constraint \"node.colour == red\" has an unknown key \
             \"node.colour\": use node.id, node.hostname, node.role, node.platform.os, \
             node.platform.arch, node.labels.NAME or engine.labels.NAME",
            "t.yaml:15:17: Service/web: spread \"zone\" must name a label: node.labels.NAME or \
             engine.labels.NAME",
            "t.yaml:16:25: Service/web: maxReplicasPerNode must be at least 1 (leave it out for \
             no limit)",
        ]
    );
}

#[test]
fn zero_and_negative_sizes() {
    let base = "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  image: nginx\n  resources:\n    limits:\n";
    assert_eq!(
        problems(&format!("{base}      memory: 0\n      cpus: 0\n")),
        [
            "t.yaml:9:15: Service/web: size 0 must be greater than zero",
            "t.yaml:10:13: Service/web: CPU count 0 must be greater than zero",
        ]
    );
    assert_eq!(
        problems(&format!("{base}      memory: 128M\n      cpus: -1\n")),
        ["t.yaml:10:13: Service/web: CPU count -1 must be greater than zero"]
    );
    assert_eq!(
        problems(&format!("{base}      memory: -300M\n")),
        ["t.yaml:9:15: Service/web: spec.resources.limits.memory: size \"-300M\" is negative"]
    );
    assert_eq!(
        problems(&format!("{base}      memory: 3 bananas\n")),
        [
            "t.yaml:9:15: Service/web: spec.resources.limits.memory: invalid size \"3 bananas\": \
             unknown unit \"bananas\" (use K, M, G or T)"
        ]
    );
}

#[test]
fn reservation_above_limit() {
    let base = "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  image: nginx\n  resources:\n    limits: {memory: 256M, cpus: 0.5}\n    reservations: {memory: 300M, cpus: 1}\n";
    assert_eq!(
        problems(base),
        [
            "t.yaml:9:28: Service/web: memory reservation 300M is above the memory limit 256M",
            "t.yaml:9:40: Service/web: CPU reservation 1 is above the CPU limit 0.5",
        ]
    );
}

#[test]
fn replicas_with_mode_global() {
    assert_eq!(
        problems(&service("web", "  mode: global\n  replicas: 3\n")),
        [
            "t.yaml:10:13: Service/web: replicas cannot be set with mode: global (a global \
             service runs one task per node)"
        ]
    );
}

#[test]
fn ports_published_twice() {
    let yaml = format!(
        "{}---\n{}",
        service(
            "a",
            "  ports:\n    - {target: 80, published: 80, publishMode: host}\n    - {target: 53, published: 53, protocol: udp}\n"
        ),
        service(
            "b",
            "  ports:\n    - {target: 8080, published: 80, publishMode: host}\n    - {target: 53, published: 53, protocol: tcp}\n    - {target: 5353, published: 53, protocol: udp}\n    - {target: 0, published: 70000}\n"
        )
    );
    assert_eq!(
        problems(&yaml),
        [
            "t.yaml:22:33: Service/b: port 80/tcp is published twice in host mode: two tasks on \
             one node cannot both bind it (also by Service/a at t.yaml:9:3)",
            "t.yaml:24:33: Service/b: port 53/udp is published twice: the routing mesh binds it \
             on every node (also by Service/a at t.yaml:9:3)",
            "t.yaml:25:16: Service/b: port 0 is out of range 1-65535",
            "t.yaml:25:30: Service/b: port 70000 is out of range 1-65535",
        ]
    );
}

#[test]
fn secret_looking_env_with_a_literal_value() {
    let env = "  env:\n    - {name: DB_HOST, value: db}\n    - {name: DB_PASSWORD, value: hunter2}\n    - {name: WORDPRESS_AUTH_KEY, value: abc}\n    - {name: GITHUB_TOKEN, value: ghp_x}\n    - {name: DB_PASSWORD_FILE, value: /run/secrets/db}\n    - {name: APP_SECRET_FILE, secretFile: app}\n    - {name: EMPTY_KEY, value: \"\"}\n";
    let hint = |name: &str| {
        format!(
            "{name} looks secret but has a literal value, which would live in git and in the \
             service spec: create a swarm secret (docker secret create) and use `secretFile: \
             SECRET_NAME` with the image's {name}_FILE variable"
        )
    };
    assert_eq!(
        problems(&service("web", env)),
        [
            format!("t.yaml:11:34: Service/web: {}", hint("DB_PASSWORD")),
            format!("t.yaml:12:41: Service/web: {}", hint("WORDPRESS_AUTH_KEY")),
            format!("t.yaml:13:35: Service/web: {}", hint("GITHUB_TOKEN")),
        ]
    );
}

#[test]
fn env_shapes() {
    let env = "  env:\n    - {name: 1X, value: a}\n    - {name: A, value: a}\n    - {name: A, value: b, secretFile: s}\n";
    assert_eq!(
        problems(&service("web", env)),
        [
            "t.yaml:10:14: Service/web: invalid environment variable name \"1X\"",
            "t.yaml:12:14: Service/web: environment variable \"A\" is set twice",
            "t.yaml:12:39: Service/web: A: set value or secretFile, not both",
        ]
    );
}

#[test]
fn secret_references() {
    let secrets = "  secrets:\n    - {source: a}\n    - {source: b, target: a}\n    - {source: c, target: /etc/c, mode: \"0999\"}\n";
    assert_eq!(
        problems(&service("web", secrets)),
        [
            "t.yaml:11:27: Service/web: two secrets are mounted at the same target \"a\"",
            "t.yaml:12:27: Service/web: secret target \"/etc/c\" must be a file name under \
             /run/secrets/",
            "t.yaml:12:41: Service/web: mode \"0999\" is not an octal mode such as \"0400\"",
        ]
    );
}

#[test]
fn rollout_and_healthcheck_settings() {
    let extra = "  updateConfig: {maxFailureRatio: 2}\n  rollbackConfig: {failureAction: rollback}\n  healthcheck:\n    test: [CMD-SHELL]\n    interval: 0s\n";
    assert_eq!(
        problems(&service("web", extra)),
        [
            "t.yaml:9:35: Service/web: maxFailureRatio 2 must be between 0 and 1",
            "t.yaml:10:35: Service/web: a rollback cannot itself roll back: use pause or continue",
            "t.yaml:12:5: Service/web: healthcheck test must be [\"CMD\", program, args...], \
             [\"CMD-SHELL\", command] or [\"NONE\"]",
            "t.yaml:13:15: Service/web: interval 0s must be at least 1ms",
        ]
    );
}

#[test]
fn drift_annotations() {
    let yaml = |annotations: &str| {
        format!(
            "apiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: appnet\n  annotations:\n{annotations}spec: {{}}\n"
        )
    };
    assert_eq!(
        problems(&yaml("    shoal.io/drift: report\n")),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&yaml(
            "    shoal.io/drift: fix\n    shoal.io/drfit: report\n"
        )),
        [
            "t.yaml:6:21: Network/appnet: drift policy \"fix\": use enforce (correct drift) or \
             report (only report it)",
            "t.yaml:7:21: Network/appnet: unknown annotation \"shoal.io/drfit\": shoal knows \
             shoal.io/drift and shoal.io/rebalance",
        ]
    );
}

#[test]
fn rebalance_annotations() {
    let yaml = |kind: &str, value: &str| {
        format!(
            "apiVersion: shoal/v1alpha1\nkind: {kind}\nmetadata:\n  name: web\n  annotations:\n    shoal.io/rebalance: {value}\nspec:\n  image: nginx\n  resources:\n    limits: {{memory: 64M}}\n"
        )
    };
    assert_eq!(problems(&yaml("Service", "off")), Vec::<String>::new());
    assert_eq!(problems(&yaml("Service", "auto")), Vec::<String>::new());
    assert_eq!(
        problems(&yaml("Service", "never")),
        [
            "t.yaml:6:25: Service/web: rebalance policy \"never\": use auto (even out tasks \
          after a node returns) or off (leave them where swarm put them)"
        ]
    );
    let network = "apiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: appnet\n  annotations:\n    shoal.io/rebalance: off\nspec: {}\n";
    assert_eq!(
        problems(network),
        [
            "t.yaml:6:25: Network/appnet: shoal.io/rebalance applies to Services only (it moves \
          their tasks)"
        ]
    );
}

#[test]
fn reserved_labels() {
    assert_eq!(
        problems(&service("web", "  labels:\n    io.shoal.managed-by: me\n")),
        [
            "t.yaml:10:26: Service/web: label \"io.shoal.managed-by\": the prefix \"io.shoal.\" \
             is reserved for shoal"
        ]
    );
}

#[test]
fn missing_memory_limit_is_a_warning() {
    let yaml = "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  image: nginx\n";
    assert_eq!(
        problems(yaml),
        [
            "t.yaml:5:1: Service/web: warning: no memory limit: one task that leaks can exhaust \
             its node's memory and take every other task on it down (the 1 GB nodes this project \
             grew out of crashed that way); set spec.resources.limits.memory"
        ]
    );
}

fn volume(replica: &str, bricks: &str) -> String {
    format!(
        "apiVersion: shoal/v1alpha1\nkind: GlusterVolume\nmetadata:\n  name: storage\nspec:\n  replica: {replica}\n  mountPoint: /data/storage\n  bricks:\n{bricks}"
    )
}

#[test]
fn gluster_bricks_on_fewer_nodes_than_replica() {
    let bricks = "    - {node: n1, path: /b/1}\n    - {node: n2, path: /b/1}\n    - {node: n2, path: /b/2}\n";
    assert_eq!(
        problems(&volume("3", bricks)),
        [
            "t.yaml:8:3: GlusterVolume/storage: bricks are on 2 node(s), fewer than replica 3: \
             each copy must live on its own node, or one node's loss takes several copies with it"
        ]
    );
}

#[test]
fn gluster_replica_2_without_arbiter_warns_of_split_brain() {
    let bricks = "    - {node: n1, path: /b}\n    - {node: n2, path: /b}\n";
    assert_eq!(
        problems(&volume("2", bricks)),
        [
            "t.yaml:6:12: GlusterVolume/storage: warning: replica 2 without an arbiter risks \
             split-brain: when the two nodes lose sight of each other both keep accepting \
             writes, and the copies diverge with no majority to settle it; use replica: 3, or \
             replica: 3 with arbiter: 1 for a metadata-only third brick"
        ]
    );
}

#[test]
fn gluster_layout_rules() {
    let bricks = "    - {node: n1, path: /b}\n    - {node: n1, path: /b}\n    - {node: n2, path: relative}\n    - {node: n3, path: /data/storage/brick}\n";
    let yaml = format!("{}  arbiter: 2\n", volume("2", bricks));
    assert_eq!(
        problems(&yaml),
        [
            "t.yaml:9:7: GlusterVolume/storage: replica set 1 has two bricks on one node: one \
             node's loss would take two copies",
            "t.yaml:10:7: GlusterVolume/storage: brick n1:/b is listed twice",
            "t.yaml:11:24: GlusterVolume/storage: brick path \"relative\" must be absolute",
            "t.yaml:12:24: GlusterVolume/storage: brick path \"/data/storage/brick\" lies inside \
             the volume's own mountPoint \"/data/storage\"",
            "t.yaml:13:12: GlusterVolume/storage: arbiter must be 1 (the last brick of each \
             replica set), not 2",
        ]
    );
    let three = "    - {node: n1, path: /b}\n    - {node: n2, path: /b}\n    - {node: n3, path: /b}\n    - {node: n4, path: /b}\n";
    assert_eq!(
        problems(&volume("3", three)),
        [
            "t.yaml:8:3: GlusterVolume/storage: 4 bricks cannot form replica sets of 3: the count \
             must be a multiple of replica"
        ]
    );
}

#[test]
fn gluster_options_and_directories() {
    let bricks =
        "    - {node: n1, path: /b}\n    - {node: n2, path: /b}\n    - {node: n3, path: /b}\n";
    let extra = "  options:\n    cluster.choose-local: \"on\"\n    group: metadata-cache\n    Nonsense: x\n    performance.cache-size: \"\"\n  directories:\n    - {path: wordpress, owner: \"33:33\", mode: \"0755\"}\n    - {path: ../etc, owner: www-data, mode: \"755x\"}\n    - {path: wordpress/}\n";
    assert_eq!(
        problems(&format!("{}{extra}", volume("3", bricks))),
        [
            "t.yaml:15:15: GlusterVolume/storage: option \"Nonsense\" is not a gluster option key \
             (SECTION.NAME, e.g. cluster.choose-local, or group)",
            "t.yaml:16:29: GlusterVolume/storage: option \"performance.cache-size\" has an empty \
             value",
            "t.yaml:19:14: GlusterVolume/storage: directory \"../etc\" must be a relative path \
             inside the volume (no leading /, no ..)",
            "t.yaml:19:29: GlusterVolume/storage: owner \"www-data\" must be numeric, UID or \
             UID:GID (e.g. \"33:33\" for www-data): names differ between hosts and containers",
            "t.yaml:19:45: GlusterVolume/storage: mode \"755x\" is not an octal mode such as \"0755\"",
            "t.yaml:20:14: GlusterVolume/storage: directory \"wordpress/\" is listed twice",
        ]
    );
}

#[test]
fn overlapping_mount_points() {
    let bricks =
        "    - {node: n1, path: /b}\n    - {node: n2, path: /b}\n    - {node: n3, path: /b}\n";
    let second = volume("3", bricks)
        .replace("name: storage", "name: nested")
        .replace("/data/storage", "/data/storage/inner")
        .replace("/b}", "/c}");
    let yaml = format!("{}---\n{second}", volume("3", bricks));
    assert_eq!(
        problems(&yaml),
        [
            "t.yaml:19:15: GlusterVolume/nested: mountPoint \"/data/storage/inner\" overlaps the \
             mountPoint of GlusterVolume/storage at t.yaml:7:15"
        ]
    );
}

#[test]
fn nodes_are_unique_by_hostname() {
    let yaml = "apiVersion: shoal/v1alpha1\nkind: Node\nmetadata:\n  name: node1\n---\napiVersion: shoal/v1alpha1\nkind: Node\nmetadata:\n  name: first\nspec:\n  hostname: node1\n  availability: drain\n  labels: {io.shoal.x: y}\n";
    assert_eq!(
        problems(yaml),
        [
            "t.yaml:11:13: Node/first: hostname \"node1\" is already managed by Node/node1 at \
             t.yaml:4:9",
            "t.yaml:13:24: Node/first: label \"io.shoal.x\": the prefix \"io.shoal.\" is \
             reserved for shoal",
        ]
    );
    assert_eq!(
        problems(
            "apiVersion: shoal/v1alpha1\nkind: Node\nmetadata:\n  name: n\nspec:\n  availability: off\n"
        ),
        [
            "t.yaml:6:17: Node/n: spec.availability: unknown variant `off`, expected one of active, pause, drain"
        ]
    );
}

#[test]
fn an_empty_desired_state_is_valid_with_a_warning() {
    assert_eq!(
        problems("# nothing yet\n"),
        ["dir: warning: no resources found: applying this desired-state manages nothing"]
    );
}

#[test]
fn start_first_with_a_host_mode_port_warns_of_a_stalled_rollout() {
    let extra = "  ports:\n    - {target: 80, published: 80, publishMode: host}\n  updateConfig:\n    order: start-first\n";
    assert_eq!(
        problems(&service("lb", extra)),
        [
            "t.yaml:12:12: Service/lb: warning: start-first with port 80 published in host mode: \
             the new task cannot bind the port while the old one holds it on the same node, so \
             the rollout stalls; use stop-first"
        ]
    );
}

mod depends;
mod engine;
