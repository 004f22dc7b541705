//! Services name `Secret` and `Config` resources; swarm knows versions of them, objects
//! named `<name>-<hash8>`. Binding writes each such reference as the version desired-state
//! now wants (the file keeps the resource's name, so the application never sees the
//! hash), and, when a resource's data cannot be read, as the newest version shoal made:
//! what runs keeps running. Everything after it (diff, render, apply) sees engine names.
//! Pure.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::observe::live::Live;
use crate::resources::service::{ConfigRef, SecretRef, ServiceSpec};
use crate::resources::{Desired, Kind, Spec};

use super::data;

/// `desired` with every service's references to Secret and Config resources bound to
/// swarm objects. Borrowed as it is when there are no such resources.
pub fn bind<'a>(desired: &'a Desired, live: &Live) -> Cow<'a, Desired> {
    if desired.data().next().is_none() {
        return Cow::Borrowed(desired);
    }
    let objects = versions(desired, live);
    let mut bound = desired.clone();
    for resource in &mut bound.resources {
        if let Spec::Service(spec) = &mut resource.spec {
            bind_service(spec, &objects);
        }
    }
    Cow::Owned(bound)
}

/// One service of `desired`, bound as [`bind`] binds them all.
pub fn bind_one<'a>(spec: &'a ServiceSpec, desired: &Desired, live: &Live) -> Cow<'a, ServiceSpec> {
    if desired.data().next().is_none() {
        return Cow::Borrowed(spec);
    }
    let mut bound = spec.clone();
    bind_service(&mut bound, &versions(desired, live));
    Cow::Owned(bound)
}

/// The version each Secret and Config resource stands for now.
fn versions(desired: &Desired, live: &Live) -> HashMap<(Kind, String), String> {
    desired
        .data()
        .filter_map(|(resource, spec)| {
            let (kind, name) = (resource.kind(), resource.name());
            let object = spec
                .resolved
                .object_name(name)
                .or_else(|| data::newest_version(live, kind, name).map(str::to_string))?;
            Some(((kind, name.to_string()), object))
        })
        .collect()
}

fn bind_service(spec: &mut ServiceSpec, objects: &HashMap<(Kind, String), String>) {
    let object = |kind: Kind, name: &str| objects.get(&(kind, name.to_string())).cloned();
    // A variable naming a Secret resource needs the file mounted under the resource's
    // name: the mount says so explicitly, since its source becomes the version.
    for var in &spec.env {
        if let Some(secret) = var.secret_file.as_deref()
            && object(Kind::Secret, secret).is_some()
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
        if let Some(version) = object(Kind::Secret, &secret.source) {
            let name = std::mem::replace(&mut secret.source, version);
            secret.target.get_or_insert(name);
        }
    }
    for var in &mut spec.env {
        if let Some(secret) = var.secret_file.as_mut()
            && let Some(version) = object(Kind::Secret, secret)
        {
            *secret = version;
        }
    }
    for config in &mut spec.configs {
        bind_config(config, object(Kind::Config, &config.source));
    }
}

fn bind_config(config: &mut ConfigRef, version: Option<String>) {
    if let Some(version) = version {
        let target = crate::swarm::render::config_target(config);
        config.target = Some(target);
        config.source = version;
    }
}
