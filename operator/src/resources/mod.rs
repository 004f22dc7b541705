//! The desired-state resource model: Kubernetes-style documents (`apiVersion`, `kind`,
//! `metadata`, `spec`) of six kinds, and the rules that check them.

pub mod binding;
pub mod constraint;
pub mod data;
pub mod gluster_volume;
pub mod network;
pub mod node;
pub mod origin;
pub mod quantity;
pub mod service;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use data::DataSpec;
pub use gluster_volume::GlusterVolumeSpec;
pub use network::NetworkSpec;
pub use node::NodeSpec;
pub use service::ServiceSpec;

use origin::Origin;

/// The only apiVersion this build understands.
pub const API_VERSION: &str = "shoal/v1alpha1";

/// The kinds of resource, in the order they are applied (removals run in reverse).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Node,
    Network,
    GlusterVolume,
    Secret,
    Config,
    Service,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Node,
        Kind::Network,
        Kind::GlusterVolume,
        Kind::Secret,
        Kind::Config,
        Kind::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::Network => "Network",
            Kind::GlusterVolume => "GlusterVolume",
            Kind::Secret => "Secret",
            Kind::Config => "Config",
            Kind::Service => "Service",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity and annotations of a resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Name of the resource, unique within its kind; also the name of the swarm object.
    pub name: String,
    /// Free-form labels for people and tools; not copied to the swarm object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Free-form annotations; keys under `shoal.io/` tune how shoal treats the resource:
    /// `shoal.io/drift: enforce` (default: `shoal run` sets live changes back) or
    /// `report` (it only reports them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Metadata {
    /// Whether the resource takes over a live object of its name that shoal did not
    /// create (`shoal.io/adopt: "true"`, written by `shoal import`).
    pub fn adopts(&self) -> bool {
        self.annotations
            .get(ADOPT)
            .is_some_and(|value| value == "true")
    }
}

/// The annotation that lets a resource take over a live object shoal did not create.
pub const ADOPT: &str = "shoal.io/adopt";

/// The spec of a resource, one variant per kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Spec {
    Node(NodeSpec),
    Network(NetworkSpec),
    GlusterVolume(GlusterVolumeSpec),
    Secret(DataSpec),
    Config(DataSpec),
    Service(Box<ServiceSpec>),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Node(_) => Kind::Node,
            Spec::Network(_) => Kind::Network,
            Spec::GlusterVolume(_) => Kind::GlusterVolume,
            Spec::Secret(_) => Kind::Secret,
            Spec::Config(_) => Kind::Config,
            Spec::Service(_) => Kind::Service,
        }
    }
}

/// One desired resource, with where it was written.
#[derive(Clone, Debug)]
pub struct Resource {
    pub metadata: Metadata,
    pub spec: Spec,
    pub origin: Origin,
}

impl Resource {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// `Kind/name`, the way resources are named in every message.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
}

/// A whole desired state: every resource loaded from a directory.
#[derive(Clone, Debug, Default)]
pub struct Desired {
    pub resources: Vec<Resource>,
    /// How many files the resources came from (for the summary line).
    pub file_count: usize,
    /// How many non-empty documents were found, loaded or not (a file with a syntax error
    /// counts as one): a directory whose every document is broken is not an empty one.
    pub document_count: usize,
}

impl Desired {
    pub fn services(&self) -> impl Iterator<Item = (&Resource, &ServiceSpec)> {
        self.resources.iter().filter_map(|r| match &r.spec {
            Spec::Service(spec) => Some((r, spec.as_ref())),
            _ => None,
        })
    }

    pub fn networks(&self) -> impl Iterator<Item = (&Resource, &NetworkSpec)> {
        self.resources.iter().filter_map(|r| match &r.spec {
            Spec::Network(spec) => Some((r, spec)),
            _ => None,
        })
    }

    pub fn gluster_volumes(&self) -> impl Iterator<Item = (&Resource, &GlusterVolumeSpec)> {
        self.resources.iter().filter_map(|r| match &r.spec {
            Spec::GlusterVolume(spec) => Some((r, spec)),
            _ => None,
        })
    }

    /// The resource `kind/name`, if desired.
    pub fn find(&self, kind: Kind, name: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.kind() == kind && r.name() == name)
    }

    /// The Secret and Config resources, with their kind.
    pub fn data(&self) -> impl Iterator<Item = (&Resource, &DataSpec)> {
        self.resources.iter().filter_map(|r| match &r.spec {
            Spec::Secret(spec) | Spec::Config(spec) => Some((r, spec)),
            _ => None,
        })
    }

    /// The swarm object that `kind` resource `name` is now: its versioned name, when
    /// its data is known.
    pub fn data_object(&self, kind: Kind, name: &str) -> Option<String> {
        match &self.find(kind, name)?.spec {
            Spec::Secret(spec) | Spec::Config(spec) => spec.resolved.object_name(name),
            _ => None,
        }
    }

    pub fn nodes(&self) -> impl Iterator<Item = (&Resource, &NodeSpec)> {
        self.resources.iter().filter_map(|r| match &r.spec {
            Spec::Node(spec) => Some((r, spec)),
            _ => None,
        })
    }

    /// The Node resource of the swarm node named `hostname` (its `hostname`, or else its
    /// name; validation keeps hostnames unique).
    pub fn node_with_hostname(&self, hostname: &str) -> Option<(&Resource, &NodeSpec)> {
        self.nodes()
            .find(|(r, spec)| spec.hostname.as_deref().unwrap_or(r.name()) == hostname)
    }
}
