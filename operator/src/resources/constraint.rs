//! Swarm placement constraints (`node.role == manager`, `node.labels.db != true`).
//!
//! The engine accepts a constraint it cannot evaluate and then leaves the service's tasks
//! pending forever, so shoal parses them up front with the engine's own grammar:
//! `KEY OP VALUE`, OP one of `==` and `!=`.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstraintKey {
    NodeId,
    NodeHostname,
    NodeRole,
    NodePlatformOs,
    NodePlatformArch,
    NodeLabel(String),
    EngineLabel(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintOp {
    Equal,
    NotEqual,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub key: ConstraintKey,
    pub op: ConstraintOp,
    pub value: String,
}

impl Constraint {
    pub fn parse(text: &str) -> Result<Constraint, String> {
        let (position, op, op_len) = ["==", "!="]
            .iter()
            .filter_map(|op| text.find(op).map(|at| (at, *op, op.len())))
            .min_by_key(|(at, _, _)| *at)
            .ok_or_else(|| {
                format!("constraint {text:?} has no operator: write KEY == VALUE or KEY != VALUE")
            })?;
        let key_text = text[..position].trim();
        let value = text[position + op_len..].trim();
        let op = if op == "==" {
            ConstraintOp::Equal
        } else {
            ConstraintOp::NotEqual
        };
        if value.is_empty() {
            return Err(format!(
                "constraint {text:?} has no value after the operator"
            ));
        }
        if value.contains("==") || value.contains("!=") {
            return Err(format!("constraint {text:?} has more than one operator"));
        }
        let key = parse_key(key_text).ok_or_else(|| {
            format!(
                "constraint {text:?} has an unknown key {key_text:?}: use node.id, node.hostname, \
                 node.role, node.platform.os, node.platform.arch, node.labels.NAME or engine.labels.NAME"
            )
        })?;
        if key == ConstraintKey::NodeRole && value != "manager" && value != "worker" {
            return Err(format!(
                "constraint {text:?}: node.role is manager or worker, not {value:?}"
            ));
        }
        Ok(Constraint {
            key,
            op,
            value: value.to_string(),
        })
    }
}

fn parse_key(key: &str) -> Option<ConstraintKey> {
    let label = |prefix: &str| {
        key.strip_prefix(prefix)
            .filter(|name| !name.is_empty() && !name.contains(char::is_whitespace))
            .map(str::to_string)
    };
    Some(match key {
        "node.id" => ConstraintKey::NodeId,
        "node.hostname" => ConstraintKey::NodeHostname,
        "node.role" => ConstraintKey::NodeRole,
        "node.platform.os" => ConstraintKey::NodePlatformOs,
        "node.platform.arch" => ConstraintKey::NodePlatformArch,
        _ => {
            if let Some(name) = label("node.labels.") {
                ConstraintKey::NodeLabel(name)
            } else {
                ConstraintKey::EngineLabel(label("engine.labels.")?)
            }
        }
    })
}

/// What a constraint can be evaluated against: one node as the scheduler sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    pub id: String,
    pub hostname: String,
    pub role: String,
    pub os: String,
    pub arch: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub engine_labels: std::collections::BTreeMap<String, String>,
}

impl Constraint {
    /// Whether `node` meets the constraint, as swarm's scheduler decides it: values
    /// compare case-insensitively (label values too, as swarmkit's `strings.EqualFold`),
    /// and a missing label equals nothing (so `!=` holds).
    pub fn matches(&self, node: &NodeFacts) -> bool {
        let actual = match &self.key {
            ConstraintKey::NodeId => Some(node.id.as_str()),
            ConstraintKey::NodeHostname => Some(node.hostname.as_str()),
            ConstraintKey::NodeRole => Some(node.role.as_str()),
            ConstraintKey::NodePlatformOs => Some(node.os.as_str()),
            ConstraintKey::NodePlatformArch => Some(node.arch.as_str()),
            ConstraintKey::NodeLabel(name) => node.labels.get(name).map(String::as_str),
            ConstraintKey::EngineLabel(name) => node.engine_labels.get(name).map(String::as_str),
        };
        let equal = actual.is_some_and(|actual| actual.eq_ignore_ascii_case(&self.value));
        match self.op {
            ConstraintOp::Equal => equal,
            ConstraintOp::NotEqual => !equal,
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            ConstraintKey::NodeId => "node.id".to_string(),
            ConstraintKey::NodeHostname => "node.hostname".to_string(),
            ConstraintKey::NodeRole => "node.role".to_string(),
            ConstraintKey::NodePlatformOs => "node.platform.os".to_string(),
            ConstraintKey::NodePlatformArch => "node.platform.arch".to_string(),
            ConstraintKey::NodeLabel(name) => format!("node.labels.{name}"),
            ConstraintKey::EngineLabel(name) => format!("engine.labels.{name}"),
        };
        let op = match self.op {
            ConstraintOp::Equal => "==",
            ConstraintOp::NotEqual => "!=",
        };
        write!(f, "{key} {op} {}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_match_nodes_as_the_scheduler_does() {
        let node = NodeFacts {
            id: "abc".into(),
            hostname: "node2".into(),
            role: "worker".into(),
            os: "linux".into(),
            arch: "x86_64".into(),
            labels: [("tier".to_string(), "Back".to_string())].into(),
            engine_labels: Default::default(),
        };
        let table = [
            ("node.hostname == node2", true),
            ("node.hostname == NODE2", true),
            ("node.hostname != node2", false),
            ("node.role == manager", false),
            ("node.labels.tier == Back", true),
            ("node.labels.tier == back", true),
            ("node.labels.Tier == Back", false),
            ("node.labels.db == true", false),
            ("node.labels.db != true", true),
            ("engine.labels.x != y", true),
            ("node.platform.os == linux", true),
        ];
        for (text, expected) in table {
            let constraint = Constraint::parse(text).unwrap();
            assert_eq!(constraint.matches(&node), expected, "{text}");
        }
    }

    #[test]
    fn valid_constraints_parse_and_render_canonically() {
        let table: &[(&str, ConstraintKey, ConstraintOp, &str, &str)] = &[
            (
                "node.role == manager",
                ConstraintKey::NodeRole,
                ConstraintOp::Equal,
                "manager",
                "node.role == manager",
            ),
            (
                "node.role!=worker",
                ConstraintKey::NodeRole,
                ConstraintOp::NotEqual,
                "worker",
                "node.role != worker",
            ),
            (
                "node.hostname == node1",
                ConstraintKey::NodeHostname,
                ConstraintOp::Equal,
                "node1",
                "node.hostname == node1",
            ),
            (
                "node.id==abc123",
                ConstraintKey::NodeId,
                ConstraintOp::Equal,
                "abc123",
                "node.id == abc123",
            ),
            (
                "node.platform.os == linux",
                ConstraintKey::NodePlatformOs,
                ConstraintOp::Equal,
                "linux",
                "node.platform.os == linux",
            ),
            (
                "node.platform.arch != arm64",
                ConstraintKey::NodePlatformArch,
                ConstraintOp::NotEqual,
                "arm64",
                "node.platform.arch != arm64",
            ),
            (
                "node.labels.db == true",
                ConstraintKey::NodeLabel("db".into()),
                ConstraintOp::Equal,
                "true",
                "node.labels.db == true",
            ),
            (
                "engine.labels.storage.ssd != yes",
                ConstraintKey::EngineLabel("storage.ssd".into()),
                ConstraintOp::NotEqual,
                "yes",
                "engine.labels.storage.ssd != yes",
            ),
        ];
        for (text, key, op, value, canonical) in table {
            let parsed = Constraint::parse(text).unwrap();
            assert_eq!(&parsed.key, key, "{text}");
            assert_eq!(&parsed.op, op, "{text}");
            assert_eq!(parsed.value, *value, "{text}");
            assert_eq!(parsed.to_string(), *canonical, "{text}");
        }
    }

    #[test]
    fn malformed_constraints_are_rejected_with_reason() {
        let table: &[(&str, &str)] = &[
            (
                "node.role = manager",
                "constraint \"node.role = manager\" has no operator: write KEY == VALUE or KEY != VALUE",
            ),
            (
                "node.role ==",
                "constraint \"node.role ==\" has no value after the operator",
            ),
            (
                "node.role == manager == worker",
                "constraint \"node.role == manager == worker\" has more than one operator",
            ),
            (
                "node.role == boss",
                "constraint \"node.role == boss\": node.role is manager or worker, not \"boss\"",
            ),
            (
                "node.name == node1",
                "constraint \"node.name == node1\" has an unknown key \"node.name\": use node.id, \
                 node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.NAME \
                 or engine.labels.NAME",
            ),
            (
                "node.labels. == x",
                "constraint \"node.labels. == x\" has an unknown key \"node.labels.\": use node.id, \
                 node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.NAME \
                 or engine.labels.NAME",
            ),
        ];
        for (text, message) in table {
            assert_eq!(Constraint::parse(text).unwrap_err(), *message, "{text}");
        }
    }
}
