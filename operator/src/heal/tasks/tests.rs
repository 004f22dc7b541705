//! Failed tasks added to the swarms recorded from both lab engines.

use bollard::models::{ContainerStatus, TaskStatus};

use super::*;
use crate::observe::recorded::{ENGINES, live};

/// `live` with a failed task of web (slot 1) on web's first task's node.
fn with_failure(live: &Live, id: &str, exit: i64) -> Live {
    let mut live = live.clone();
    let web = live.service("web").unwrap().id.clone();
    let mut task = live
        .tasks
        .iter()
        .find(|t| t.service_id == web)
        .unwrap()
        .clone();
    task.id = Some(id.into());
    task.slot = Some(1);
    task.desired_state = Some(TaskState::SHUTDOWN);
    task.status = Some(TaskStatus {
        state: Some(TaskState::FAILED),
        err: Some(format!("task: non-zero exit ({exit})")),
        container_status: Some(ContainerStatus {
            exit_code: Some(exit),
            ..Default::default()
        }),
        ..Default::default()
    });
    live.tasks.push(task);
    live
}

fn web_node(live: &Live) -> String {
    let web = live.service("web").unwrap().id.clone();
    let node = live
        .tasks
        .iter()
        .find(|t| t.service_id == web)
        .unwrap()
        .node_id
        .clone();
    let node = live.nodes.iter().find(|n| n.id == node).unwrap();
    node.description.as_ref().unwrap().hostname.clone().unwrap()
}

#[test]
fn a_task_killed_at_its_limit_is_told_once_with_limit_and_node() {
    for engine in ENGINES {
        let applied = live(engine, "applied");
        let t0 = Instant::now();
        let mut watch = FailureWatch::default();
        // Failures from before shoal looked are not news.
        assert_eq!(watch.observe(&with_failure(&applied, "old", 137), t0), []);
        let killed = with_failure(&with_failure(&applied, "old", 137), "new", 137);
        assert_eq!(
            watch.observe(&killed, t0),
            [TaskFailure::OomKilled {
                service: "web".into(),
                task: "web.1".into(),
                node: web_node(&applied),
                limit: Some(32 * 1024 * 1024),
            }],
            "engine {engine}"
        );
        assert_eq!(watch.observe(&killed, t0), [], "engine {engine}: told once");
        // It stands (a status condition) for the window, then is gone.
        let standing: Vec<&TaskFailure> = watch.standing().collect();
        assert!(matches!(standing[..], [TaskFailure::OomKilled { .. }]));
        watch.observe(&killed, t0 + CRASH_WINDOW);
        assert_eq!(watch.standing().count(), 0);
    }
}

#[test]
fn three_failures_within_the_window_are_a_crash_loop_told_once() {
    let applied = live(ENGINES[1], "applied");
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut watch = FailureWatch::default();
    watch.observe(&applied, at(0));
    let one = with_failure(&applied, "a", 1);
    assert_eq!(watch.observe(&one, at(10)), []);
    let two = with_failure(&one, "b", 1);
    assert_eq!(watch.observe(&two, at(20)), []);
    let three = with_failure(&two, "c", 1);
    assert_eq!(
        watch.observe(&three, at(30)),
        [TaskFailure::CrashLooping {
            service: "web".into(),
            exits: 3,
            last: "task: non-zero exit (1)".into()
        }]
    );
    let four = with_failure(&three, "d", 1);
    assert_eq!(watch.observe(&four, at(40)), [], "told once while it loops");
    let standing: Vec<&TaskFailure> = watch.standing().collect();
    assert!(matches!(
        standing[..],
        [TaskFailure::CrashLooping { exits: 3, .. }]
    ));
    // Quiet for a whole window, then failing again: a new loop.
    let mut later = four.clone();
    for (i, s) in [(5, 400), (6, 410), (7, 420)] {
        later = with_failure(&later, &format!("late-{i}"), 1);
        let told = watch.observe(&later, at(s));
        assert_eq!(told.len(), usize::from(i == 7), "{told:?}");
        // Quiet for a window ended the first loop: it stands no more until the new one.
        assert_eq!(watch.standing().count(), usize::from(i == 7));
    }
}

#[test]
fn failures_spread_wider_than_the_window_are_no_loop() {
    let applied = live(ENGINES[0], "applied");
    let t0 = Instant::now();
    let mut watch = FailureWatch::default();
    watch.observe(&applied, t0);
    let mut failing = applied.clone();
    for (i, s) in [0u64, 200, 400, 600].iter().enumerate() {
        failing = with_failure(&failing, &format!("t{i}"), 2);
        assert_eq!(watch.observe(&failing, t0 + Duration::from_secs(*s)), []);
    }
}

#[test]
fn a_task_swarm_killed_for_its_health_check_is_not_an_oom_kill() {
    for engine in ENGINES {
        let applied = live(engine, "applied");
        let t0 = Instant::now();
        let mut watch = FailureWatch::default();
        watch.observe(&applied, t0);
        // As swarm recorded it in the lab, when a worker's crash stalled the volume that
        // http's health check read: exit 137 with swarm's own reason.
        let mut killed = with_failure(&applied, "unhealthy", 137);
        let status = killed.tasks.last_mut().unwrap().status.as_mut().unwrap();
        status.err = Some("task: non-zero exit (137): dockerexec: unhealthy container".into());
        assert_eq!(
            watch.observe(&killed, t0),
            [TaskFailure::Unhealthy {
                service: "web".into(),
                task: "web.1".into(),
                node: web_node(&applied),
            }],
            "engine {engine}"
        );
    }
}
