//! The rules a desired-state must follow beyond its schema: names, references between
//! resources, sizes, constraints, storage layout, and secrets kept out of git.
//!
//! Every rule reports through [`Findings`], which pins each message to the field it is
//! about, so a rule never has to know about files or line numbers.

mod capacity;
mod cluster;
mod data;
mod depends;
mod names;
pub mod policy;
mod service;

use std::collections::HashMap;
use std::path::Path;

use crate::diagnostics::{Location, Problem};
use crate::resources::{Desired, Kind, Resource};
use policy::Policy;

/// Label keys starting with this prefix are shoal's own bookkeeping on swarm objects.
pub const RESERVED_LABEL_PREFIX: &str = "io.shoal.";

/// Collects problems about resources.
pub(crate) struct Findings {
    pub problems: Vec<Problem>,
}

impl Findings {
    pub fn error(&mut self, resource: &Resource, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::error(
            resource.origin.locate(path),
            Some(resource.id()),
            message,
        ));
    }

    pub fn warning(&mut self, resource: &Resource, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::warning(
            resource.origin.locate(path),
            Some(resource.id()),
            message,
        ));
    }
}

/// Checks a loaded desired-state against every rule. `dir` is where it was loaded from
/// (named in the warning about an empty directory).
pub fn validate(desired: &Desired, policy: &Policy, dir: &Path) -> Vec<Problem> {
    let mut findings = Findings {
        problems: Vec::new(),
    };
    if desired.document_count == 0 {
        findings.problems.push(Problem::warning(
            Location::new(dir, 0, 0),
            None,
            "no resources found: applying this desired-state manages nothing",
        ));
    }
    check_unique_names(desired, &mut findings);
    for resource in &desired.resources {
        check_name(resource, &mut findings);
        check_annotations(resource, &mut findings);
    }
    service::check(desired, policy, &mut findings);
    data::check(desired, &mut findings);
    depends::check(desired, &mut findings);
    cluster::check(desired, &mut findings);
    capacity::check(desired, &mut findings);
    findings.problems
}

fn check_unique_names(desired: &Desired, findings: &mut Findings) {
    let mut seen: HashMap<(Kind, &str), &Resource> = HashMap::new();
    for resource in &desired.resources {
        match seen.get(&(resource.kind(), resource.name())) {
            Some(first) => findings.error(
                resource,
                "metadata.name",
                format!(
                    "duplicate name: {} is already defined at {}",
                    first.id(),
                    first.origin.locate("metadata.name")
                ),
            ),
            None => {
                seen.insert((resource.kind(), resource.name()), resource);
            }
        }
    }
}

/// Swarm object names are DNS labels (letters, digits, `-` and `_` inside); node names are
/// hostnames, which may also have dots.
fn check_name(resource: &Resource, findings: &mut Findings) {
    let name = resource.name();
    let inner_ok = |c: char| {
        c.is_ascii_alphanumeric()
            || c == '-'
            || c == '_'
            || (c == '.' && resource.kind() == Kind::Node)
    };
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(inner_ok);
    if !valid {
        findings.error(
            resource,
            "metadata.name",
            format!(
                "invalid name {name:?}: use 1 to 63 letters, digits, '-' or '_', starting and \
                 ending with a letter or digit"
            ),
        );
    }
}

/// Annotations under `shoal.io/` tune shoal: a misspelt one must not be ignored silently.
fn check_annotations(resource: &Resource, findings: &mut Findings) {
    for (key, value) in &resource.metadata.annotations {
        let path = format!("metadata.annotations.{key}");
        match key.as_str() {
            "shoal.io/drift" if value != "enforce" && value != "report" => findings.error(
                resource,
                &path,
                format!(
                    "drift policy {value:?}: use enforce (correct drift) or report (only report it)"
                ),
            ),
            "shoal.io/drift" => {}
            "shoal.io/adopt" if !matches!(resource.kind(), Kind::Service | Kind::Network) => {
                findings.error(
                    resource,
                    &path,
                    "shoal.io/adopt applies to Services and Networks only",
                )
            }
            "shoal.io/adopt" if value != "true" && value != "false" => findings.error(
                resource,
                &path,
                format!(
                    "adopt {value:?}: use \"true\" (take over the live object of this name) \
                     or \"false\""
                ),
            ),
            "shoal.io/adopt" => {}
            "shoal.io/rebalance" if resource.kind() != Kind::Service => findings.error(
                resource,
                &path,
                "shoal.io/rebalance applies to Services only (it moves their tasks)",
            ),
            "shoal.io/rebalance" if value != "auto" && value != "off" => findings.error(
                resource,
                &path,
                format!(
                    "rebalance policy {value:?}: use auto (even out tasks after a node \
                     returns) or off (leave them where swarm put them)"
                ),
            ),
            "shoal.io/rebalance" => {}
            other if other.starts_with("shoal.io/") => findings.error(
                resource,
                &path,
                format!(
                    "unknown annotation {other:?}: shoal knows shoal.io/drift and \
                     shoal.io/rebalance"
                ),
            ),
            _ => {}
        }
    }
}

/// Reports labels that would collide with shoal's own bookkeeping labels.
pub(crate) fn check_labels<'a>(
    resource: &Resource,
    path: &str,
    labels: impl IntoIterator<Item = &'a String>,
    findings: &mut Findings,
) {
    for key in labels {
        if key.starts_with(RESERVED_LABEL_PREFIX) {
            findings.error(
                resource,
                &format!("{path}.{key}"),
                format!(
                    "label {key:?}: the prefix {RESERVED_LABEL_PREFIX:?} is reserved for shoal"
                ),
            );
        } else if key.trim().is_empty() {
            findings.error(resource, path, "a label key is empty");
        }
    }
}

/// `0755`-style permission bits.
pub(crate) fn is_octal_mode(mode: &str) -> bool {
    (3..=4).contains(&mode.len()) && mode.chars().all(|c| ('0'..='7').contains(&c))
}

#[cfg(test)]
mod tests;
