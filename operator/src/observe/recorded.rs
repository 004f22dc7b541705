//! The engine answers recorded from the lab's engines by tests/fixtures/record, one set per
//! engine version the lab runs (tests/fixtures/engine/<engine>/): the pure tests read
//! each set, so an answer that differs between engines shows as a failing test.

use std::path::PathBuf;

use bollard::models::EventMessage;

use super::live::Live;

/// Every engine with a recorded set: Debian 12's 20.10 (API 1.41) and Docker 28 (1.51).
pub const ENGINES: [&str; 2] = ["20.10", "28"];

/// The engine the lab runs by default, for tests that need one set only.
pub const CURRENT: &str = "28";

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

pub fn engine_dir(engine: &str) -> PathBuf {
    fixtures().join("engine").join(engine)
}

/// The swarm as recorded: `applied` right after `shoal apply` of tests/fixtures/lab-desired,
/// `drifted` after `docker service update --env-add EXTRA=1 --replicas 3 web` and a
/// service created by hand.
pub fn live(engine: &str, name: &str) -> Live {
    Live::from_recorded(&engine_dir(engine).join(name))
        .unwrap_or_else(|e| panic!("engine {engine}, {name}: {e}"))
}

/// The engine events recorded meanwhile: one of each kind shoal maps (events.jsonl).
pub fn events(engine: &str) -> Vec<EventMessage> {
    let text = std::fs::read_to_string(engine_dir(engine).join("events.jsonl")).unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
