//! Why a change cannot be made now. A blocked change is shown in the plan and never
//! applied; whether it clears by itself (another resource getting ready) or needs a
//! person decides how soon `shoal run` looks at it again.

use std::fmt;

use serde::Serialize;

use crate::resources::Kind;
use crate::swarm::render::RenderError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// A desired Node whose hostname no swarm node has.
    NoSuchNode { hostname: String },
    /// A live object of that name exists and shoal does not manage it.
    NameTaken { kind: Kind, name: String },
    /// A network that must be replaced is attached to these services.
    NetworkInUse { services: Vec<String> },
    /// A network to delete is still attached to these services.
    StillInUse { services: Vec<String> },
    /// The service refers to something missing (a secret, a network).
    Render(RenderError),
    /// A bind source lies on a volume not created and started yet.
    VolumeNotStarted { volume: String, source: String },
    /// A bind source lies on a volume not mounted on these candidate nodes (with why).
    VolumeNotMounted {
        volume: String,
        nodes: Vec<String>,
        source: String,
    },
    /// Desired-state would remove bricks or lower the replica count; `by_hand` is the
    /// gluster command that would do it.
    BrickRemoval {
        allow_data_loss: bool,
        by_hand: Option<String>,
    },
    /// Desired-state changes the volume's arbiter.
    ArbiterChange,
    /// An adopted network differs from desired-state: networks cannot change in place,
    /// and one shoal did not create is not shoal's to replace.
    AdoptedNetworkDiffers { name: String },
    /// An adopted service runs in the other mode (replicated, global): that would be a
    /// delete and create, not a take-over.
    AdoptModeDiffers { name: String },
    /// A Secret's or Config's data cannot be read or decrypted (why); the version in use,
    /// if any, stays.
    DataUnreadable { why: String, in_use: Option<String> },
    /// An old version of a Secret or Config that services name, or tasks still run with.
    VersionInUse { services: Vec<String>, tasks: usize },
    /// A generated secret whose resource is gone: its value exists nowhere else.
    GeneratedSecretKept { object: String },
    /// A resource named in `dependsOn` is not Healthy yet (why).
    DependencyNotReady { dependency: String, why: String },
    /// Services that depend on this one are rolling out.
    DependentsRollingOut { services: Vec<String> },
}

impl Blocked {
    /// Whether it clears without anyone changing anything (another resource getting
    /// ready): looked at again within seconds rather than a minute.
    pub fn clears_by_itself(&self) -> bool {
        match self {
            // A version of a Secret or Config is shoal's to create; a secret made by hand
            // needs someone.
            Blocked::Render(
                RenderError::MissingSecret(name) | RenderError::MissingConfig(name),
            ) => crate::resources::data::is_versioned(name),
            _ => matches!(
                self,
                Blocked::VolumeNotStarted { .. }
                    | Blocked::VolumeNotMounted { .. }
                    | Blocked::Render(RenderError::MissingNetwork(_))
                    | Blocked::VersionInUse { .. }
                    | Blocked::DependencyNotReady { .. }
                    | Blocked::DependentsRollingOut { .. }
            ),
        }
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocked::NoSuchNode { hostname } => {
                write!(f, "no swarm node has the hostname {hostname:?}")
            }
            Blocked::NameTaken {
                kind: Kind::Network,
                name,
            } => write!(
                f,
                "a network named {name:?} exists and is not managed by shoal: rename one of them"
            ),
            Blocked::NameTaken { kind, name } => write!(
                f,
                "a {} named {name:?} exists and is not managed by shoal: remove it or rename \
                 the resource",
                kind.to_string().to_lowercase()
            ),
            Blocked::NetworkInUse { services } => write!(
                f,
                "networks cannot change in place and this one is in use by {}: remove it from \
                 those services first",
                services.join(", ")
            ),
            Blocked::StillInUse { services } => {
                write!(f, "still in use by {}", services.join(", "))
            }
            Blocked::Render(error) => error.fmt(f),
            Blocked::AdoptedNetworkDiffers { name } => write!(
                f,
                "network {name:?} is adopted, and networks cannot change in place: make \
                 desired-state match it (or remove it by hand and drop the shoal.io/adopt \
                 annotation, so that shoal creates it)"
            ),
            Blocked::AdoptModeDiffers { name } => write!(
                f,
                "service {name:?} runs in the other mode: taking it over would delete and \
                 create it; make desired-state's mode match, adopt it, then change the mode"
            ),
            Blocked::VolumeNotStarted { volume, source } => write!(
                f,
                "waiting for {volume} to be created and started: {source} lies on it"
            ),
            Blocked::VolumeNotMounted {
                volume,
                nodes,
                source,
            } => write!(
                f,
                "waiting for {volume} to be mounted on {}: {source} lies on it",
                nodes.join(", ")
            ),
            Blocked::BrickRemoval {
                allow_data_loss: true,
                by_hand: Some(command),
            } => write!(
                f,
                "removing bricks or lowering replica is not automated: once the data is safe, \
                 run `{command}` on a peer"
            ),
            Blocked::BrickRemoval {
                allow_data_loss: true,
                by_hand: None,
            } => f.write_str(
                "removing bricks or lowering replica is not automated: run `gluster volume \
                 remove-brick` by hand once the data is safe",
            ),
            Blocked::BrickRemoval {
                allow_data_loss: false,
                ..
            } => f.write_str(
                "this would remove bricks (and the data on them): set allowDataLoss: true on \
                 the resource if that is meant",
            ),
            Blocked::ArbiterChange => f.write_str(
                "changing a volume's arbiter is not automated: gluster converts it only with \
                 add-brick/remove-brick by hand",
            ),
            Blocked::DataUnreadable { why, in_use } => match in_use {
                Some(object) => write!(f, "{why}; {object} stays in use"),
                None => write!(f, "{why}; no version exists yet"),
            },
            Blocked::VersionInUse { services, tasks } if services.is_empty() => write!(
                f,
                "an old version still mounted by {tasks} running task(s): removed once they \
                 stop"
            ),
            Blocked::VersionInUse { services, .. } => write!(
                f,
                "an old version still named by {}: removed once they use the new one",
                services.join(", ")
            ),
            Blocked::DependencyNotReady { dependency, why } => {
                write!(f, "waiting for {dependency} (dependsOn): {why}")
            }
            Blocked::DependentsRollingOut { services } => write!(
                f,
                "waiting for {} (which depend on it) to finish rolling out",
                services.join(", ")
            ),
            Blocked::GeneratedSecretKept { object } => write!(
                f,
                "a generated secret's value exists nowhere else, so shoal does not remove it: \
                 `docker secret rm {object}` once nothing needs it"
            ),
        }
    }
}

/// In plan JSON a blocked change says why in words (docs/plan-json.md).
impl Serialize for Blocked {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
