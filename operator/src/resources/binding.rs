//! Services name `Secret` and `Config` resources; swarm knows versions of them, objects
//! named `<name>-<hash8>`. Binding writes each such reference as a version (the file
//! keeps the resource's name, so the application never sees the hash). Desired-state is
//! bound once loaded, to the versions its data makes (so a new content is a new spec of
//! every service using it); planning binds what is left, a resource whose data cannot
//! be read, to the version in use (`plan::bind`). Pure.

use std::collections::HashMap;

use super::service::{ConfigRef, SecretRef, ServiceSpec};
use super::{Desired, Kind, Spec};

/// The swarm object each Secret and Config resource stands for, by kind and name.
pub type Versions = HashMap<(Kind, String), String>;

/// The versions the data of `desired` makes (none for data not read).
pub fn versions(desired: &Desired) -> Versions {
    desired
        .data()
        .filter_map(|(resource, spec)| {
            let object = spec.resolved.object_name(resource.name())?;
            Some(((resource.kind(), resource.name().to_string()), object))
        })
        .collect()
}

/// Binds every service of `desired` to `versions`.
pub fn bind_services(desired: &mut Desired, versions: &Versions) {
    for resource in &mut desired.resources {
        if let Spec::Service(spec) = &mut resource.spec {
            bind_service(spec, versions);
        }
    }
}

/// Binds one service's references to `versions`; references to anything else (a
/// secret made by hand, a version already) stay as they are.
pub fn bind_service(spec: &mut ServiceSpec, versions: &Versions) {
    let version = |kind: Kind, name: &str| versions.get(&(kind, name.to_string())).cloned();
    // A variable naming a Secret resource needs the file mounted under the resource's
    // name: the mount says so explicitly, since its source becomes the version.
    for var in &spec.env {
        if let Some(secret) = var.secret_file.as_deref()
            && version(Kind::Secret, secret).is_some()
            && !spec.secrets.iter().any(|s| s.source == secret)
        {
            spec.secrets.push(SecretRef {
                source: secret.to_string(),
                target: None,
                uid: None,
                gid: None,
                mode: None,
            });
        }
    }
    for secret in &mut spec.secrets {
        if let Some(object) = version(Kind::Secret, &secret.source) {
            let name = std::mem::replace(&mut secret.source, object);
            secret.target.get_or_insert(name);
        }
    }
    for var in &mut spec.env {
        if let Some(secret) = var.secret_file.as_mut()
            && let Some(object) = version(Kind::Secret, secret)
        {
            *secret = object;
        }
    }
    for config in &mut spec.configs {
        bind_config(config, version(Kind::Config, &config.source));
    }
}

fn bind_config(config: &mut ConfigRef, object: Option<String>) {
    if let Some(object) = object {
        config.target = Some(config.target_path());
        config.source = object;
    }
}
