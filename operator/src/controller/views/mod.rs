//! What the dashboard reads besides status and events: `/api/v1/nodes` (every node with
//! its tasks and memory), `/api/v1/volumes` (each GlusterVolume's bricks, heal state and
//! mounts) and `/api/v1/plan` (what the next reconcile would change), all made from the
//! newest shared observation and its plan, so the page shows what the loop decides from.
//! Pure: the views are built from `Observed`, and tested on recorded engine answers.

mod nodes;
mod volumes;

use std::time::SystemTime;

pub use self::nodes::{NodeView, NodesView, TaskView, nodes};
pub use self::volumes::{BrickView, VolumeState, VolumeView, VolumesView, volumes};

/// An RFC 3339 time, as events show theirs.
fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `/api/v1/plan`: the plan as `shoal plan --json` prints it, from the newest observation
/// (with `observed_at`), with every env value hidden as events hide them: `shoal plan`
/// is run by whoever holds the engine, the page is open to whoever reaches the listener,
/// and a variable added by hand need not look secret (`DATABASE_URL=postgres://u:pw@db`).
pub fn plan(observed: &super::observation::Observed) -> String {
    let mut plan = observed.plan().clone();
    for field in plan.changes.iter_mut().flat_map(|c| c.fields.iter_mut()) {
        if field.path.starts_with("env.") {
            for value in [&mut field.from, &mut field.to].into_iter().flatten() {
                *value = "(hidden)".into();
            }
        }
    }
    crate::plan::render::json_observed(&plan, Some(&rfc3339(observed.at)))
}

#[cfg(test)]
mod tests;
