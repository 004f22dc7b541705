//! `shoal run` managing 1,000 services in the lab (replicas 0, so the lab's engines hold
//! them): the full reconcile pass after start and after a resync (time, and the engine
//! calls it made, counted by a proxy on the engine's socket), the operator's memory and
//! idle CPU, and drift-correction latency over many rounds. A benchmark, never a test:
//! figures go to bench/RESULTS.md.
//!
//! `cargo bench -p shoal-tests --bench scale` (needs root; brings the lab up; runs the
//! release build). SERVICES=1000 and ROUNDS=50 by default.

use std::path::Path;
use std::time::{Duration, Instant};

use shoal_tests::bench::{Spread, cpu_time, memory_kib, use_release_build};
use shoal_tests::counting_proxy::{CountingProxy, Counts};
use shoal_tests::operator::Operator;
use shoal_tests::probe::percentile;
use shoal_tests::{lab, lab_dir, stderr};

/// Resync period: long enough for a quiet minute after the first pass.
const RESYNC: &str = "3m";

fn main() {
    let services: usize = env_number("SERVICES", 1000);
    let rounds: usize = env_number("ROUNDS", 50);
    use_release_build();
    // Built now, not inside the timed apply.
    shoal_tests::shoal_bin();
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    let desired = dir.path().join("desired");
    write_services(&desired, services);

    let started = Instant::now();
    let created = lab.shoal(&[
        "apply",
        "--no-wait",
        "--no-agents",
        desired.to_str().unwrap(),
    ]);
    assert!(
        created.status.success(),
        "shoal apply: {}",
        stderr(&created)
    );
    println!(
        "shoal apply created {services} services in {:.1?}",
        started.elapsed()
    );

    let proxy = CountingProxy::start(
        &lab_dir().join("node1/docker.sock"),
        &dir.path().join("engine.sock"),
    );
    let started = Instant::now();
    let operator = lab.start_operator_with(
        19880,
        &dir.path().join("run.log"),
        &[
            "--no-agents",
            "--resync",
            RESYNC,
            "--lease-name",
            "shoal-lease-scale",
            desired.to_str().unwrap(),
        ],
        &[("DOCKER_HOST", &proxy.docker_host())],
    );
    let pass = Pass::measure(&operator, &proxy, 0, services as u64);
    println!(
        "full pass after start ({:.1?} after the process started): {pass}",
        pass.first_reconcile - started
    );

    let pid = operator.child.id();
    let (cpu, calls) = (cpu_time(pid), proxy.counts());
    std::thread::sleep(Duration::from_secs(60));
    println!(
        "idle minute: CPU {:.0?}, engine calls {}; RSS {} KiB, peak {} KiB",
        cpu_time(pid) - cpu,
        format_counts(&difference(&proxy.counts(), &calls)),
        memory_kib(pid, "VmRSS"),
        memory_kib(pid, "VmHWM"),
    );

    let resync = Pass::measure(&operator, &proxy, services as u64, services as u64);
    println!("full pass after a resync: {resync}");

    let latencies = drift_rounds(&lab, &operator, services, rounds);
    let mut sorted = latencies.clone();
    sorted.sort();
    println!(
        "drift correction over {rounds} rounds: {} (min / median / max), p50 {:.0?}, p99 {:.0?}",
        Spread::of(&latencies),
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.99),
    );
    println!(
        "after all: RSS {} KiB, peak {} KiB",
        memory_kib(pid, "VmRSS"),
        memory_kib(pid, "VmHWM")
    );
    assert_eq!(
        operator.terminate(),
        Some(0),
        "shoal run did not stop cleanly"
    );
}

/// One full reconcile pass, seen from outside: from the first reconcile to the last;
/// the observations and engine calls from the keys' queueing (before the debounce) on.
struct Pass {
    first_reconcile: Instant,
    took: Duration,
    observations: u64,
    calls: Counts,
}

impl Pass {
    /// Waits for the keys to be queued (or, `from` 0, counts from the operator's start),
    /// then for the reconcile count to pass `from`, then for `resources` more.
    fn measure(operator: &Operator, proxy: &CountingProxy, from: u64, resources: u64) -> Pass {
        let deadline = Instant::now() + Duration::from_secs(600);
        let reconciles = || metric(operator, "shoal_reconciles_total{");
        while from > 0 && metric(operator, "shoal_queue_depth") == 0 && reconciles() <= from {
            assert!(Instant::now() < deadline, "nothing was queued");
            std::thread::sleep(Duration::from_millis(5));
        }
        let (observations, calls) = match from {
            0 => (0, Counts::new()),
            _ => (metric(operator, "shoal_observations_total"), proxy.counts()),
        };
        while reconciles() <= from {
            assert!(Instant::now() < deadline, "no reconcile pass began");
            std::thread::sleep(Duration::from_millis(20));
        }
        let first_reconcile = Instant::now();
        while reconciles() < from + resources {
            assert!(Instant::now() < deadline, "the pass did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
        Pass {
            first_reconcile,
            took: first_reconcile.elapsed(),
            observations: metric(operator, "shoal_observations_total") - observations,
            calls: difference(&proxy.counts(), &calls),
        }
    }
}

impl std::fmt::Display for Pass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2?}, {} observations, engine calls {}",
            self.took,
            self.observations,
            format_counts(&self.calls)
        )
    }
}

/// Scales one managed service by hand per round and times the operator's correction
/// (the DriftCorrected event about it).
fn drift_rounds(
    lab: &shoal_tests::Lab,
    operator: &Operator,
    services: usize,
    rounds: usize,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for round in 0..rounds {
        let name = service_name(round * 17 % services + 1);
        let resource = format!("Service/{name}");
        let corrected = |o: &Operator| {
            o.event("DriftCorrected", Some(&resource))
                .and_then(|e| e["count"].as_u64())
                .unwrap_or(0)
        };
        let before = corrected(operator);
        lab.docker(&["service", "scale", "--detach", &format!("{name}=1")]);
        let scaled = Instant::now();
        while corrected(operator) == before {
            assert!(
                scaled.elapsed() < Duration::from_secs(60),
                "{name}: no correction"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        latencies.push(scaled.elapsed());
        std::thread::sleep(Duration::from_secs(1));
    }
    latencies
}

fn service_name(i: usize) -> String {
    format!("scale-{i:04}")
}

fn write_services(dir: &Path, services: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 1..=services {
        let name = service_name(i);
        let text = format!(
            "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  image: lab/web:1\n  replicas: 0\n  env:\n    - name: INDEX\n      value: \"{i}\"\n  resources:\n    limits:\n      memory: 16M\n"
        );
        std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
    }
}

/// The sum of a metric's samples whose line starts with `prefix`.
fn metric(operator: &Operator, prefix: &str) -> u64 {
    let (_, text) = operator.get("/metrics");
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn difference(after: &Counts, before: &Counts) -> Counts {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn format_counts(counts: &Counts) -> String {
    let total: u64 = counts.values().sum();
    let each: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("{total} ({})", each.join(", "))
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: {v} is not a number"))
        })
        .unwrap_or(default)
}
