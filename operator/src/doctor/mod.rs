//! `shoal doctor`: the network, DNS and storage faults that break a swarm silently (a
//! firewall dropping VXLAN, DNS answering with dead tasks, a brick port closed). The
//! checks are pure functions of [`Evidence`]: what the swarm, gluster and every node's
//! agent reported ([`crate::agent::probe`] runs the probes on the nodes); [`examine`]
//! gathers it (a canary service per overlay, two rounds of agent probes) and cleans up.

pub mod canary;
pub mod dns;
pub mod engines;
pub mod evidence;
pub mod examine;
pub mod links;
pub mod overlay;
pub mod render;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use evidence::Evidence;
pub use examine::{DoctorOptions, examine};

/// What a finding is about, in the order the report lists them (the derived order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    Agents,
    ControlPlane,
    Gossip,
    DataPlane,
    Mtu,
    Dns,
    Storage,
    Engines,
    Clocks,
}

impl Check {
    pub fn title(self) -> &'static str {
        match self {
            Check::Agents => "agents",
            Check::ControlPlane => "control plane",
            Check::Gossip => "gossip",
            Check::DataPlane => "overlay data plane",
            Check::Mtu => "overlay MTU",
            Check::Dns => "service discovery",
            Check::Storage => "storage",
            Check::Engines => "engines",
            Check::Clocks => "clocks",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Fail,
    Warn,
    Pass,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// A port between hosts, as a firewall rule names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Port {
    pub protocol: Protocol,
    pub number: u16,
}

impl Port {
    pub fn tcp(number: u16) -> Port {
        Port {
            protocol: Protocol::Tcp,
            number,
        }
    }

    pub fn udp(number: u16) -> Port {
        Port {
            protocol: Protocol::Udp,
            number,
        }
    }
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        write!(f, "{protocol}/{}", self.number)
    }
}

/// One result: a check passed, or what failed between which nodes on which port, and
/// what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub check: Check,
    pub outcome: Outcome,
    /// The node the probe ran from (or the node concerned).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub from: Option<String>,
    /// The node it tried to reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub port: Option<Port>,
    /// The overlays concerned (data plane, MTU, gossip, DNS).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[serde(default)]
    pub networks: Vec<String>,
    /// The GlusterVolume concerned (storage).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub volume: Option<String>,
    pub message: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub advice: Option<String>,
}

impl Finding {
    pub fn new(check: Check, outcome: Outcome, message: impl Into<String>) -> Finding {
        Finding {
            check,
            outcome,
            from: None,
            to: None,
            port: None,
            networks: Vec::new(),
            volume: None,
            message: message.into(),
            advice: None,
        }
    }

    pub fn pass(check: Check, message: impl Into<String>) -> Finding {
        Finding::new(check, Outcome::Pass, message)
    }

    pub fn fail(check: Check, message: impl Into<String>) -> Finding {
        Finding::new(check, Outcome::Fail, message)
    }

    pub fn warn(check: Check, message: impl Into<String>) -> Finding {
        Finding::new(check, Outcome::Warn, message)
    }

    pub fn between(mut self, from: &str, to: &str) -> Finding {
        self.from = Some(from.to_string());
        self.to = Some(to.to_string());
        self
    }

    pub fn on_node(mut self, node: &str) -> Finding {
        self.from = Some(node.to_string());
        self
    }

    pub fn port(mut self, port: Port) -> Finding {
        self.port = Some(port);
        self
    }

    pub fn networks(mut self, mut networks: Vec<String>) -> Finding {
        networks.sort();
        networks.dedup();
        self.networks = networks;
        self
    }

    pub fn volume(mut self, volume: &str) -> Finding {
        self.volume = Some(volume.to_string());
        self
    }

    pub fn advice(mut self, advice: impl Into<String>) -> Finding {
        self.advice = Some(advice.into());
        self
    }
}

/// Every finding of one examination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// When, in RFC 3339 (`2026-12-04T10:41:07Z`).
    pub checked_at: String,
    pub findings: Vec<Finding>,
}

impl Report {
    /// The findings of `evidence`, by check, failures first.
    pub fn of(evidence: &Evidence) -> Report {
        let mut findings = Vec::new();
        findings.extend(links::agents(evidence));
        findings.extend(links::control_plane(evidence));
        findings.extend(overlay::gossip(evidence));
        findings.extend(overlay::data_plane(evidence));
        findings.extend(overlay::mtu(evidence));
        findings.extend(dns::service_discovery(evidence));
        findings.extend(links::storage(evidence));
        findings.extend(engines::versions(evidence));
        findings.extend(engines::clocks(evidence));
        findings.sort_by(|a, b| {
            (a.check, a.outcome, &a.from, &a.to, a.port)
                .cmp(&(b.check, b.outcome, &b.from, &b.to, b.port))
        });
        Report {
            checked_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            findings,
        }
    }

    /// Whether any check failed: `NetworkDegraded`.
    pub fn degraded(&self) -> bool {
        self.findings.iter().any(|f| f.outcome == Outcome::Fail)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.outcome == Outcome::Fail)
    }
}
