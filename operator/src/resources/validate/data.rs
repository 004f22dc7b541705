//! Rules for `Secret` and `Config` resources: exactly one source of data, a secret's value
//! never in git in the clear, paths that stay inside desired-state (or, for `fromFile`,
//! an absolute host path), names that leave room for the version suffix, and the configs
//! services mount.

use std::path::{Component, Path};

use super::Findings;
use crate::resources::data::{MAX_NAME, SourceKind};
use crate::resources::{DataSpec, Desired, Kind, Resource};

const SOURCES: &str = "file, fromFile, generate, sops or age";

pub(crate) fn check(desired: &Desired, findings: &mut Findings) {
    for (resource, spec) in desired.data() {
        check_source(resource, spec, findings);
        check_paths(resource, spec, findings);
        if resource.name().len() > MAX_NAME {
            findings.error(
                resource,
                "metadata.name",
                format!(
                    "a {}'s name has at most {MAX_NAME} characters: swarm names its versions \
                     NAME-xxxxxxxx, 64 at most",
                    resource.kind()
                ),
            );
        }
    }
    for (resource, service) in desired.services() {
        for (index, config) in service.configs.iter().enumerate() {
            if let Some(target) = &config.target
                && !target.starts_with('/')
            {
                findings.error(
                    resource,
                    &format!("spec.configs[{index}].target"),
                    format!("target {target:?} must be an absolute path in the container"),
                );
            }
        }
    }
}

fn check_source(resource: &Resource, spec: &DataSpec, findings: &mut Findings) {
    let sources = spec.sources();
    match sources.as_slice() {
        [] => findings.error(resource, "spec", format!("one of {SOURCES} is required")),
        [_] => {}
        [_, second, ..] => findings.error(
            resource,
            &format!("spec.{}", second.field()),
            format!("only one of {SOURCES} may be given"),
        ),
    }
    let kind = resource.kind();
    if kind == Kind::Secret && sources.contains(&SourceKind::File) {
        findings.error(
            resource,
            "spec.file",
            "a secret's value must not be kept in git in the clear: encrypt it (sops, age), \
             keep it on the host (fromFile) or let shoal generate it",
        );
    }
    if kind == Kind::Config && sources.contains(&SourceKind::Generate) {
        findings.error(
            resource,
            "spec.generate",
            "generate makes secret values: a config's data comes from a file",
        );
    }
    if let Some(generate) = &spec.generate
        && !(16..=4096).contains(&generate.length)
    {
        findings.error(
            resource,
            "spec.generate.length",
            format!("length {} is out of range: 16 to 4096", generate.length),
        );
    }
}

fn check_paths(resource: &Resource, spec: &DataSpec, findings: &mut Findings) {
    let in_tree = [
        ("spec.file", spec.file.as_deref()),
        (
            "spec.sops.file",
            spec.sops.as_ref().map(|s| s.file.as_str()),
        ),
        ("spec.age", spec.age.as_deref()),
    ];
    for (path, file) in in_tree {
        let Some(file) = file else { continue };
        let escapes = Path::new(file).components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        });
        if escapes {
            findings.error(
                resource,
                path,
                format!(
                    "{file:?} must be a path inside desired-state, relative to this file \
                     (for a file on the host, use fromFile)"
                ),
            );
        }
    }
    if let Some(host) = &spec.from_file
        && !host.is_absolute()
    {
        findings.error(
            resource,
            "spec.fromFile",
            format!(
                "{:?} must be an absolute path on the host",
                host.display().to_string()
            ),
        );
    }
}
