//! How long `shoal run` takes from someone's `docker service scale` to the service set
//! back, in the lab: the detection-to-correction latency the drift issue asks to measure
//! (a benchmark, never a timed assertion). Needs root and the lab (it brings it up).
//!
//! `cargo bench -p shoal-tests --bench drift_latency` (ROUNDS=N to change the count, 50
//! by default; DEBOUNCE=100ms to run the operator with another `--debounce`). The
//! operator is the release build.
//! Each round scales `web` from 2 to 5 with the docker CLI and polls the operator's
//! /api/v1/events every 10 ms until the DriftCorrected event counts one more; the time
//! from the scale command's return to that poll is the latency. The operator runs with
//! its default 500 ms debounce unless DEBOUNCE says otherwise: the debounce is part of
//! every figure.

use std::time::{Duration, Instant};

use shoal_tests::bench::use_release_build;
use shoal_tests::lab;
use shoal_tests::probe::percentile;

const WEB: &str = shoal_tests::WEB_SERVICE;

fn corrected_count(operator: &shoal_tests::operator::Operator) -> u64 {
    operator
        .event("DriftCorrected", Some("Service/web"))
        .and_then(|e| e["count"].as_u64())
        .unwrap_or(0)
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    use_release_build();
    let lab = lab();
    lab.reset();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("web.yaml"), WEB).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let debounce = std::env::var("DEBOUNCE").unwrap_or_else(|_| "500ms".into());
    let operator = lab.start_operator(
        19860,
        &logs.path().join("run.log"),
        &[
            "--no-agents",
            "--debounce",
            &debounce,
            "--lease-name",
            "shoal-lease-bench",
            "--lease-ttl",
            "6s",
            dir.path().to_str().unwrap(),
        ],
    );
    operator.wait_for("web synced", Duration::from_secs(120), |o| {
        let web = o.resource("Service", "web");
        (web["sync"] == "Synced" && web["health"] == "Healthy").then_some(())
    });
    let mut latencies = Vec::new();
    for _ in 0..rounds {
        let before = corrected_count(&operator);
        lab.docker(&["service", "scale", "--detach", "web=5"]);
        let scaled = Instant::now();
        while corrected_count(&operator) == before {
            assert!(
                scaled.elapsed() < Duration::from_secs(60),
                "no correction in 60 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        latencies.push(scaled.elapsed());
        // Let the tasks settle before the next round.
        std::thread::sleep(Duration::from_secs(2));
    }
    latencies.sort();
    let ms = |p: f64| percentile(&latencies, p).as_secs_f64() * 1000.0;
    println!(
        "drift detection to correction over {rounds} rounds (debounce {debounce}): min {:.0} ms, p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        ms(0.0),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(1.0),
    );
    assert_eq!(operator.terminate(), Some(0));
    let _ = lab.docker_unchecked(&["config", "rm", "shoal-lease-bench"]);
}
