//! What happened to the GlusterVolumes between two observations: a volume degraded (a
//! brick offline, a peer gone, split-brain), its heal started once every brick is back,
//! its progress (at most once a minute, while the count falls), healed, or stalled (the
//! count not falling for five minutes). Pure: it reads each volume's health and the time
//! of the observation, and returns what changed and which volumes look different.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::plan::gluster::{StorageHealth, StorageState};

/// Progress is told at most this often.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(60);
/// A pending count that has not fallen for this long is a stalled heal.
pub const STALL_AFTER: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageChange {
    /// The volume is degraded now; `why` as its status condition says it.
    Degraded {
        volume: String,
        why: String,
    },
    /// Every brick is back and entries wait to heal: the heal is to be started.
    HealStarted {
        volume: String,
        pending: u64,
    },
    HealProgress {
        volume: String,
        pending: u64,
    },
    Healed {
        volume: String,
    },
    HealStalled {
        volume: String,
        pending: u64,
        stalled_for: Duration,
    },
}

/// The volumes as last seen, and when each one's heal last moved.
#[derive(Debug, Default)]
pub struct VolumeWatch {
    volumes: Option<BTreeMap<String, Tracked>>,
}

#[derive(Clone, Debug)]
struct Tracked {
    health: StorageHealth,
    /// When the pending count last fell (or the heal started).
    fell_at: Instant,
    told_progress_at: Instant,
    stalled: bool,
}

/// What one observation found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VolumeReport {
    pub changes: Vec<StorageChange>,
    /// Volumes whose health differs from the last observation: their status is stale.
    pub changed: Vec<String>,
}

impl VolumeWatch {
    /// Compares `storage` with the last observation; the first one only sets the baseline
    /// (but a volume found degraded or healing is said to be so).
    pub fn observe(&mut self, storage: &[StorageHealth], now: Instant) -> VolumeReport {
        let before = self.volumes.take();
        let mut report = VolumeReport::default();
        let mut after = BTreeMap::new();
        for health in storage {
            let name = health.name.clone();
            let was = before.as_ref().and_then(|b| b.get(&name));
            if was.is_some_and(|w| w.health != *health) {
                report.changed.push(name.clone());
            }
            let tracked = match was {
                Some(was) => step(was, health, now, &mut report.changes),
                None => {
                    if before.is_some() || health.state() != StorageState::Healthy {
                        report.changes.extend(first_seen(health));
                    }
                    Tracked {
                        health: health.clone(),
                        fell_at: now,
                        told_progress_at: now,
                        stalled: false,
                    }
                }
            };
            after.insert(name, tracked);
        }
        self.volumes = Some(after);
        report
    }
}

fn first_seen(health: &StorageHealth) -> Option<StorageChange> {
    match health.state() {
        StorageState::Degraded => Some(StorageChange::Degraded {
            volume: health.name.clone(),
            why: degraded_why(health),
        }),
        StorageState::Healing => Some(StorageChange::HealStarted {
            volume: health.name.clone(),
            pending: health.heal_pending,
        }),
        StorageState::Healthy => None,
    }
}

/// One volume from its last observation to this one.
fn step(was: &Tracked, is: &StorageHealth, now: Instant, out: &mut Vec<StorageChange>) -> Tracked {
    let volume = is.name.clone();
    let mut next = Tracked {
        health: is.clone(),
        ..was.clone()
    };
    let (from, to) = (was.health.state(), is.state());
    match (from, to) {
        (StorageState::Degraded, StorageState::Degraded) => {
            let why = degraded_why(is);
            if why != degraded_why(&was.health) && is.bricks_online < was.health.bricks_online {
                out.push(StorageChange::Degraded { volume, why });
            }
        }
        (_, StorageState::Degraded) => out.push(StorageChange::Degraded {
            volume,
            why: degraded_why(is),
        }),
        (_, StorageState::Healthy) if from != StorageState::Healthy => {
            out.push(StorageChange::Healed { volume })
        }
        (StorageState::Healing, StorageState::Healing) => {
            if is.heal_pending < was.health.heal_pending {
                next.fell_at = now;
                next.stalled = false;
                if now.duration_since(was.told_progress_at) >= PROGRESS_EVERY {
                    next.told_progress_at = now;
                    out.push(StorageChange::HealProgress {
                        volume,
                        pending: is.heal_pending,
                    });
                }
            } else if !was.stalled && now.duration_since(was.fell_at) >= STALL_AFTER {
                next.stalled = true;
                out.push(StorageChange::HealStalled {
                    volume,
                    pending: is.heal_pending,
                    stalled_for: now.duration_since(was.fell_at),
                });
            }
        }
        (_, StorageState::Healing) => {
            next.fell_at = now;
            next.told_progress_at = now;
            next.stalled = false;
            out.push(StorageChange::HealStarted {
                volume,
                pending: is.heal_pending,
            });
        }
        _ => {}
    }
    next
}

/// `2/3 bricks online, peers disconnected: node3`, as the volume's condition says it.
pub fn degraded_why(health: &StorageHealth) -> String {
    let mut why = vec![format!(
        "{}/{} bricks online",
        health.bricks_online, health.bricks_total
    )];
    if !health.disconnected_peers.is_empty() {
        why.push(format!(
            "peers disconnected: {}",
            health.disconnected_peers.join(", ")
        ));
    }
    if health.split_brain > 0 {
        why.push(split_brain_why(health));
    }
    if health.heal_pending > 0 {
        why.push(format!("{} entries pending heal", health.heal_pending));
    }
    why.join(", ")
}

/// The entries in split-brain, and who resolves them: gluster by its favorite-child
/// policy, or a person with the commands named (shoal never picks a copy).
fn split_brain_why(health: &StorageHealth) -> String {
    const SHOWN: usize = 5;
    let mut files =
        health.split_brain_files[..health.split_brain_files.len().min(SHOWN)].join(", ");
    if health.split_brain_files.len() > SHOWN {
        files.push_str(&format!(
            " and {} more",
            health.split_brain_files.len() - SHOWN
        ));
    }
    // gluster counts an entry once per brick that blames another; the files are named once.
    let entries = match health.split_brain_files.len() {
        0 => format!("{} entries in split-brain", health.split_brain),
        1 => format!("1 file in split-brain ({files})"),
        n => format!("{n} files in split-brain ({files})"),
    };
    let volume = &health.name;
    match &health.favorite_child_policy {
        Some(policy) => format!(
            "{entries}: gluster's self-heal resolves them by cluster.favorite-child-policy {policy}"
        ),
        None => format!(
            "{entries}: shoal never picks a copy; resolve each with `gluster volume heal \
             {volume} split-brain latest-mtime FILE` (or `bigger-file FILE`, or `source-brick \
             HOST:BRICK FILE`), or set cluster.favorite-child-policy"
        ),
    }
}

#[cfg(test)]
mod tests;
