//! Binding at plan time (`resources::binding` says what binding is): desired-state
//! comes bound to the versions its data makes; what is left, a Secret or Config whose
//! data cannot be read here, is bound to the newest version shoal made, so what runs
//! keeps running and only that resource waits. Pure.

use std::borrow::Cow;

use crate::observe::live::Live;
use crate::resources::Desired;
use crate::resources::binding::{self, Versions};
use crate::resources::service::ServiceSpec;

use super::data;

/// `desired` with every service's references to Secret and Config resources bound to
/// swarm objects. Borrowed as it is when there are no such resources.
pub fn bind<'a>(desired: &'a Desired, live: &Live) -> Cow<'a, Desired> {
    if desired.data().next().is_none() {
        return Cow::Borrowed(desired);
    }
    let mut bound = desired.clone();
    binding::bind_services(&mut bound, &versions(desired, live));
    Cow::Owned(bound)
}

/// One service of `desired`, bound as [`bind`] binds them all.
pub fn bind_one<'a>(spec: &'a ServiceSpec, desired: &Desired, live: &Live) -> Cow<'a, ServiceSpec> {
    if desired.data().next().is_none() {
        return Cow::Borrowed(spec);
    }
    let mut bound = spec.clone();
    binding::bind_service(&mut bound, &versions(desired, live));
    Cow::Owned(bound)
}

/// The version of each resource: the one its data makes, or the newest one live.
fn versions(desired: &Desired, live: &Live) -> Versions {
    let mut versions = binding::versions(desired);
    for (resource, _) in desired.data() {
        let key = (resource.kind(), resource.name().to_string());
        if !versions.contains_key(&key)
            && let Some(object) = data::newest_version(live, key.0, &key.1)
        {
            versions.insert(key, object.to_string());
        }
    }
    versions
}
