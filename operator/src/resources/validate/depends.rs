//! Rules for `dependsOn`: each entry is `Kind/name` of a resource desired-state has, never
//! the service itself, and services never wait on each other in a circle (no order would
//! ever start).

use std::collections::{HashMap, HashSet};

use super::Findings;
use crate::resources::{Desired, Kind};

pub(crate) fn check(desired: &Desired, findings: &mut Findings) {
    for (resource, spec) in desired.services() {
        for (index, reference) in spec.depends_on.iter().enumerate() {
            let path = format!("spec.dependsOn[{index}]");
            let parsed = reference
                .split_once('/')
                .and_then(|(kind, name)| Some((Kind::parse(kind)?, name)));
            let Some((kind, name)) = parsed else {
                let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                findings.error(
                    resource,
                    &path,
                    format!(
                        "{reference:?}: write Kind/name, Kind one of {}",
                        kinds.join(", ")
                    ),
                );
                continue;
            };
            if kind == Kind::Service && name == resource.name() {
                findings.error(resource, &path, "a service cannot depend on itself");
            } else if desired.find(kind, name).is_none() {
                findings.error(
                    resource,
                    &path,
                    format!("{reference} is not in desired-state"),
                );
            }
        }
    }
    check_cycles(desired, findings);
}

/// A circle of services waiting on each other is reported once, at the service where
/// it is found first (in file order).
fn check_cycles(desired: &Desired, findings: &mut Findings) {
    let edges: HashMap<&str, Vec<&str>> = desired
        .services()
        .map(|(r, spec)| {
            let services = spec
                .depends_on
                .iter()
                .filter_map(|d| d.strip_prefix("Service/"))
                .filter(|d| *d != r.name())
                .collect();
            (r.name(), services)
        })
        .collect();
    let mut reported: HashSet<&str> = HashSet::new();
    for (resource, _) in desired.services() {
        if reported.contains(resource.name()) {
            continue;
        }
        if let Some(circle) = circle_from(resource.name(), &edges) {
            reported.extend(circle.iter().copied());
            let path: Vec<String> = circle.iter().map(|s| format!("Service/{s}")).collect();
            findings.error(
                resource,
                "spec.dependsOn",
                format!(
                    "dependsOn goes round in a circle: {} -> Service/{}",
                    path.join(" -> "),
                    circle[0]
                ),
            );
        }
    }
}

/// The services of a circle back to `start`, in order, if there is one.
fn circle_from<'a>(start: &'a str, edges: &HashMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    // Depth-first, with the path so far; the graph is tiny (a platform's services).
    fn walk<'a>(
        at: &'a str,
        start: &'a str,
        edges: &HashMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
    ) -> bool {
        for next in edges.get(at).into_iter().flatten() {
            if *next == start {
                return true;
            }
            if path.contains(next) {
                continue;
            }
            path.push(next);
            if walk(next, start, edges, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![start];
    walk(start, start, edges, &mut path).then_some(path)
}
