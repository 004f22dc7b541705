//! The main job, end to end: `deploy/run-example` brings the example platform
//! (desired-state/) up in the lab from nothing with the operator, `shoal run`, whose
//! status then shows every resource Synced and Healthy; `shoal plan` finds nothing to
//! change, and WordPress answers through the host-mode load balancer.

use shoal_tests::{lab, repo_root, stderr, stdout};

#[test]
fn the_example_platform_converges_and_serves_wordpress() {
    let lab = lab();
    lab.reset();
    let output = std::process::Command::new(repo_root().join("deploy/run-example"))
        .output()
        .expect("deploy/run-example runs");
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    // The operator's status, once converged: every resource Synced and Healthy.
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("KIND "))
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("No changes"))
        .collect();
    let mut rows: Vec<String> = table
        .iter()
        .map(|l| l.split_whitespace().take(5).collect::<Vec<_>>().join(" "))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            "GlusterVolume storage Synced Healthy enforce",
            "Network backend Synced Healthy enforce",
            "Network frontend Synced Healthy enforce",
            "Node node1 Synced Healthy enforce",
            "Node node2 Synced Healthy enforce",
            "Node node3 Synced Healthy enforce",
            "Service db Synced Healthy enforce",
            "Service fileserver Synced Healthy enforce",
            "Service http Synced Healthy enforce",
            "Service loadbalancer Synced Healthy enforce",
            "Service php-fpm Synced Healthy enforce",
        ],
        "{text}"
    );
    // The last thing run-example prints is the plan after the apply: nothing to do, the
    // volume healthy and mounted on every node from its own server.
    let plan = &text[text
        .rfind("No changes.")
        .expect("a final plan without changes")..];
    let lines: Vec<String> = plan
        .lines()
        .map(|l| match l.split_once(" GiB free") {
            // Free space varies: keep the line up to the figure's start.
            Some((head, _)) => head[..head.rfind(", ").unwrap_or(head.len())].to_string(),
            // So do the tasks on each node: keep the node's memory as declared.
            None => match l.split_once(" (declared): ") {
                Some((head, _)) => format!("{head} (declared)"),
                None => l.to_string(),
            },
        })
        .collect();
    assert_eq!(
        lines,
        [
            "No changes. The swarm matches desired-state.",
            "",
            "Capacity (memory reserved by tasks, as swarm places them, and their limits):",
            "  node1: 1G (declared)",
            "  node2: 1G (declared)",
            "  node3: 1G (declared)",
            "  If any one node fails, the others hold every task of it that may move.",
            "",
            "Storage health:",
            "  GlusterVolume/storage: healthy: 3/3 bricks online, 0 entries pending heal, 0 in split-brain",
            "  GlusterVolume/storage on node1: mounted from node1",
            "  GlusterVolume/storage on node2: mounted from node2",
            "  GlusterVolume/storage on node3: mounted from node3",
            "",
            "Plan: 0 to create, 0 to update, 0 to delete.",
        ],
        "{text}"
    );
    let running = lab.docker(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]);
    let mut lines: Vec<&str> = running.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "db 1/1",
            "fileserver 1/1",
            "http 2/2 (max 1 per node)",
            "loadbalancer 1/1",
            "php-fpm 2/2 (max 1 per node)"
        ]
    );
    // Through node1's host-mode port 80: the load balancer, http, php-fpm and db all work.
    let page = lab.exec(
        "node1",
        &[
            "timeout",
            "20",
            "busybox",
            "wget",
            "-qO-",
            "http://127.0.0.1/",
        ],
    );
    assert!(
        stdout(&page).contains("<title>WordPress &rsaquo; Installation</title>"),
        "{}{}",
        stdout(&page),
        stderr(&page)
    );
    // Leave no mount behind for the next suites: services first, then the volume.
    lab.reset();
    lab.remove_gluster_volume("storage", "/data/storage", "/data/bricks/storage");
}
