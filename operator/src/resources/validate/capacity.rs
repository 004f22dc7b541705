//! Capacity from desired-state alone, where every Node resource declares its `memory`:
//! whether the nodes hold what the services reserve, and still do without the largest
//! node. Where swarm puts each task is not known here, so this is the check that holds for
//! any placement (a sum can fail only if every placement fails); `shoal plan` judges the
//! real one, node by node. A warning: `validate --strict` makes it an error.

use super::Findings;
use crate::resources::quantity::approximate as size;
use crate::resources::service::ServiceMode;
use crate::resources::{Desired, Resource};

pub(super) fn check(desired: &Desired, findings: &mut Findings) {
    let nodes: Vec<(&Resource, Option<u64>)> = desired
        .nodes()
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
        match spec.mode {
            ServiceMode::Replicated => replicated += reservation * spec.replicas.unwrap_or(1),
            ServiceMode::Global => global += reservation,
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
