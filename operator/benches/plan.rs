//! Benchmark of the pure middle of the pipeline: observed engine state read back, diffed
//! and planned, for growing numbers of services. Inputs are the recorded lab fixtures
//! (tests/fixtures/engine/28/applied), each service cloned N times under new names, so the
//! engine JSON is real. Run with `cargo bench -p shoal --bench plan`; the method and
//! figures are in bench/RESULTS.md.

use std::path::PathBuf;
use std::time::Instant;

use shoal::observe::live::Live;
use shoal::plan;
use shoal::resources::{Desired, Spec};
use shoal::source::validate::{ValidateOptions, validate_dir};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Desired and live with every service cloned `copies` times (`web-0`, `web-1`...).
fn scaled(copies: usize) -> (Desired, Live) {
    let base = validate_dir(&fixtures().join("lab-desired"), &ValidateOptions::default())
        .expect("fixtures load")
        .desired;
    let recorded =
        Live::from_recorded(&fixtures().join("engine/28/applied")).expect("fixtures load");
    let mut desired = Desired {
        resources: base
            .resources
            .iter()
            .filter(|r| !matches!(r.spec, Spec::Service(_)))
            .cloned()
            .collect(),
        ..base.clone()
    };
    let mut live = Live {
        services: Vec::new(),
        ..recorded.clone()
    };
    for copy in 0..copies {
        for resource in base
            .resources
            .iter()
            .filter(|r| matches!(r.spec, Spec::Service(_)))
        {
            let mut clone = resource.clone();
            let name = format!("{}-{copy}", resource.metadata.name);
            clone.metadata.name = name.clone();
            desired.resources.push(clone);
            let mut service = recorded
                .service(&resource.metadata.name)
                .expect("recorded service")
                .clone();
            let spec = service.spec.as_mut().unwrap();
            spec.name = Some(name.clone());
            spec.labels
                .as_mut()
                .unwrap()
                .insert("io.shoal.resource".into(), name);
            live.services.push(service);
        }
    }
    (desired, live)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    println!("services  plans  per plan     per service  changes  peak RSS");
    for copies in [5, 50, 500] {
        let (desired, live) = scaled(copies);
        let services = desired.services().count();
        // Warm up, and check the clones plan to nothing: a plan that found changes would
        // measure something else.
        let first = plan::plan(&desired, &live);
        let rounds = (2000 / services).max(3);
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(plan::plan(&desired, &live));
        }
        let per_plan = started.elapsed() / rounds as u32;
        println!(
            "{services:>8}  {rounds:>5}  {:>9.3} ms  {:>8.1} µs  {:>7}  {:>5} MiB",
            per_plan.as_secs_f64() * 1e3,
            per_plan.as_secs_f64() * 1e6 / services as f64,
            first.changes.len(),
            peak_rss_kib() / 1024
        );
    }
}
