//! The modules keep the one-way flow of lib.rs's map: no module imports one of a layer
//! above its own. Read from the sources: every `crate::` path outside test code is
//! resolved to the longest module prefix in LAYERS below.

use std::path::{Path, PathBuf};

/// Upper to lower, as lib.rs draws them.
const ORDER: [&str; 11] = [
    "commands",
    "controller",
    "agent",
    "apply",
    "plan",
    "diff",
    "observe",
    "adapters",
    "source",
    "resources",
    "diagnostics",
];

/// Module path prefix -> layer; the longest prefix wins.
const LAYERS: [(&str, &str); 28] = [
    ("commands", "commands"),
    ("controller", "controller"),
    ("agent", "agent"),
    ("agent::report", "adapters"),
    ("swarm", "adapters"),
    ("swarm::apply", "apply"),
    ("swarm::wait", "apply"),
    ("swarm::force", "apply"),
    ("swarm::render", "diff"),
    ("swarm::keep", "diff"),
    ("gluster", "adapters"),
    ("gluster::apply", "apply"),
    ("plan", "plan"),
    ("heal", "plan"),
    ("diff", "diff"),
    ("observe", "observe"),
    ("source", "source"),
    ("schema", "source"),
    ("resources", "resources"),
    ("diagnostics", "diagnostics"),
    ("lib", "commands"),
    ("main", "commands"),
    ("swarm::engine", "adapters"),
    ("gluster::ops", "adapters"),
    ("host", "adapters"),
    ("import", "plan"),
    // The doctor reads the world (through the agents, the engine and gluster) as observe
    // does; the probes' wire types and local runs are an adapter of the agent.
    ("doctor", "observe"),
    ("agent::probe", "adapters"),
];

fn rank(module: &str) -> usize {
    let layer = LAYERS
        .iter()
        .filter(|(prefix, _)| module == *prefix || module.starts_with(&format!("{prefix}::")))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, layer)| *layer)
        .unwrap_or_else(|| panic!("module {module} has no layer: add it to LAYERS"));
    ORDER.iter().position(|l| *l == layer).unwrap()
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // Unit tests (`tests.rs`, or a `tests/` directory of them) may use any layer.
        if path.is_dir() && !path.ends_with("tests") {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
            found.push(path);
        }
    }
}

/// `controller::decide` for src/controller/decide.rs.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<&str> = relative.iter().map(|p| p.to_str().unwrap()).collect();
    let parts = match parts.split_last() {
        Some((&"mod", rest)) => rest,
        _ => &parts[..],
    };
    parts.join("::")
}

/// The `crate::a::b` paths of production code in `text` (test modules cut off); a group
/// `crate::a::{b, c::d}` gives `a::b` and `a::c::d`.
fn crate_paths(text: &str) -> Vec<String> {
    let production = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    let path_end = |s: &str| {
        s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(s.len())
    };
    let mut paths = Vec::new();
    for (at, _) in production.match_indices("crate::") {
        let rest = &production[at + "crate::".len()..];
        let path = &rest[..path_end(rest)];
        let Some(group) = path
            .strip_suffix("::")
            .filter(|_| rest[path.len()..].starts_with('{'))
        else {
            paths.push(path.trim_end_matches(':').to_string());
            continue;
        };
        let inside = &rest[path.len() + 1..rest.find('}').unwrap_or(rest.len())];
        for item in inside.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let item = &item[..path_end(item)];
            if item == "self" {
                paths.push(group.to_string());
            } else {
                paths.push(format!("{group}::{item}"));
            }
        }
    }
    paths
}

#[test]
fn no_module_imports_one_of_an_upper_layer() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        for path in crate_paths(&text) {
            if rank(&path) < rank(&module) {
                upward.push(format!("{module} -> {path}"));
            }
        }
    }
    assert!(files.len() > 50, "{} source files found", files.len());
    assert_eq!(upward, Vec::<String>::new());
}

#[test]
fn the_check_sees_an_upward_import() {
    let text = "use crate::plan::Plan;\nfn f() { crate::controller::run(); }\n\
                use crate::swarm::{self, apply::Applier, labels};\n\
                #[cfg(test)]\nmod tests { use crate::commands::x; }\n";
    assert_eq!(
        crate_paths(text),
        [
            "plan::Plan",
            "controller::run",
            "swarm",
            "swarm::apply::Applier",
            "swarm::labels"
        ]
    );
    assert!(rank("controller::run") < rank("diff"));
    assert!(rank("swarm::apply") < rank("plan"));
    assert!(rank("swarm::labels") > rank("plan"));
}
