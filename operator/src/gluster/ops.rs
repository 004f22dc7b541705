//! The changing gluster commands a GlusterVolume change is made of, as values: planned
//! from desired and observed state (`plan::gluster`), run in order (`gluster::apply`).
//!
//! The plan also describes a change as human-readable fields; these operations exist so
//! that applying never has to read those descriptions back.

/// One changing command on one volume. A change's operations run in the order planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeOp {
    /// Add `host` to the trusted pool; the commands after it need the peer connected.
    Probe { host: String },
    /// Create the volume from every brick (`host:/path`, in replica-set order).
    Create {
        replica: u32,
        arbiter: Option<u32>,
        bricks: Vec<String>,
        force: bool,
    },
    /// Grow the volume by the bricks it does not have yet. gluster wants the volume's
    /// whole layout (replica, arbiter) restated with them.
    AddBricks {
        replica: u32,
        arbiter: Option<u32>,
        bricks: Vec<String>,
        force: bool,
    },
    /// Set one volume option.
    Set { key: String, value: String },
    /// Start the volume; last, so it starts with its options already set.
    Start,
}
