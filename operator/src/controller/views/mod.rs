//! What the dashboard reads besides status and events: `/api/v1/nodes` (every node with
//! its tasks and memory), `/api/v1/volumes` (each GlusterVolume's bricks, heal state and
//! mounts) and `/api/v1/plan` (what the next reconcile would change), all made from the
//! newest shared observation and its plan, so the page shows what the loop decides from.
//! Pure: the views are built from `Observed`, and tested on recorded engine answers.

mod nodes;
mod volumes;

use std::time::SystemTime;

pub use self::nodes::{NodeView, NodesView, TaskView, nodes};
pub use self::volumes::{BrickView, VolumeView, VolumesView, volumes};

/// An RFC 3339 time, as events show theirs.
fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `/api/v1/plan`: the plan as `shoal plan --json` prints it, from the newest observation
/// (with `observed_at`), or `None` before the first.
pub fn plan(observed: &super::observation::Observed) -> String {
    crate::plan::render::json_observed(observed.plan(), Some(&rfc3339(observed.at)))
}

#[cfg(test)]
mod tests;
