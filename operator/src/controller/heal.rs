//! Watching what happens to the nodes and the volumes: the acting instance observes the
//! swarm every `INTERVAL`, and at once on a node event, and records what `heal::nodes`
//! and `heal::storage` find as events (a node down and the tasks it ran, where swarm moved
//! them or why it cannot, the node back; a volume degraded, its heal started, progressing,
//! done or stalled). It starts a volume's heal once every brick is back, and has the
//! reconcile of a volume whose health changed run at once, so its status follows its
//! bricks. A standby does none of it, and starts from a fresh baseline when it acts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::engine::Engine;
use super::events::{Event, Reason};
use super::reconcile::Context;
use super::shared::Snapshot;
use super::status::ResourceKey;
use super::{Trigger, Why};
use crate::heal::nodes::{NodeChange, NodeWatch};
use crate::heal::storage::{StorageChange, VolumeWatch};
use crate::heal::tasks::{CRASH_WINDOW, FailureWatch, TaskFailure};
use crate::observe::live::Live;
use crate::resources::{Desired, Kind};

/// How often the acting instance looks between node events.
pub const INTERVAL: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Watches {
    nodes: NodeWatch,
    volumes: VolumeWatch,
    tasks: FailureWatch,
}

/// Runs until the process ends (or `triggers` closes).
pub async fn watch<E: Engine>(
    context: Arc<Context<E>>,
    triggers: UnboundedSender<Trigger>,
    interval: Duration,
) {
    let mut watches = Watches::default();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = context.shared.node_event.notified() => {}
        }
        if !context.shared.readiness().leader {
            watches = Watches::default();
            continue;
        }
        let Some(snapshot) = context.shared.snapshot() else {
            continue;
        };
        let observed = context
            .observation
            .get(&context.engine, &snapshot, context.agent_port)
            .await;
        match observed {
            Ok(live) => {
                if !look(&context, &mut watches, &snapshot, &live, &triggers).await {
                    return;
                }
            }
            Err(error) => tracing::debug!(%error, "watching nodes and volumes: observing failed"),
        }
    }
}

/// One look; false when the loop is gone.
async fn look<E: Engine>(
    context: &Arc<Context<E>>,
    watches: &mut Watches,
    snapshot: &Snapshot,
    live: &Live,
    triggers: &UnboundedSender<Trigger>,
) -> bool {
    for change in watches.nodes.observe(live) {
        context.shared.record(event(&change, &snapshot.desired));
    }
    for failure in watches.tasks.observe(live, Instant::now()) {
        context.shared.record(failure_event(&failure));
    }
    // Without an answer from gluster (a command timed out, as it may while a peer is
    // down) nothing is known of the volumes: keep what was seen last.
    let Some(Ok(pool)) = &live.gluster else {
        return true;
    };
    // The volumes' part of a plan only: the services' diff is the reconciles' work.
    let (_, storage) = crate::plan::gluster::plan(&snapshot.desired, pool);
    let report = watches.volumes.observe(&storage, Instant::now());
    for name in report.changed {
        let key = ResourceKey::new(Kind::GlusterVolume, name);
        if triggers.send(Trigger::Key(key, Why::Health)).is_err() {
            return false;
        }
    }
    for change in report.changes {
        context.shared.record(storage_event(&change));
        if let StorageChange::HealStarted { volume, .. } = change {
            // Apart: gluster may take its command timeout, and the nodes are watched
            // meanwhile.
            tokio::spawn(start_heal(context.clone(), volume));
        }
    }
    true
}

/// `gluster volume heal NAME`; a refusal is told (the self-heal daemon heals on its next
/// crawl anyway, unless it is off).
async fn start_heal<E: Engine>(context: Arc<Context<E>>, volume: String) {
    if let Err(error) = context.engine.heal(&volume).await {
        context.shared.record(Event::new(
            Reason::ApplyFailed,
            Some(format!("GlusterVolume/{volume}")),
            format!("could not start the heal: {error}"),
        ));
    }
}

/// The event telling a task's `failure` (swarm's words, never the task's environment).
pub fn failure_event(failure: &TaskFailure) -> Event {
    match failure {
        TaskFailure::OomKilled {
            service,
            task,
            node,
            limit,
        } => {
            let limit = match limit {
                Some(bytes) => format!(
                    "its memory limit, {}",
                    crate::resources::quantity::MemorySize::from_bytes(*bytes as u64)
                ),
                None => "the memory of its node (no limit)".to_string(),
            };
            Event::new(
                Reason::TaskOOMKilled,
                Some(format!("Service/{service}")),
                format!("{task} on {node} was killed at {limit} (exit 137)"),
            )
        }
        TaskFailure::CrashLooping {
            service,
            exits,
            last,
        } => Event::new(
            Reason::CrashLooping,
            Some(format!("Service/{service}")),
            format!(
                "{exits} tasks failed within {}; the last: {last}",
                humantime::format_duration(CRASH_WINDOW)
            ),
        ),
    }
}

/// The event telling a volume's `change`.
pub fn storage_event(change: &StorageChange) -> Event {
    let resource = |volume: &str| Some(format!("GlusterVolume/{volume}"));
    match change {
        StorageChange::Degraded { volume, why } => {
            Event::new(Reason::VolumeDegraded, resource(volume), why.clone())
        }
        StorageChange::HealStarted { volume, pending } => Event::new(
            Reason::HealStarted,
            resource(volume),
            format!(
                "every brick is online: healing {pending} entries (gluster volume heal {volume})"
            ),
        ),
        StorageChange::HealProgress { volume, pending } => Event::new(
            Reason::HealProgress,
            resource(volume),
            format!("{pending} entries still to heal"),
        ),
        StorageChange::Healed { volume } => {
            Event::new(Reason::Healed, resource(volume), "healed: nothing pending")
        }
        StorageChange::HealStalled {
            volume,
            pending,
            stalled_for,
        } => Event::new(
            Reason::HealStalled,
            resource(volume),
            format!(
                "{pending} entries pending heal, not falling for {}: see `gluster volume heal {volume} info`",
                humantime::format_duration(*stalled_for)
            ),
        ),
    }
}

/// The event telling `change`, about the Node resource of the node where there is one.
pub fn event(change: &NodeChange, desired: &Desired) -> Event {
    let node_resource = |hostname: &str| {
        desired
            .node_with_hostname(hostname)
            .map(|(r, _)| format!("Node/{}", r.name()))
    };
    match change {
        NodeChange::Down { node, tasks } if tasks.is_empty() => Event::new(
            Reason::NodeDown,
            node_resource(node),
            format!("node {node} is down; it ran no task of shoal's replicated services"),
        ),
        NodeChange::Down { node, tasks } => Event::new(
            Reason::NodeDown,
            node_resource(node),
            format!("node {node} is down; it ran {}", tasks.join(", ")),
        ),
        NodeChange::Ready { node } => Event::new(
            Reason::NodeReady,
            node_resource(node),
            format!("node {node} is ready"),
        ),
        NodeChange::Drained { node } => Event::new(
            Reason::NodeDrained,
            node_resource(node),
            format!("node {node} is drained: swarm moves its tasks away"),
        ),
        NodeChange::Rescheduled {
            service,
            task,
            from,
            to,
        } => Event::new(
            Reason::TasksRescheduled,
            Some(format!("Service/{service}")),
            format!("{task} of node {from} runs on {to} now"),
        ),
        NodeChange::Pending {
            service,
            task,
            from,
            reason,
        } => Event::new(
            Reason::TasksPending,
            Some(format!("Service/{service}")),
            format!("{task} of node {from} cannot be placed: {reason}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fake::{context, lab_desired, recorded, snapshot};
    use crate::source::validate::{ValidateOptions, validate_dir};

    /// The example's desired-state, and the recorded swarm with its volume `storage` as
    /// gluster answered when healthy, then changed to `online` bricks and `pending` heals.
    fn example_with_storage(online: usize, pending: u64) -> (Desired, Live) {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../desired-state");
        let desired = validate_dir(&dir, &ValidateOptions::default())
            .unwrap()
            .desired;
        let mut pool = crate::observe::gluster::recorded_pool("healthy");
        pool.volumes[0].bricks_online = Some(online);
        pool.volumes[0].heal_pending = pending;
        let mut live = recorded("applied");
        live.gluster = Some(Ok(pool));
        (desired, live)
    }

    #[tokio::test]
    async fn a_volume_back_from_a_lost_brick_is_healed_and_its_status_refreshed() {
        let (desired, healthy) = example_with_storage(3, 0);
        let ctx = context(desired.clone(), None, healthy.clone(), Duration::ZERO);
        let snapshot = snapshot(desired, None);
        let (triggers, mut triggered) = tokio::sync::mpsc::unbounded_channel();
        let mut watches = Watches::default();
        // gluster not answering once (a command timing out while a peer is down) is
        // nothing new about the volume.
        let mut unanswered = example_with_storage(2, 12).1;
        unanswered.gluster = Some(Err("gluster volume status: timed out".into()));
        for live in [
            healthy.clone(),
            example_with_storage(2, 12).1,
            example_with_storage(3, 12).1,
            unanswered,
            healthy,
        ] {
            assert!(look(&ctx, &mut watches, &snapshot, &live, &triggers).await);
            // The heal runs apart: let it.
            tokio::task::yield_now().await;
        }
        let reasons: Vec<(Reason, String)> = ctx
            .shared
            .events()
            .into_iter()
            .rev()
            .map(|e| (e.reason, e.message))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    Reason::VolumeDegraded,
                    "2/3 bricks online, 12 entries pending heal".into()
                ),
                (
                    Reason::HealStarted,
                    "every brick is online: healing 12 entries (gluster volume heal storage)"
                        .into()
                ),
                (Reason::Healed, "healed: nothing pending".into()),
            ]
        );
        assert_eq!(ctx.engine.writes(), ["GlusterVolume/storage heal"]);
        let mut keys = Vec::new();
        while let Ok(Trigger::Key(key, Why::Health)) = triggered.try_recv() {
            keys.push(key.to_string());
        }
        assert_eq!(keys, ["GlusterVolume/storage"; 3]);
    }

    #[test]
    fn task_failures_are_told_in_swarms_words_with_the_limit_as_written() {
        let oom = failure_event(&TaskFailure::OomKilled {
            service: "web".into(),
            task: "web.1".into(),
            node: "node2".into(),
            limit: Some(32 << 20),
        });
        assert_eq!(
            (oom.reason, oom.resource.as_deref(), oom.message.as_str()),
            (
                Reason::TaskOOMKilled,
                Some("Service/web"),
                "web.1 on node2 was killed at its memory limit, 32M (exit 137)"
            )
        );
        let looping = failure_event(&TaskFailure::CrashLooping {
            service: "web".into(),
            exits: 3,
            last: "task: non-zero exit (1)".into(),
        });
        assert_eq!(
            looping.message,
            "3 tasks failed within 5m; the last: task: non-zero exit (1)"
        );
        assert!(looping.warning);
    }

    #[test]
    fn node_events_name_the_node_resource_where_desired_state_has_one() {
        let desired = lab_desired();
        let down = event(
            &NodeChange::Down {
                node: "node2".into(),
                tasks: vec!["web.1".into(), "web.2".into()],
            },
            &desired,
        );
        assert_eq!(
            (down.reason, down.resource.as_deref(), down.message.as_str()),
            (
                Reason::NodeDown,
                Some("Node/node2"),
                "node node2 is down; it ran web.1, web.2"
            )
        );
        let pending = event(
            &NodeChange::Pending {
                service: "web".into(),
                task: "web.2".into(),
                from: "node9".into(),
                reason: "no suitable node (max replicas per node limit exceed)".into(),
            },
            &desired,
        );
        assert_eq!(
            (
                pending.reason,
                pending.resource.as_deref(),
                pending.message.as_str()
            ),
            (
                Reason::TasksPending,
                Some("Service/web"),
                "web.2 of node node9 cannot be placed: no suitable node (max replicas per \
                 node limit exceed)"
            )
        );
        let ready = event(
            &NodeChange::Ready {
                node: "node9".into(),
            },
            &desired,
        );
        assert_eq!(ready.resource, None, "node9 has no Node resource");
    }
}
