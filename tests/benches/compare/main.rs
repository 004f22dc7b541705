//! shoal against `docker stack deploy`, side by side in one run on the lab: the same
//! services (specs.rs) converged from nothing, re-sent unchanged, changed in one field
//! each, and removed, by every tool in turn (tools.rs), over several rounds whose tool
//! order rotates, each step timed to the same condition read from the engine (swarm.rs).
//! A benchmark, never a test: figures go to bench/RESULTS.md.
//!
//! `cargo bench -p shoal-tests --bench compare` (needs root; brings the lab up; runs the
//! release build). SIZES=10,40,100 and ROUNDS=3 by default; TOOLS=stack,stack-prune,
//! apply,run,floor (all by default) picks tools.

mod specs;
mod swarm;
mod tools;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shoal_tests::bench::{Spread, use_release_build};
use shoal_tests::engine_api::EngineApi;
use shoal_tests::{Lab, lab};

use tools::{Session, Tool};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Converge,
    NoOp,
    Change,
    Remove,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Converge => "converge from nothing",
            Step::NoOp => "no-op re-run",
            Step::Change => "change one field in every service",
            Step::Remove => "remove everything",
        }
    }
}

/// What one step of one round measured.
#[derive(Default)]
struct Figures {
    /// Until the tool's command returned (`shoal run`: the files written).
    returned: Vec<Duration>,
    /// Until the swarm is in the step's end state (a no-op: the tool is done with it).
    done: Vec<Duration>,
    /// Services whose version moved (no-op only).
    writes: Vec<usize>,
}

type Results = BTreeMap<(usize, Step, Tool), Figures>;

const TIMEOUT: Duration = Duration::from_secs(600);

fn main() {
    let sizes = env_list("SIZES", "10,40,100");
    let rounds = env_list("ROUNDS", "3")[0];
    let tools = chosen_tools();
    use_release_build();
    // Built now, not inside the first timed step.
    shoal_tests::shoal_bin();
    let lab = lab();
    lab.reset();
    swarm::wait_for_idle_nodes();
    swarm::wait_for_no_overlays();
    let mut results = Results::new();
    for &size in &sizes {
        for round in 0..rounds {
            for i in 0..tools.len() {
                let tool = tools[(i + round) % tools.len()];
                eprintln!("size {size}, round {}, {}", round + 1, tool.name());
                one_round(&lab, tool, size, &mut results);
                // The services are gone; their containers stop at their own pace, and
                // the network can be removed only after them.
                swarm::wait_for_idle_nodes();
                lab.reset();
                swarm::wait_for_idle_nodes();
                swarm::wait_for_no_overlays();
            }
        }
    }
    print_tables(&sizes, &tools, &results);
}

fn one_round(lab: &Lab, tool: Tool, size: usize, results: &mut Results) {
    let api = EngineApi::node("node1");
    let session = Session::start(tool, lab, size);
    let mut record = |step: Step, returned: Duration, done: Duration, writes: Option<usize>| {
        let wrote = writes
            .map(|w| format!(", {w} services written"))
            .unwrap_or_default();
        eprintln!(
            "  {}: returned {returned:.2?}, done {done:.2?}{wrote}",
            step.name()
        );
        let figures = results.entry((size, step, tool)).or_default();
        figures.returned.push(returned);
        figures.done.push(done);
        figures.writes.extend(writes);
    };

    let started = Instant::now();
    session.deploy(1);
    let returned = started.elapsed();
    let done = swarm::wait_until("converge", started, TIMEOUT, || {
        swarm::converged(&api, size, 1)
    });
    record(Step::Converge, returned, done, None);

    if tool != Tool::EngineFloor {
        let before = swarm::versions(&api);
        let started = Instant::now();
        session.no_op();
        let done = started.elapsed();
        let writes = swarm::written(&before, &swarm::versions(&api));
        record(Step::NoOp, done, done, Some(writes));
    }

    let started = Instant::now();
    session.deploy(2);
    let returned = started.elapsed();
    let done = swarm::wait_until("change", started, TIMEOUT, || {
        swarm::converged(&api, size, 2)
    });
    record(Step::Change, returned, done, None);

    let started = Instant::now();
    session.remove();
    let returned = started.elapsed();
    let done = swarm::wait_until("removal", started, TIMEOUT, || swarm::removed(&api));
    record(Step::Remove, returned, done, None);
    session.finish();
}

fn print_tables(sizes: &[usize], tools: &[Tool], results: &Results) {
    println!(
        "| services | step | tool | returned (median) | done: min / median / max | done vs stack deploy | services written |"
    );
    println!("|---:|---|---|---:|---:|---:|---:|");
    for &size in sizes {
        for step in [Step::Converge, Step::NoOp, Step::Change, Step::Remove] {
            let baseline = results
                .get(&(size, step, Tool::StackDeploy))
                .map(|f| Spread::of(&f.done).median);
            for &tool in tools {
                let Some(figures) = results.get(&(size, step, tool)) else {
                    continue;
                };
                let done = Spread::of(&figures.done);
                let ratio = baseline
                    .filter(|b| !b.is_zero())
                    .map(|b| format!("{:.2}x", done.median.as_secs_f64() / b.as_secs_f64()))
                    .unwrap_or_else(|| "-".into());
                let writes = match figures.writes.as_slice() {
                    [] => "-".to_string(),
                    w => format!("{:?}", w),
                };
                println!(
                    "| {size} | {} | {} | {} | {done} | {ratio} | {writes} |",
                    step.name(),
                    tool.name(),
                    Spread::of(&figures.returned)
                        .median
                        .as_secs_f64()
                        .to_string_short(),
                );
            }
        }
    }
}

trait Short {
    fn to_string_short(self) -> String;
}

impl Short for f64 {
    /// Seconds with two decimals, or milliseconds below one second.
    fn to_string_short(self) -> String {
        if self < 1.0 {
            format!("{:.0} ms", self * 1000.0)
        } else {
            format!("{self:.2} s")
        }
    }
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: {v} is not a number"))
        })
        .collect()
}

/// TOOLS=apply,run keeps those tools (stack, stack-prune, apply, run, floor; all by
/// default).
fn chosen_tools() -> Vec<Tool> {
    let Ok(words) = std::env::var("TOOLS") else {
        return tools::ALL.to_vec();
    };
    let chosen: Vec<Tool> = tools::ALL
        .into_iter()
        .filter(|t| words.split(',').any(|w| t.key() == w.trim()))
        .collect();
    assert!(!chosen.is_empty(), "TOOLS={words} names no tool");
    chosen
}
