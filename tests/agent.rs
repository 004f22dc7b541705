//! `shoal agent` on every lab host: the volume shoal created is mounted from each host's
//! own server, directories get their owner and mode, a lost mount comes back, and a
//! mount from another host's server is drift that the agent corrects.

use std::path::Path;

use shoal_tests::{Lab, lab, stderr, stdout};

const DESIRED: &str = "apiVersion: shoal/v1alpha1
kind: GlusterVolume
metadata:
  name: storage
spec:
  replica: 3
  force: true
  bricks:
    - {node: node1, path: /data/bricks/storage}
    - {node: node2, path: /data/bricks/storage}
    - {node: node3, path: /data/bricks/storage}
  mountPoint: /data/storage
  directories:
    - {path: wordpress, owner: \"33:33\", mode: \"0750\"}
";

fn agent_once(lab: &Lab, node: &str, dir: &Path) -> serde_json::Value {
    let output = lab.shoal_on(node, &["agent", "--once", dir.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    serde_json::from_str(&stdout(&output)).unwrap()
}

fn gluster_mount(lab: &Lab, node: &str) -> String {
    let output = lab.exec(node, &["grep", "fuse.glusterfs", "/proc/self/mountinfo"]);
    stdout(&output)
}

#[test]
fn the_agent_mounts_from_the_local_server_and_keeps_directories() {
    let lab = lab();
    lab.reset();
    lab.remove_gluster_volume("storage", "/data/storage", "/data/bricks/storage");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("storage.yaml"), DESIRED).unwrap();
    // Before the volume exists, the agents make their bricks' directories and report the
    // mount as failing.
    for node in ["node1", "node2", "node3"] {
        let output = lab.shoal_on(node, &["agent", "--once", dir.path().to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
        let status: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(
            status["volumes"][0]["actions"],
            serde_json::json!(["created brick directory /data/bricks/storage"])
        );
        assert_eq!(status["volumes"][0]["mounted"], false);
    }
    let applied = lab.shoal_on("node1", &["apply", dir.path().to_str().unwrap()]);
    assert_eq!(applied.status.code(), Some(0), "{}", stdout(&applied));

    for node in ["node1", "node2", "node3"] {
        let status = agent_once(&lab, node, dir.path());
        let volume = &status["volumes"][0];
        assert_eq!(volume["mounted"], true, "{status}");
        assert_eq!(volume["server"], node, "{status}");
        assert!(gluster_mount(&lab, node).contains(&format!(" - fuse.glusterfs {node}:/storage ")));
    }
    let stat = lab.exec(
        "node2",
        &["stat", "-c", "%u:%g %a", "/data/storage/wordpress"],
    );
    assert_eq!(stdout(&stat).trim(), "33:33 750");
    lab.exec("node1", &["sh", "-c", "echo shared > /data/storage/hello"]);
    assert_eq!(
        stdout(&lab.exec("node3", &["cat", "/data/storage/hello"])).trim(),
        "shared"
    );

    // A second pass changes nothing.
    let status = agent_once(&lab, "node2", dir.path());
    assert_eq!(
        status["volumes"][0]["actions"],
        serde_json::json!([]),
        "{status}"
    );

    // A lost mount is lost in the host's mount table, and comes back.
    lab.exec("node2", &["umount", "/data/storage"]);
    assert!(!gluster_mount(&lab, "node2").contains(" /data/storage "));
    let status = agent_once(&lab, "node2", dir.path());
    assert_eq!(
        status["volumes"][0]["actions"],
        serde_json::json!(["mounted from node2"])
    );
    assert!(gluster_mount(&lab, "node2").contains(" /data/storage "));

    // --manage-fstab writes the volume's line, keeps the others, and puts it back.
    let etc = tempfile::tempdir().unwrap();
    let fstab = etc.path().join("fstab");
    std::fs::write(&fstab, "# static\n/dev/vda / ext4 defaults 0 1\n").unwrap();
    let line = "node2:/storage /data/storage glusterfs \
                backup-volfile-servers=node1:node3,_netdev 0 0";
    let managed = |lab: &Lab| {
        let args = [
            "agent",
            "--once",
            "--manage-fstab",
            "--fstab",
            fstab.to_str().unwrap(),
        ];
        let output = lab.shoal_on(
            "node2",
            &[&args[..], &[dir.path().to_str().unwrap()]].concat(),
        );
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let status: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        status["volumes"][0]["actions"].clone()
    };
    assert_eq!(managed(&lab), serde_json::json!([format!("fstab: {line}")]));
    let expected = format!("# static\n/dev/vda / ext4 defaults 0 1\n{line}\n");
    assert_eq!(std::fs::read_to_string(&fstab).unwrap(), expected);
    assert_eq!(managed(&lab), serde_json::json!([]));
    std::fs::write(
        &fstab,
        "# static\n/dev/vda / ext4 defaults 0 1\nnode1:/storage /data/storage glusterfs defaults 0 0\n",
    )
    .unwrap();
    assert_eq!(managed(&lab), serde_json::json!([format!("fstab: {line}")]));
    assert_eq!(std::fs::read_to_string(&fstab).unwrap(), expected);

    // A mount from another host's server is drift: remounted from the local one.
    lab.exec("node3", &["umount", "/data/storage"]);
    let wrong = lab.exec(
        "node3",
        &[
            "mount",
            "-t",
            "glusterfs",
            "node1:/storage",
            "/data/storage",
        ],
    );
    assert!(wrong.status.success(), "{}", stderr(&wrong));
    let status = agent_once(&lab, "node3", dir.path());
    assert_eq!(
        status["volumes"][0]["actions"],
        serde_json::json!([
            "drift: mounted from node1:/storage, not node3:/storage: remounting",
            "mounted from node3"
        ])
    );
    assert!(gluster_mount(&lab, "node3").contains(" - fuse.glusterfs node3:/storage "));

    lab.remove_gluster_volume("storage", "/data/storage", "/data/bricks/storage");
}

const READER: &str = "apiVersion: shoal/v1alpha1
kind: Service
metadata:
  name: reader
spec:
  image: lab/tools:1
  mode: global
  command: [\"/bin/idle\"]
  mounts:
    - {type: bind, source: /data/storage/site, target: /site}
  resources:
    limits:
      memory: 16M
";

/// Polls `shoal plan` on node1 until its output contains every one of `wanted`; returns
/// the last output.
fn plan_until(lab: &Lab, dir: &Path, wanted: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = stdout(&lab.shoal_on("node1", &["plan", dir.to_str().unwrap()]));
        if wanted.iter().all(|w| text.contains(w)) || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn a_service_on_the_volume_waits_until_its_nodes_have_it_mounted() {
    let lab = lab();
    lab.reset();
    lab.remove_gluster_volume("storage", "/data/storage", "/data/bricks/storage");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("storage.yaml"), DESIRED).unwrap();
    std::fs::write(dir.path().join("reader.yaml"), READER).unwrap();
    // node2's agent makes its brick's directory once and is not running afterwards.
    lab.shoal_on("node2", &["agent", "--once", dir.path().to_str().unwrap()]);
    lab.start_agent("node1", dir.path());
    lab.start_agent("node3", dir.path());

    let applied = lab.shoal_on("node1", &["apply", dir.path().to_str().unwrap()]);
    assert_eq!(applied.status.code(), Some(1), "{}", stdout(&applied));
    assert!(
        stdout(&applied).contains(
            "  ! Service/reader: waiting for GlusterVolume/storage to be created and started: \
             /data/storage/site lies on it\n"
        ),
        "{}",
        stdout(&applied)
    );

    // The volume exists; node1's and node3's agents mount it, node2 has no agent.
    let text = plan_until(
        &lab,
        dir.path(),
        &[
            "GlusterVolume/storage on node1: mounted from node1",
            "GlusterVolume/storage on node3: mounted from node3",
        ],
    );
    assert!(
        text.contains(
            "  ! Service/reader: waiting for GlusterVolume/storage to be mounted on node2 \
             (agent unreachable): /data/storage/site lies on it\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  GlusterVolume/storage on node2: agent at http://10.213.0.12:9851/api/v1/status \
             unreachable: Connection refused"
        ),
        "{text}"
    );
    assert_eq!(
        lab.docker_unchecked(&["service", "inspect", "reader"])
            .status
            .code(),
        Some(1),
        "the service must not exist before the gate opens"
    );

    // With node2's agent running, the gate opens and the service runs on all three.
    lab.start_agent("node2", dir.path());
    plan_until(
        &lab,
        dir.path(),
        &["GlusterVolume/storage on node2: mounted from node2"],
    );
    let applied = lab.shoal_on("node1", &["apply", dir.path().to_str().unwrap()]);
    assert_eq!(applied.status.code(), Some(0), "{}", stdout(&applied));
    assert_eq!(lab.service_field("reader", "{{.Spec.Mode.Global}}"), "{}");
    // A file written on node1 is read inside reader's task on node2.
    lab.exec(
        "node1",
        &["sh", "-c", "echo from-node1 > /data/storage/site/hello"],
    );
    let read = lab.exec(
        "node2",
        &[
            "sh",
            "-c",
            "docker exec $(docker ps -q --filter label=com.docker.swarm.service.name=reader) cat /site/hello",
        ],
    );
    assert_eq!(stdout(&read).trim(), "from-node1", "{}", stderr(&read));

    lab.reset();
    lab.remove_gluster_volume("storage", "/data/storage", "/data/bricks/storage");
}
