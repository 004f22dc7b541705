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

    // A lost mount comes back.
    lab.exec("node2", &["umount", "/data/storage"]);
    let status = agent_once(&lab, "node2", dir.path());
    assert_eq!(
        status["volumes"][0]["actions"],
        serde_json::json!(["mounted from node2"])
    );

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
