//! Tasks of shoal's services that failed since the last observation: killed at their
//! memory limit (exit 137 while swarm still wanted them running: the kernel's OOM killer,
//! as the lab's `alloc` tool shows), killed by swarm for a failing health check (exit 137
//! too, with swarm's `unhealthy container`), or failing again and again (a crash loop). Pure: it
//! reads the task list and the time of the observation.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bollard::models::{Task, TaskState};

use crate::observe::live::Live;
use crate::swarm::labels;

/// So many failures of one service within `CRASH_WINDOW` are a crash loop.
pub const CRASH_EXITS: usize = 3;
pub const CRASH_WINDOW: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskFailure {
    /// `web.2` on `node2` was killed at the service's memory `limit` (`32M`, as the engine
    /// holds it, in bytes when no desired-state says otherwise).
    OomKilled {
        service: String,
        task: String,
        node: String,
        limit: Option<i64>,
    },
    /// `web.2` on `node2` was killed by swarm because its health check kept failing (exit
    /// 137 too, with swarm's `unhealthy container`: not the kernel's OOM killer).
    Unhealthy {
        service: String,
        task: String,
        node: String,
    },
    /// The service's tasks failed `exits` times within the window; `last` is swarm's word
    /// for the last one (`task: non-zero exit (1)`).
    CrashLooping {
        service: String,
        exits: usize,
        last: String,
    },
}

/// The failed tasks already counted, each service's recent failures, and what was told
/// of each service within the window (its last OOM kill, its crash loop).
#[derive(Debug, Default)]
pub struct FailureWatch {
    counted: Option<BTreeSet<String>>,
    recent: BTreeMap<String, Vec<Instant>>,
    looping: BTreeSet<String>,
    told: BTreeMap<(String, u8), (TaskFailure, Instant)>,
}

impl FailureWatch {
    /// The failures new since the last observation; the first one only sets the baseline.
    pub fn observe(&mut self, live: &Live, now: Instant) -> Vec<TaskFailure> {
        let services = managed_services(live);
        let hostnames: BTreeMap<&str, &str> = live
            .nodes
            .iter()
            .filter_map(|n| {
                Some((
                    n.id.as_deref()?,
                    n.description.as_ref()?.hostname.as_deref()?,
                ))
            })
            .collect();
        let failed: Vec<(&Task, &(String, Option<i64>))> = live
            .tasks
            .iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::FAILED))
            .filter_map(|t| Some((t, services.get(t.service_id.as_deref()?)?)))
            .collect();
        let Some(counted) = &mut self.counted else {
            self.counted = Some(failed.iter().filter_map(|(t, _)| t.id.clone()).collect());
            return Vec::new();
        };
        let mut out = Vec::new();
        for (task, (service, limit)) in failed {
            let Some(id) = &task.id else { continue };
            if !counted.insert(id.clone()) {
                continue;
            }
            let status = task.status.as_ref();
            let exit = status
                .and_then(|s| s.container_status.as_ref())
                .and_then(|c| c.exit_code);
            let name = format!("{service}.{}", task.slot.unwrap_or_default());
            let node = task.node_id.as_deref().and_then(|id| hostnames.get(id));
            let node = node.unwrap_or(&"?").to_string();
            let unhealthy = status
                .and_then(|s| s.err.as_deref())
                .is_some_and(|err| err.contains("unhealthy container"));
            match exit {
                Some(137) if unhealthy => out.push(TaskFailure::Unhealthy {
                    service: service.clone(),
                    task: name,
                    node,
                }),
                Some(137) => out.push(TaskFailure::OomKilled {
                    service: service.clone(),
                    task: name,
                    node,
                    limit: *limit,
                }),
                _ => {}
            }
            let recent = self.recent.entry(service.clone()).or_default();
            recent.retain(|at| now.duration_since(*at) < CRASH_WINDOW);
            if recent.is_empty() {
                // Quiet for a whole window: a new loop is told anew.
                self.looping.remove(service);
            }
            recent.push(now);
            if recent.len() >= CRASH_EXITS && self.looping.insert(service.clone()) {
                out.push(TaskFailure::CrashLooping {
                    service: service.clone(),
                    exits: recent.len(),
                    last: status.and_then(|s| s.err.clone()).unwrap_or_default(),
                });
            }
        }
        // Swarm keeps a few old tasks per slot: forget those it dropped.
        let listed: BTreeSet<&str> = live.tasks.iter().filter_map(|t| t.id.as_deref()).collect();
        counted.retain(|id| listed.contains(id.as_str()));
        self.recent.retain(|_, at| {
            at.retain(|at| now.duration_since(*at) < CRASH_WINDOW);
            !at.is_empty()
        });
        self.looping.retain(|s| self.recent.contains_key(s));
        self.remember(&out, now);
        out
    }

    /// Keeps what was told while it stands: a kill for the window, a loop while it lasts.
    fn remember(&mut self, told: &[TaskFailure], now: Instant) {
        for failure in told {
            // A loop first: it stands until the service is quiet, and its reason wins.
            let key = match failure {
                TaskFailure::CrashLooping { service, .. } => (service.clone(), 0),
                TaskFailure::OomKilled { service, .. } => (service.clone(), 1),
                TaskFailure::Unhealthy { service, .. } => (service.clone(), 2),
            };
            self.told.insert(key, (failure.clone(), now));
        }
        self.told.retain(|(service, kind), (_, at)| match kind {
            0 => self.looping.contains(service),
            _ => now.duration_since(*at) < CRASH_WINDOW,
        });
    }

    /// The failures that still stand, per service, a crash loop first: a kill within the
    /// window, a crash loop until its service has been quiet for a window.
    pub fn standing(&self) -> impl Iterator<Item = &TaskFailure> {
        self.told.values().map(|(failure, _)| failure)
    }
}

/// Service IDs to the name and memory limit (bytes) of shoal's services.
fn managed_services(live: &Live) -> BTreeMap<String, (String, Option<i64>)> {
    live.services
        .iter()
        .filter_map(|s| {
            let spec = s.spec.as_ref()?;
            if !labels::is_managed(spec.labels.as_ref()) {
                return None;
            }
            let limit = spec
                .task_template
                .as_ref()
                .and_then(|t| t.resources.as_ref())
                .and_then(|r| r.limits.as_ref())
                .and_then(|l| l.memory_bytes);
            Some((s.id.clone()?, (spec.name.clone()?, limit)))
        })
        .collect()
}

#[cfg(test)]
mod tests;
