//! Capacity on the swarms recorded from both lab engines: lab-desired's `web` (2 tasks,
//! node1 and node3, 16M reserved, 32M limit, at most one per node, never on tier back)
//! and `worker` (global, 16M limit), on three nodes with this machine's memory.

use super::*;
use crate::controller::fake::lab_desired;
use crate::observe::recorded::{ENGINES, live};
use crate::resources::{ServiceSpec, Spec};

const M: u64 = 1 << 20;

fn web_spec(desired: &mut Desired) -> &mut ServiceSpec {
    let web = desired.resources.iter_mut().find(|r| r.name() == "web");
    match &mut web.unwrap().spec {
        Spec::Service(spec) => spec,
        _ => unreachable!(),
    }
}

fn declare_memory(desired: &mut Desired, node: &str, memory: &str) {
    let resource = desired.resources.iter_mut().find(|r| r.name() == node);
    if let Spec::Node(spec) = &mut resource.unwrap().spec {
        spec.memory = Some(MemorySize::parse(memory).unwrap());
    }
}

fn web_slot_on(live: &Live, hostname: &str) -> i64 {
    let node = live.node_by_hostname(hostname).unwrap().id.clone();
    let web = live.service("web").unwrap().id.clone();
    let task = live
        .tasks
        .iter()
        .find(|t| t.service_id == web && t.node_id == node);
    task.unwrap().slot.unwrap()
}

#[test]
fn each_node_counts_the_reservations_and_limits_of_its_tasks() {
    for engine in ENGINES {
        let live = live(engine, "applied");
        let capacity = assess(&lab_desired(), &live);
        let engine_memory = live.nodes[0]
            .description
            .as_ref()
            .unwrap()
            .resources
            .as_ref()
            .unwrap()
            .memory_bytes
            .unwrap() as u64;
        let node = |name: &str, reserved: u64, limited: u64, tasks: usize| NodeCapacity {
            node: name.into(),
            memory_bytes: engine_memory,
            declared: false,
            reserved_bytes: reserved,
            limited_bytes: limited,
            tasks,
            unlimited: 0,
        };
        assert_eq!(
            capacity.nodes,
            [
                node("node1", 16 * M, 48 * M, 2),
                node("node2", 0, 16 * M, 1),
                node("node3", 16 * M, 48 * M, 2),
            ],
            "engine {engine}"
        );
        assert_eq!(capacity.overcommitted().count(), 0);
        // web may run on node1 and node3 only, one task each: the loss of either leaves
        // its task with no node, a risk the placement chose, told as such.
        let slot = web_slot_on(&live, "node3");
        assert_eq!(
            capacity.losses.iter().find(|l| l.node == "node3"),
            Some(&NodeLoss {
                node: "node3".into(),
                unplaced: vec![Unplaced {
                    task: format!("web.{slot}"),
                    reservation_bytes: 16 * M,
                    why: NoRoom::MaxReplicasPerNode(1),
                }],
            })
        );
        assert_eq!(
            capacity.risk("node3"),
            Some(format!(
                "if node3 fails, no node may take web.{slot} (max 1 per node)"
            ))
        );
        assert_eq!(
            capacity.risk("node2"),
            None,
            "node2 runs the global worker only"
        );
    }
}

#[test]
fn a_declared_memory_plans_for_smaller_hosts() {
    for engine in ENGINES {
        let live = live(engine, "applied");
        let mut desired = lab_desired();
        // web may run anywhere, any number per node: only memory holds it back.
        let placement = web_spec(&mut desired).placement.as_mut().unwrap();
        placement.constraints.clear();
        placement.max_replicas_per_node = None;
        declare_memory(&mut desired, "node1", "16M");
        declare_memory(&mut desired, "node2", "8M");
        let capacity = assess(&desired, &live);
        let memory: Vec<(&str, u64, bool)> = capacity
            .nodes
            .iter()
            .map(|n| (n.node.as_str(), n.memory_bytes, n.declared))
            .collect();
        assert_eq!(
            memory[..2],
            [("node1", 16 * M, true), ("node2", 8 * M, true)]
        );
        assert!(
            !memory[2].2,
            "node3 has no Node resource: the engine's memory"
        );
        let slot = web_slot_on(&live, "node3");
        assert_eq!(
            capacity.risk("node3"),
            Some(format!(
                "if node3 fails, 16M of reservations (web.{slot} 16M) do not fit on node1, node2"
            )),
            "engine {engine}"
        );
        // Swarm's own cap (one web task per node, as the live spec still says) keeps web
        // off node3, and node2's 8M do not hold 16M.
        let slot1 = web_slot_on(&live, "node1");
        assert_eq!(
            capacity.risk("node1"),
            Some(format!(
                "if node1 fails, 16M of reservations (web.{slot1} 16M) do not fit on node2, node3"
            ))
        );
        let overcommitted: Vec<&str> = capacity.overcommitted().map(|n| n.node.as_str()).collect();
        assert_eq!(overcommitted, ["node1", "node2"]);
    }
}

#[test]
fn sizes_read_as_written_or_to_one_decimal() {
    assert_eq!(size(320 * M), "320M");
    assert_eq!(size(1 << 30), "1G");
    assert_eq!(size(25_275_990_016), "23.5G");
    assert_eq!(size(0), "0");
}
