//! Capacity from desired-state alone, where every Node resource declares its `memory`
//! (taken to be the swarm's nodes: desired-state knows no others): whether the active
//! nodes hold what the services reserve, and still do without the largest one. Where
//! swarm puts each task is not known here, so only sums are compared, which fail only if
//! every placement would (a global service limited by constraints to some nodes is left
//! out: how many tasks it has is not known); `shoal plan` judges the real placement, node
//! by node. A warning: `validate --strict` makes it an error.

use super::Findings;
use crate::resources::node::Availability;
use crate::resources::quantity::approximate as size;
use crate::resources::service::ServiceMode;
use crate::resources::{Desired, Resource};

pub(super) fn check(desired: &Desired, findings: &mut Findings) {
    let nodes: Vec<(&Resource, Option<u64>)> = desired
        .nodes()
        .filter(|(_, spec)| spec.availability == Availability::Active)
        .map(|(r, spec)| (r, spec.memory.as_ref().map(|m| m.bytes())))
        .collect();
    let Some(memories) = nodes.iter().map(|(_, m)| *m).collect::<Option<Vec<u64>>>() else {
        return;
    };
    if nodes.len() < 2 {
        return;
    }
    let (mut replicated, mut global) = (0u64, 0u64);
    for (_, spec) in desired.services() {
        let reservation = spec
            .resources
            .as_ref()
            .and_then(|r| r.reservations.as_ref())
            .and_then(|r| r.memory.as_ref())
            .map_or(0, |m| m.bytes());
        let constrained = spec
            .placement
            .as_ref()
            .is_some_and(|p| !p.constraints.is_empty());
        match spec.mode {
            ServiceMode::Replicated => replicated += reservation * spec.replicas.unwrap_or(1),
            ServiceMode::Global if !constrained => global += reservation,
            ServiceMode::Global => {}
        }
    }
    let count = nodes.len() as u64;
    let total: u64 = memories.iter().sum();
    let (largest, largest_memory) = nodes
        .iter()
        .map(|(r, m)| (*r, m.unwrap_or(0)))
        .max_by_key(|(r, m)| (*m, std::cmp::Reverse(r.name())))
        .expect("two nodes or more");
    let all = replicated + global * count;
    let without_largest = replicated + global * (count - 1);
    if all > total {
        findings.warning(
            largest,
            "spec.memory",
            format!(
                "the declared nodes' {} of memory cannot hold the {} the services reserve",
                size(total),
                size(all)
            ),
        );
    } else if without_largest > total - largest_memory {
        findings.warning(
            largest,
            "spec.memory",
            format!(
                "if {} ({}) fails, the other nodes' {} cannot hold the {} the services \
                 reserve: tasks would stay pending",
                largest.name(),
                size(largest_memory),
                size(total - largest_memory),
                size(without_largest)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{problems, service};

    fn node(name: &str, spec: &str) -> String {
        format!(
            "apiVersion: shoal/v1alpha1\nkind: Node\nmetadata:\n  name: {name}\nspec:\n{spec}---\n"
        )
    }

    /// `web` with `replicas` tasks reserving 32M each.
    fn web(replicas: u32) -> String {
        service(
            "web",
            &format!("    reservations: {{memory: 32M}}\n  replicas: {replicas}\n"),
        )
    }

    #[test]
    fn declared_node_memory_must_hold_the_reservations_without_the_largest_node() {
        let nodes = node("node1", "  memory: 64M\n") + &node("node2", "  memory: 64M\n");
        // 2 x 32M fit on one node of 64M.
        assert_eq!(problems(&(nodes.clone() + &web(2))), Vec::<String>::new());
        // 3 x 32M fit on both, not on one.
        assert_eq!(
            problems(&(nodes.clone() + &web(3))),
            [
                "t.yaml:6:11: Node/node1: warning: if node1 (64M) fails, the other nodes' 64M \
              cannot hold the 96M the services reserve: tasks would stay pending"
            ]
        );
        assert_eq!(
            problems(&(nodes.clone() + &web(5))),
            [
                "t.yaml:6:11: Node/node1: warning: the declared nodes' 128M of memory cannot \
              hold the 160M the services reserve"
            ]
        );
        // A drained node holds nothing: one node of 64M is too few for 2 nodes' worth.
        let drained = nodes.replace("  memory: 64M\n---\napiVersion: shoal/v1alpha1\nkind: Node\nmetadata:\n  name: node2\nspec:\n  memory: 64M\n", "  memory: 64M\n---\napiVersion: shoal/v1alpha1\nkind: Node\nmetadata:\n  name: node2\nspec:\n  memory: 64M\n  availability: drain\n");
        assert_eq!(
            problems(&(drained + &web(3))),
            Vec::<String>::new(),
            "one active node: no N-1"
        );
    }

    #[test]
    fn nothing_is_judged_without_every_node_memory_or_with_a_constrained_global() {
        let undeclared = node("node1", "  memory: 64M\n") + &node("node2", "  labels: {a: b}\n");
        assert_eq!(problems(&(undeclared + &web(5))), Vec::<String>::new());
        let nodes = node("node1", "  memory: 64M\n") + &node("node2", "  memory: 64M\n");
        let agent = service(
            "agent",
            "    reservations: {memory: 48M}\n  mode: global\n  placement:\n    constraints: [node.labels.a == b]\n",
        );
        assert_eq!(problems(&(nodes + &agent)), Vec::<String>::new());
    }
}
