//! A plan shown to people (text in the manner of `terraform plan`, coloured on a
//! terminal) and to programs (JSON, a stable documented shape: docs/plan-json.md).

use serde::Serialize;

use super::{Action, Change, Plan};

/// ANSI colours, used only when writing to a terminal.
struct Palette {
    green: &'static str,
    yellow: &'static str,
    red: &'static str,
    bold: &'static str,
    reset: &'static str,
}

const COLOUR: Palette = Palette {
    green: "\x1b[32m",
    yellow: "\x1b[33m",
    red: "\x1b[31m",
    bold: "\x1b[1m",
    reset: "\x1b[0m",
};

const PLAIN: Palette = Palette {
    green: "",
    yellow: "",
    red: "",
    bold: "",
    reset: "",
};

/// The plan as text. With `colour`, signs are coloured for a terminal.
pub fn text(plan: &Plan, colour: bool) -> String {
    let p = if colour { &COLOUR } else { &PLAIN };
    let mut out = String::new();
    let (blocked, actionable): (Vec<&Change>, Vec<&Change>) =
        plan.changes.iter().partition(|c| c.blocked.is_some());
    if actionable.is_empty() && blocked.is_empty() {
        out.push_str("No changes. The swarm matches desired-state.\n");
    } else if actionable.is_empty() {
        out.push_str("No change can be made now: every pending change is blocked.\n");
    } else {
        out.push_str("shoal will perform the following actions:\n");
        for change in actionable {
            out.push('\n');
            change_text(change, p, &mut out);
        }
    }
    if !blocked.is_empty() {
        blocked_text(&blocked, p, &mut out);
    }
    if !plan.unmanaged.is_empty() {
        out.push_str("\nUnmanaged (never changed):\n");
        for object in &plan.unmanaged {
            out.push_str(&format!("  {}/{}\n", object.kind, object.name));
        }
    }
    if !plan.capacity.nodes.is_empty() {
        capacity_text(&plan.capacity, &mut out);
    }
    if !plan.storage.is_empty() || !plan.mounts.is_empty() {
        storage_text(plan, &mut out);
    }
    if !plan.not_managed.is_empty() {
        out.push_str("\nNot managed yet:\n");
        for object in &plan.not_managed {
            out.push_str(&format!(
                "  {}/{}: {}\n",
                object.kind, object.name, object.reason
            ));
        }
    }
    out.push('\n');
    out.push_str(&format!("{}{}{}\n", p.bold, plan.summary(), p.reset));
    out
}

/// Changes that cannot be made now, with why, and what they would change.
fn blocked_text(blocked: &[&Change], p: &Palette, out: &mut String) {
    out.push_str(&format!("\n{}Blocked (not applied):{}\n", p.bold, p.reset));
    for change in blocked {
        out.push_str(&format!(
            "  {}!{} {}/{}: {}\n",
            p.red,
            p.reset,
            change.kind,
            change.name,
            change
                .blocked
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        ));
        for field in &change.fields {
            out.push_str(&format!("      {}\n", field_text(field)));
        }
    }
}

/// The health of every volume, and its mount on every node.
fn storage_text(plan: &Plan, out: &mut String) {
    out.push_str("\nStorage health:\n");
    for volume in &plan.storage {
        let state = volume.state();
        out.push_str(&format!(
            "  GlusterVolume/{}: {state}: {}/{} bricks online, {} entries pending heal, {} in split-brain",
            volume.name, volume.bricks_online, volume.bricks_total, volume.heal_pending, volume.split_brain
        ));
        if !volume.disconnected_peers.is_empty() {
            out.push_str(&format!(
                ", peers disconnected: {}",
                volume.disconnected_peers.join(", ")
            ));
        }
        out.push('\n');
    }
    for mount in &plan.mounts {
        out.push_str(&format!(
            "  GlusterVolume/{} on {}: {}\n",
            mount.volume, mount.node, mount.detail
        ));
    }
}

/// Memory per node, then what the loss of each node would leave pending.
fn capacity_text(capacity: &crate::heal::capacity::Capacity, out: &mut String) {
    use crate::heal::capacity::size;
    out.push_str(
        "\nCapacity (memory reserved by tasks, as swarm places them, and their limits):\n",
    );
    for node in &capacity.nodes {
        let declared = if node.declared { " (declared)" } else { "" };
        let unlimited = match node.unlimited {
            0 => String::new(),
            n => format!(", {n} without a limit"),
        };
        let tasks = match node.tasks {
            1 => "1 task".to_string(),
            n => format!("{n} tasks"),
        };
        out.push_str(&format!(
            "  {}: {}{declared}: {} reserved, {} in limits, {tasks}{unlimited}\n",
            node.node,
            size(node.memory_bytes),
            size(node.reserved_bytes),
            size(node.limited_bytes),
        ));
    }
    for node in capacity.overcommitted() {
        out.push_str(&format!(
            "  at risk: the limits on {} add up to {}, more than its {}\n",
            node.node,
            size(node.limited_bytes),
            size(node.memory_bytes)
        ));
    }
    let risks: Vec<String> = capacity
        .nodes
        .iter()
        .filter_map(|n| capacity.risk(&n.node))
        .collect();
    for risk in &risks {
        out.push_str(&format!("  at risk: {risk}\n"));
    }
    if risks.is_empty() && capacity.nodes.len() > 1 {
        out.push_str("  If any one node fails, the others hold every task of it that may move.\n");
    }
}

fn change_text(change: &Change, p: &Palette, out: &mut String) {
    let (sign, colour, verb) = match change.action {
        Action::Create => ("+", p.green, "will be created"),
        Action::Update => ("~", p.yellow, "will be updated in place"),
        Action::Delete => ("-", p.red, "will be deleted"),
        Action::Replace => ("-/+", p.red, "must be replaced (deleted, then created)"),
        Action::Adopt => (
            "~",
            p.yellow,
            "will be adopted (shoal takes it over in place)",
        ),
    };
    let restarts = match change.action {
        Action::Update | Action::Adopt if change.restarts_tasks => ", restarting its tasks",
        Action::Update | Action::Adopt if change.kind == crate::resources::Kind::Service => {
            ", tasks keep running"
        }
        _ => "",
    };
    out.push_str(&format!(
        "  # {}/{} {verb}{restarts}\n  {colour}{sign}{} {}/{}\n",
        change.kind, change.name, p.reset, change.kind, change.name
    ));
    for field in &change.fields {
        let (sign, colour) = match (&field.from, &field.to) {
            (None, Some(_)) => ("+", p.green),
            (Some(_), None) => ("-", p.red),
            _ => ("~", p.yellow),
        };
        out.push_str(&format!(
            "      {colour}{sign}{} {}\n",
            p.reset,
            field_text(field)
        ));
    }
}

fn field_text(field: &crate::diff::FieldChange) -> String {
    match (&field.from, &field.to) {
        (None, Some(to)) => format!("{}: {to}", field.path),
        (Some(from), None) => format!("{}: {from}", field.path),
        (Some(from), Some(to)) => format!("{}: {from} -> {to}", field.path),
        (None, None) => field.path.clone(),
    }
}

/// The JSON shape of a plan. `format_version` changes only when a field is removed or
/// changes meaning.
#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: u32,
    /// When the live state was observed: served by `shoal run` at /api/v1/plan only.
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_at: Option<&'a str>,
    changes: &'a [Change],
    unmanaged: &'a [super::Unmanaged],
    not_managed: &'a [super::NotManaged],
    storage: &'a [super::gluster::StorageHealth],
    mounts: &'a [super::storage_gate::NodeMount],
    capacity: &'a crate::heal::capacity::Capacity,
    summary: JsonSummary,
}

#[derive(Serialize)]
struct JsonSummary {
    create: usize,
    update: usize,
    delete: usize,
    replace: usize,
    adopt: usize,
    blocked: usize,
}

/// The plan as pretty JSON.
pub fn json(plan: &Plan) -> String {
    json_observed(plan, None)
}

/// The plan as pretty JSON, with when the live state it compares with was observed.
pub fn json_observed(plan: &Plan, observed_at: Option<&str>) -> String {
    let shape = JsonPlan {
        format_version: 1,
        observed_at,
        changes: &plan.changes,
        unmanaged: &plan.unmanaged,
        not_managed: &plan.not_managed,
        storage: &plan.storage,
        mounts: &plan.mounts,
        capacity: &plan.capacity,
        summary: JsonSummary {
            create: plan.count(Action::Create),
            update: plan.count(Action::Update),
            delete: plan.count(Action::Delete),
            replace: plan.count(Action::Replace),
            adopt: plan.count(Action::Adopt),
            blocked: plan.blocked(),
        },
    };
    serde_json::to_string_pretty(&shape).expect("a plan always serializes") + "\n"
}
