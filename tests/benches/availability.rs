//! Whether the example platform keeps answering through a worker's crash and return, as
//! a visitor sees it: one request at a time through the load balancer (node1's host-mode
//! port 80), a 3 s timeout, 200 ms apart, while the worker that runs `http` and `php-fpm`
//! tasks crashes and comes back. A benchmark, never a timed assertion.
//!
//! `cargo bench -p shoal-tests --bench availability`. Runs `deploy/run-example` first (the
//! README's main job: the example under `shoal run`, with its agents), unless SKIP_EXAMPLE
//! is set and it already runs. Phases: BEFORE (30 s), DURING (from `lab crash NODE` to
//! `lab restore NODE`, 90 s), AFTER (150 s: the node's return, the heal, the rebalance).
//! For each: requests, failed ones (any answer but 200, or none within 3 s), the longest
//! run of failures in seconds, and latency p50/p99 of the answered ones. PATH (default
//! `/`, WordPress's first page) is what is asked for.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shoal_tests::repo_root;

const TARGET: &str = "http://10.213.0.11";
const TIMEOUT: Duration = Duration::from_secs(3);
const PAUSE: Duration = Duration::from_millis(200);

/// One probe: when it started (since the probe began), whether it got a 200, how long.
#[derive(Clone, Copy, Debug)]
struct Probe {
    at: Duration,
    ok: bool,
    took: Duration,
}

fn lab(args: &[&str]) -> String {
    let output = Command::new(repo_root().join("deploy/lab/lab"))
        .args(args)
        .output()
        .expect("deploy/lab/lab runs");
    assert!(
        output.status.success(),
        "lab {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn docker(args: &[&str]) -> String {
    let mut full = vec!["exec", "node1", "--", "docker"];
    full.extend_from_slice(args);
    lab(&full)
}

/// A worker running a task of both `http` and `php-fpm` (the example spreads them over
/// all three nodes, one per node, so one of node2 and node3 does).
fn worker_with_tasks() -> String {
    let nodes = |service: &str| {
        docker(&[
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}}",
        ])
    };
    let (http, php) = (nodes("http"), nodes("php-fpm"));
    ["node2", "node3"]
        .into_iter()
        .find(|n| http.lines().any(|l| l == *n) && php.lines().any(|l| l == *n))
        .expect("a worker with a task of http and of php-fpm")
        .to_string()
}

fn probe(path: String, stop: Arc<AtomicBool>, probes: Arc<Mutex<Vec<Probe>>>) {
    let client = reqwest::blocking::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .unwrap();
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let began = Instant::now();
        let ok = client
            .get(format!("{TARGET}{path}"))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.bytes())
            .is_ok();
        probes.lock().unwrap().push(Probe {
            at: began - start,
            ok,
            took: began.elapsed(),
        });
        std::thread::sleep(PAUSE);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `BEFORE  150 requests, 0 failed, longest failure 0.0 s, p50 45 ms, p99 120 ms`
fn report(phase: &str, probes: &[Probe]) {
    let failed = probes.iter().filter(|p| !p.ok).count();
    let (mut longest, mut run_start) = (Duration::ZERO, None);
    for p in probes {
        match (p.ok, run_start) {
            (false, None) => run_start = Some(p.at),
            (true, Some(started)) => {
                longest = longest.max(p.at - started);
                run_start = None;
            }
            _ => {}
        }
    }
    if let (Some(started), Some(last)) = (run_start, probes.last()) {
        longest = longest.max(last.at + last.took - started);
    }
    let mut answered: Vec<Duration> = probes.iter().filter(|p| p.ok).map(|p| p.took).collect();
    answered.sort();
    println!(
        "{phase:<7} {} requests, {failed} failed, longest failure {:.1} s, p50 {} ms, p99 {} ms",
        probes.len(),
        longest.as_secs_f64(),
        percentile(&answered, 0.5).as_millis(),
        percentile(&answered, 0.99).as_millis(),
    );
}

fn main() {
    if std::env::var_os("SKIP_EXAMPLE").is_none() {
        let status = Command::new(repo_root().join("deploy/run-example"))
            .status()
            .expect("deploy/run-example runs");
        assert!(status.success(), "deploy/run-example failed");
    }
    let path = std::env::var("PATH_PROBED").unwrap_or_else(|_| "/".into());
    let node = worker_with_tasks();
    println!("probing {TARGET}{path}; crashing {node}, which runs http and php-fpm tasks");
    let stop = Arc::new(AtomicBool::new(false));
    let probes = Arc::new(Mutex::new(Vec::new()));
    let prober = {
        let (stop, probes) = (stop.clone(), probes.clone());
        std::thread::spawn(move || probe(path, stop, probes))
    };
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(30));
    let crashed = start.elapsed();
    lab(&["crash", &node]);
    std::thread::sleep(Duration::from_secs(90));
    let restored = start.elapsed();
    lab(&["restore", &node]);
    std::thread::sleep(Duration::from_secs(150));
    stop.store(true, Ordering::Relaxed);
    prober.join().unwrap();
    let probes = probes.lock().unwrap();
    let phase = |from: Duration, to: Duration| -> Vec<Probe> {
        probes
            .iter()
            .filter(|p| p.at >= from && p.at < to)
            .copied()
            .collect()
    };
    report("BEFORE", &phase(Duration::ZERO, crashed));
    report("DURING", &phase(crashed, restored));
    report("AFTER", &phase(restored, Duration::MAX));
    // Each run of failures, in seconds since the probe began (the crash at BEFORE's end).
    let mut run: Option<(Duration, usize)> = None;
    for p in probes.iter() {
        match (p.ok, run) {
            (false, None) => run = Some((p.at, 1)),
            (false, Some((from, n))) => run = Some((from, n + 1)),
            (true, Some((from, n))) => {
                println!(
                    "  {n} failed from {:.1} s to {:.1} s (crash at {:.1} s, restore at {:.1} s)",
                    from.as_secs_f64(),
                    p.at.as_secs_f64(),
                    crashed.as_secs_f64(),
                    restored.as_secs_f64()
                );
                run = None;
            }
            (true, None) => {}
        }
    }
}
