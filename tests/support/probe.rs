//! A visitor's view of a site while the lab is broken under it: one request at a time, a
//! fixed timeout, a pause between requests. Shared by the availability benchmark (which
//! reports the figures) and the example's lab test (which asserts how many failed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request: when it started (since the probe began), whether it got a 200 with its
/// whole body in time, and how long it took.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub at: Duration,
    pub ok: bool,
    pub took: Duration,
}

/// Requests to one URL, in a thread, until [`Prober::stop`].
pub struct Prober {
    started: Instant,
    stop: Arc<AtomicBool>,
    probes: Arc<Mutex<Vec<Probe>>>,
    thread: JoinHandle<()>,
}

impl Prober {
    pub fn start(url: String, timeout: Duration, pause: Duration) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let probes = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let thread = {
            let (stop, probes) = (stop.clone(), probes.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .build()
                    .expect("an HTTP client");
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    let ok = client
                        .get(&url)
                        .send()
                        .and_then(|r| r.error_for_status())
                        .and_then(|r| r.bytes())
                        .is_ok();
                    let took = began.elapsed();
                    let at = began - started;
                    probes.lock().unwrap().push(Probe { at, ok, took });
                    std::thread::sleep(pause);
                }
            })
        };
        Prober {
            started,
            stop,
            probes,
            thread,
        }
    }

    /// Time since the probe began: the clock of every [`Probe::at`].
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops after the request under way; every request made, in order.
    pub fn stop(self) -> Vec<Probe> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the probe thread");
        std::mem::take(&mut *self.probes.lock().unwrap())
    }
}

/// The probes that started in `[from, to)`.
pub fn between(probes: &[Probe], from: Duration, to: Duration) -> Vec<Probe> {
    probes
        .iter()
        .filter(|p| p.at >= from && p.at < to)
        .copied()
        .collect()
}

/// A run of consecutive failed requests: from the first one's start to the next
/// success's start (or the last failure's end).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FailureRun {
    pub from: Duration,
    pub to: Duration,
    pub failed: usize,
}

pub fn failure_runs(probes: &[Probe]) -> Vec<FailureRun> {
    let mut runs = Vec::new();
    let mut current: Option<FailureRun> = None;
    for p in probes {
        match (p.ok, current.as_mut()) {
            (false, None) => {
                current = Some(FailureRun {
                    from: p.at,
                    to: p.at + p.took,
                    failed: 1,
                })
            }
            (false, Some(run)) => {
                run.to = p.at + p.took;
                run.failed += 1;
            }
            (true, Some(run)) => {
                run.to = p.at;
                runs.extend(current.take());
            }
            (true, None) => {}
        }
    }
    runs.extend(current);
    runs
}

/// Requests, failures and latency of one phase.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub requests: usize,
    pub failed: usize,
    pub longest_failure: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

pub fn summarize(probes: &[Probe]) -> Summary {
    let mut answered: Vec<Duration> = probes.iter().filter(|p| p.ok).map(|p| p.took).collect();
    answered.sort();
    Summary {
        requests: probes.len(),
        failed: probes.iter().filter(|p| !p.ok).count(),
        longest_failure: failure_runs(probes)
            .iter()
            .map(|r| r.to - r.from)
            .max()
            .unwrap_or_default(),
        p50: percentile(&answered, 0.5),
        p99: percentile(&answered, 0.99),
    }
}

/// The nearest-rank percentile of sorted durations (zero when there are none).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

impl std::fmt::Display for Summary {
    /// `150 requests, 0 failed, longest failure 0.0 s, p50 45 ms, p99 120 ms`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests, {} failed, longest failure {:.1} s, p50 {} ms, p99 {} ms",
            self.requests,
            self.failed,
            self.longest_failure.as_secs_f64(),
            self.p50.as_millis(),
            self.p99.as_millis()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(at_ms: u64, ok: bool, took_ms: u64) -> Probe {
        Probe {
            at: Duration::from_millis(at_ms),
            ok,
            took: Duration::from_millis(took_ms),
        }
    }

    #[test]
    fn runs_of_failures_end_at_the_next_success_or_the_last_failure() {
        let probes = [
            probe(0, true, 100),
            probe(300, false, 3000),
            probe(3500, false, 3000),
            probe(6700, true, 200),
            probe(7100, false, 1000),
        ];
        assert_eq!(
            failure_runs(&probes),
            [
                FailureRun {
                    from: Duration::from_millis(300),
                    to: Duration::from_millis(6700),
                    failed: 2
                },
                FailureRun {
                    from: Duration::from_millis(7100),
                    to: Duration::from_millis(8100),
                    failed: 1
                },
            ]
        );
        let summary = summarize(&probes);
        assert_eq!(
            summary.to_string(),
            "5 requests, 3 failed, longest failure 6.4 s, p50 200 ms, p99 200 ms"
        );
    }
}
