//! What the heal watch tells, in words a person reads during a crash: the events of the
//! nodes, the volumes, the tasks that fail and the rebalances. Swarm's own words where it
//! has them (pending reasons, exit messages); never a task's environment.

use super::super::events::{Event, Reason};
use crate::heal::nodes::NodeChange;
use crate::heal::rebalance::RebalanceStep;
use crate::heal::storage::StorageChange;
use crate::heal::tasks::{CRASH_WINDOW, TaskFailure};
use crate::resources::Desired;

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
        TaskFailure::Unhealthy {
            service,
            task,
            node,
        } => Event::new(
            Reason::TaskUnhealthy,
            Some(format!("Service/{service}")),
            format!("{task} on {node} was killed by swarm: its health check kept failing"),
        ),
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

/// The event telling a rebalance's `step`.
pub fn rebalance_event(step: &RebalanceStep) -> Event {
    match step {
        RebalanceStep::Start { service, before } => Event::new(
            Reason::RebalanceStarted,
            Some(format!("Service/{service}")),
            format!(
                "running tasks per node {before}: a rolling force update (docker service \
                 update --force) spreads them over every node again"
            ),
        ),
        RebalanceStep::Rebalanced {
            service,
            before,
            after,
        } => Event::new(
            Reason::Rebalanced,
            Some(format!("Service/{service}")),
            format!("running tasks per node {after} (were {before})"),
        ),
        RebalanceStep::Waiting { service, why } => Event::new(
            Reason::Waiting,
            Some(format!("Service/{service}")),
            format!("its rebalance waits: {why}"),
        ),
        RebalanceStep::Failed { service, why } => Event::new(
            Reason::RebalanceFailed,
            Some(format!("Service/{service}")),
            format!("rebalance given up: {why}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fake::lab_desired;

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
        let unhealthy = failure_event(&TaskFailure::Unhealthy {
            service: "http".into(),
            task: "http.1".into(),
            node: "node2".into(),
        });
        assert_eq!(
            (unhealthy.reason, unhealthy.message.as_str()),
            (
                Reason::TaskUnhealthy,
                "http.1 on node2 was killed by swarm: its health check kept failing"
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
