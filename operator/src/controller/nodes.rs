//! Telling people what happens to the nodes: the acting instance observes the swarm every
//! `interval`, and at once on a node event, and records what `heal::nodes` finds as
//! events (a node down and the tasks it ran, where swarm moved them or why it cannot, the
//! node back). A standby records nothing; it starts from a fresh baseline when it acts.

use std::sync::Arc;
use std::time::Duration;

use super::engine::Engine;
use super::events::{Event, Reason};
use super::reconcile::Context;
use crate::heal::nodes::{NodeChange, NodeWatch};
use crate::resources::Desired;

/// Runs until the process ends.
pub async fn watch<E: Engine>(context: Arc<Context<E>>, interval: Duration) {
    let mut nodes = NodeWatch::default();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = context.shared.node_event.notified() => {}
        }
        if !context.shared.readiness().leader {
            nodes = NodeWatch::default();
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
                for change in nodes.observe(&live) {
                    context.shared.record(event(&change, &snapshot.desired));
                }
            }
            Err(error) => tracing::debug!(%error, "watching the nodes: observing failed"),
        }
    }
}

/// The event telling `change`, about the Node resource of the node where there is one.
pub fn event(change: &NodeChange, desired: &Desired) -> Event {
    let node_resource = |hostname: &str| {
        desired
            .nodes()
            .find(|(r, spec)| spec.hostname.as_deref().unwrap_or(r.name()) == hostname)
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

/// How often the acting instance looks at the nodes between node events.
pub const INTERVAL: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fake::lab_desired;

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
