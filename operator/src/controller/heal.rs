//! Watching what happens to the nodes and the volumes: the acting instance observes the
//! swarm every `interval`, and at once on a node event, and records what `heal::nodes`,
//! `heal::storage` and `heal::tasks` find as events (a node down and the tasks it ran,
//! where swarm moved them or why it cannot, the node back; a volume degraded, its heal
//! started, progressing, done or stalled; tasks killed or looping). It starts a volume's
//! heal once every brick is back, has the reconcile of a volume whose health changed run
//! at once, so its status follows its bricks, and rebalances the services a returned node
//! left uneven (`heal::rebalance`). A standby does none of it, and starts from a fresh
//! baseline when it acts.

mod tell;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

pub use self::tell::{event, failure_event, rebalance_event, storage_event};
use super::engine::Engine;
use super::events::{Event, Reason};
use super::reconcile::Context;
use super::shared::Snapshot;
use super::status::{Condition, ConditionReason, ResourceKey, capacity_risk};
use super::{Trigger, Why};
use crate::heal::nodes::NodeWatch;
use crate::heal::rebalance::{RebalanceStep, RebalanceWatch};
use crate::heal::storage::{StorageChange, VolumeWatch};
use crate::heal::tasks::{FailureWatch, TaskFailure};
use crate::observe::live::Live;
use crate::plan::gluster::StorageState;
use crate::resources::Kind;

/// How often the acting instance looks between node events, and how long a returned node
/// stays ready before tasks are moved onto it.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub interval: Duration,
    pub settle: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            interval: Duration::from_secs(10),
            settle: crate::heal::rebalance::DEFAULT_SETTLE,
        }
    }
}

#[derive(Default)]
struct Watches {
    nodes: NodeWatch,
    volumes: VolumeWatch,
    tasks: FailureWatch,
    rebalance: RebalanceWatch,
    /// The volumes last seen with every brick online and nothing to heal.
    healed: BTreeSet<String>,
    /// The capacity risk of each node, as last told.
    risks: BTreeMap<String, String>,
}

/// Runs until the process ends (or `triggers` closes).
pub async fn watch<E: Engine>(
    context: Arc<Context<E>>,
    triggers: UnboundedSender<Trigger>,
    timing: Timing,
) {
    let mut watches = Watches::default();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(timing.interval) => {}
            _ = context.shared.node_event.notified() => {}
        }
        if !context.shared.readiness().leader {
            watches = Watches::default();
            context.shared.set_watched_conditions(BTreeMap::new());
            context.shared.clear_observed();
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
            Ok(observed) => {
                let live = &observed.live;
                if !look(&context, &mut watches, &snapshot, live, &triggers).await {
                    return;
                }
                rebalance(&context, &mut watches, &snapshot, live, timing.settle).await;
            }
            Err(error) => tracing::debug!(%error, "watching nodes and volumes: observing failed"),
        }
    }
}

/// One look at the nodes, tasks and volumes; false when the loop is gone.
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
    context
        .shared
        .set_watched_conditions(failure_conditions(&watches.tasks));
    if !look_capacity(context, watches, snapshot, live, triggers) {
        return false;
    }
    // Without an answer from gluster (a command timed out, as it may while a peer is
    // down) nothing is known of the volumes: keep what was seen last.
    let Some(Ok(pool)) = &live.gluster else {
        return true;
    };
    // The volumes' part of a plan only: the services' diff is the reconciles' work.
    let (_, storage) = crate::plan::gluster::plan(&snapshot.desired, pool);
    watches.healed = storage
        .iter()
        .filter(|s| s.state() == StorageState::Healthy)
        .map(|s| s.name.clone())
        .collect();
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

/// The standing task failures as one `Healthy` condition per service, in the events'
/// words: a crash loop first (its reason wins), then the last kills.
fn failure_conditions(tasks: &FailureWatch) -> BTreeMap<ResourceKey, Vec<Condition>> {
    let mut by_service: BTreeMap<&str, Vec<&TaskFailure>> = BTreeMap::new();
    for failure in tasks.standing() {
        let service = match failure {
            TaskFailure::OomKilled { service, .. }
            | TaskFailure::Unhealthy { service, .. }
            | TaskFailure::CrashLooping { service, .. } => service,
        };
        by_service.entry(service).or_default().push(failure);
    }
    by_service
        .into_iter()
        .map(|(service, failures)| {
            let reason = match failures[0] {
                TaskFailure::CrashLooping { .. } => ConditionReason::CrashLooping,
                TaskFailure::OomKilled { .. } => ConditionReason::TaskOOMKilled,
                TaskFailure::Unhealthy { .. } => ConditionReason::TaskUnhealthy,
            };
            let messages: Vec<String> = failures.iter().map(|f| failure_event(f).message).collect();
            let key = ResourceKey::new(Kind::Service, service);
            (key, vec![Condition::unhealthy(reason, messages.join("; "))])
        })
        .collect()
}

/// Tells a node's capacity risk when it appears or changes, and has the reconcile of its
/// Node resource refresh its condition; false when the loop is gone.
fn look_capacity<E: Engine>(
    context: &Arc<Context<E>>,
    watches: &mut Watches,
    snapshot: &Snapshot,
    live: &Live,
    triggers: &UnboundedSender<Trigger>,
) -> bool {
    let capacity = crate::heal::capacity::assess(&snapshot.desired, live);
    let risks: BTreeMap<String, String> = capacity
        .nodes
        .iter()
        .filter_map(|n| Some((n.node.clone(), capacity_risk(&capacity, &n.node)?)))
        .collect();
    let before = std::mem::replace(&mut watches.risks, risks);
    let hostnames: BTreeSet<&String> = before.keys().chain(watches.risks.keys()).collect();
    for hostname in hostnames {
        let now = watches.risks.get(hostname);
        if before.get(hostname) == now {
            continue;
        }
        let resource = snapshot.desired.node_with_hostname(hostname);
        if let Some(risk) = now {
            context.shared.record(Event::new(
                Reason::CapacityAtRisk,
                resource.map(|(r, _)| r.id()),
                format!("{hostname}: {risk}"),
            ));
        }
        if let Some((resource, _)) = resource {
            let key = ResourceKey::new(Kind::Node, resource.name());
            if triggers.send(Trigger::Key(key, Why::Health)).is_err() {
                return false;
            }
        }
    }
    true
}

/// Follows the rebalance under way, or starts the next one `heal::rebalance` asks for.
async fn rebalance<E: Engine>(
    context: &Arc<Context<E>>,
    watches: &mut Watches,
    snapshot: &Snapshot,
    live: &Live,
    settle: Duration,
) {
    let step = watches.rebalance.observe(
        &snapshot.desired,
        live,
        &watches.healed,
        settle,
        Instant::now(),
    );
    let Some(step) = step else { return };
    if let RebalanceStep::Start { service, before } = &step {
        match context.engine.force_update(service).await {
            Ok(force_update) => {
                watches
                    .rebalance
                    .started(service, force_update, before.clone(), Instant::now());
            }
            Err(error) => {
                watches.rebalance.not_started(service);
                context
                    .shared
                    .record(rebalance_event(&RebalanceStep::Failed {
                        service: service.clone(),
                        why: format!("the force update failed: {error}"),
                    }));
                return;
            }
        }
    }
    context.shared.record(rebalance_event(&step));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fake::{context, lab_desired, recorded, snapshot};
    use crate::resources::Desired;
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
    async fn a_service_crowded_after_a_crash_is_force_updated_once_its_node_settled() {
        let desired = lab_desired();
        let applied = recorded("applied");
        let node = |live: &mut Live, hostname: &str| {
            let id = live.node_by_hostname(hostname).unwrap().id.clone();
            live.nodes.iter_mut().position(|n| n.id == id).unwrap()
        };
        // node3 crashed and returned; web's task of node3 runs on node1.
        let mut crashed = applied.clone();
        let node3 = node(&mut crashed, "node3");
        crashed.nodes[node3].status.as_mut().unwrap().state =
            Some(bollard::models::NodeState::DOWN);
        let (id1, id3) = (
            applied.node_by_hostname("node1").unwrap().id.clone(),
            applied.node_by_hostname("node3").unwrap().id.clone(),
        );
        let web = applied.service("web").unwrap().id.clone();
        for task in crashed.tasks.iter_mut() {
            if task.service_id == web && task.node_id == id3 {
                task.node_id = id1.clone();
            }
        }
        let mut returned = crashed.clone();
        returned.nodes[node3].status = applied.nodes[node3].status.clone();

        let ctx = context(desired.clone(), None, applied.clone(), Duration::ZERO);
        let snapshot = snapshot(desired, None);
        let mut watches = Watches::default();
        for live in [&applied, &crashed, &returned, &returned] {
            rebalance(&ctx, &mut watches, &snapshot, live, Duration::ZERO).await;
        }
        assert_eq!(ctx.engine.writes(), ["Service/web force-update"]);
        let told: Vec<(Reason, String)> = ctx
            .shared
            .events()
            .into_iter()
            .map(|e| (e.reason, e.message))
            .collect();
        assert_eq!(
            told,
            [(
                Reason::RebalanceStarted,
                "running tasks per node node1: 2, node3: 0: a rolling force update (docker \
                 service update --force) spreads them over every node again"
                    .into()
            )]
        );
    }

    #[tokio::test]
    async fn a_capacity_risk_is_told_once_on_its_node_and_refreshes_its_status() {
        // node2 declared at 8M: the worker's 16M limit there is more than it has.
        let mut desired = lab_desired();
        let node2 = desired.resources.iter_mut().find(|r| r.name() == "node2");
        if let crate::resources::Spec::Node(spec) = &mut node2.unwrap().spec {
            spec.memory = Some(crate::resources::quantity::MemorySize::parse("8M").unwrap());
        }
        let live = recorded("applied");
        let ctx = context(desired.clone(), None, live.clone(), Duration::ZERO);
        let snapshot = snapshot(desired, None);
        let (triggers, mut triggered) = tokio::sync::mpsc::unbounded_channel();
        let mut watches = Watches::default();
        for _ in 0..2 {
            assert!(look(&ctx, &mut watches, &snapshot, &live, &triggers).await);
        }
        let mut told: Vec<(Reason, Option<String>, String)> = ctx
            .shared
            .events()
            .into_iter()
            .map(|e| (e.reason, e.resource, e.message))
            .collect();
        told.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
        let risk = |node: Option<&str>, message: &str| {
            (
                Reason::CapacityAtRisk,
                node.map(str::to_string),
                message.to_string(),
            )
        };
        // web runs at most one task per node, never on node2 (tier back): its task of
        // node1 or node3 has nowhere to go. node3 has no Node resource.
        let web_on = |node: &str| {
            let id = live.node_by_hostname(node).unwrap().id.clone();
            let web = live.service("web").unwrap().id.clone();
            let task = live
                .tasks
                .iter()
                .find(|t| t.service_id == web && t.node_id == id);
            format!("web.{}", task.unwrap().slot.unwrap())
        };
        assert_eq!(
            told,
            [
                risk(
                    None,
                    &format!(
                        "node3: if node3 fails, no node may take {} (max 1 per node)",
                        web_on("node3")
                    )
                ),
                risk(
                    Some("Node/node1"),
                    &format!(
                        "node1: if node1 fails, no node may take {} (max 1 per node)",
                        web_on("node1")
                    )
                ),
                risk(
                    Some("Node/node2"),
                    "node2: the limits of its tasks add up to 16M, more than its 8M"
                ),
            ]
        );
        let mut keys = Vec::new();
        while let Ok(Trigger::Key(key, Why::Health)) = triggered.try_recv() {
            keys.push(key.to_string());
        }
        assert_eq!(keys, ["Node/node1", "Node/node2"], "once each");
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
}
