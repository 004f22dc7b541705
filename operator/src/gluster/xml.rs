//! Reading the gluster CLI's `--xml` answers. Pure: text in, typed values out.
//!
//! Every answer is a `<cliOutput>` whose `<opRet>` says whether the command worked (some
//! failures exit 0, so the exit code alone is not enough) and `<opErrstr>` why not.
//! `<brick>` elements mix text and child elements, which is why this is a real XML parser
//! and not string matching.

use std::collections::BTreeMap;
use std::fmt;

use roxmltree::{Document, Node};
use serde::{Deserialize, Serialize};

/// A failed gluster command, in gluster's own words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GlusterError {
    #[error("gluster answered with malformed XML: {0}")]
    Malformed(String),
    #[error("gluster failed (opRet {op_ret}, errno {op_errno}): {message}")]
    Failed {
        op_ret: i64,
        op_errno: i64,
        message: String,
    },
}

/// One volume, as `volume info` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    pub status: VolumeStatus,
    pub replica: u32,
    pub arbiter: u32,
    /// Bricks in replica-set order, as `host:/path`, each with whether it is an arbiter.
    pub bricks: Vec<BrickInfo>,
    /// Options set explicitly on the volume (`volume set`).
    pub options: BTreeMap<String, String>,
}

/// Whether a volume runs, in gluster's words (`statusStr`). Written as those words
/// wherever it is shown or stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum VolumeStatus {
    /// Created and never started.
    Created,
    Started,
    Stopped,
    /// A word this build does not know (or none): kept to be shown as gluster wrote it,
    /// and treated as not started.
    Other(String),
}

impl VolumeStatus {
    pub fn as_str(&self) -> &str {
        match self {
            VolumeStatus::Created => "Created",
            VolumeStatus::Started => "Started",
            VolumeStatus::Stopped => "Stopped",
            VolumeStatus::Other(text) => text,
        }
    }
}

impl From<String> for VolumeStatus {
    fn from(text: String) -> Self {
        match text.as_str() {
            "Created" => VolumeStatus::Created,
            "Started" => VolumeStatus::Started,
            "Stopped" => VolumeStatus::Stopped,
            _ => VolumeStatus::Other(text),
        }
    }
}

impl From<VolumeStatus> for String {
    fn from(status: VolumeStatus) -> Self {
        status.as_str().to_string()
    }
}

impl fmt::Display for VolumeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrickInfo {
    pub host: String,
    pub path: String,
    pub arbiter: bool,
}

/// A brick process, as `volume status` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrickStatus {
    pub host: String,
    pub path: String,
    pub online: bool,
    /// The TCP port clients reach the brick on.
    pub port: Option<u16>,
}

/// A peer of the trusted pool, as `pool list` reports it (the local node included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub hostname: String,
    pub connected: bool,
}

/// Self-heal state of one brick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealSummary {
    pub brick: String,
    /// `Connected`, or why not (`Transport endpoint is not connected`).
    pub status: String,
    pub pending: u64,
    pub split_brain: u64,
}

/// Parses a `<cliOutput>` and checks `<opRet>`; returns the document for the caller.
pub fn parse(text: &str) -> Result<Document<'_>, GlusterError> {
    let document = Document::parse(text).map_err(|e| GlusterError::Malformed(e.to_string()))?;
    let root = document.root_element();
    if root.tag_name().name() != "cliOutput" {
        return Err(GlusterError::Malformed(format!(
            "expected <cliOutput>, found <{}>",
            root.tag_name().name()
        )));
    }
    let number = |name: &str| child_text(root, name).and_then(|t| t.trim().parse::<i64>().ok());
    let op_ret = number("opRet").ok_or_else(|| GlusterError::Malformed("no <opRet>".into()))?;
    if op_ret != 0 {
        return Err(GlusterError::Failed {
            op_ret,
            op_errno: number("opErrno").unwrap_or(0),
            message: child_text(root, "opErrstr")
                .unwrap_or_default()
                .trim()
                .to_string(),
        });
    }
    Ok(document)
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(move |c| c.has_tag_name(name))
}

fn child_text(node: Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name).map(|c| c.text().unwrap_or_default().to_string())
}

fn descend<'a, 'input>(node: Node<'a, 'input>, path: &[&str]) -> Option<Node<'a, 'input>> {
    path.iter().try_fold(node, |node, name| child(node, name))
}

/// `host:/path` split at the last colon before the path.
fn split_brick(text: &str) -> (String, String) {
    match text.split_once(":/") {
        Some((host, path)) => (host.to_string(), format!("/{path}")),
        None => (String::new(), text.to_string()),
    }
}

/// `gluster volume info --xml`.
pub fn volume_info(text: &str) -> Result<Vec<VolumeInfo>, GlusterError> {
    let document = parse(text)?;
    let Some(volumes) = descend(document.root_element(), &["volInfo", "volumes"]) else {
        return Ok(Vec::new());
    };
    Ok(children(volumes, "volume")
        .map(|volume| {
            let number = |name: &str| {
                child_text(volume, name)
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0)
            };
            let bricks = child(volume, "bricks")
                .map(|bricks| {
                    children(bricks, "brick")
                        .map(|brick| {
                            let (host, path) =
                                split_brick(&child_text(brick, "name").unwrap_or_default());
                            BrickInfo {
                                host,
                                path,
                                arbiter: child_text(brick, "isArbiter").as_deref() == Some("1"),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let options = child(volume, "options")
                .map(|options| {
                    children(options, "option")
                        .filter_map(|o| Some((child_text(o, "name")?, child_text(o, "value")?)))
                        .collect()
                })
                .unwrap_or_default();
            VolumeInfo {
                name: child_text(volume, "name").unwrap_or_default(),
                status: VolumeStatus::from(child_text(volume, "statusStr").unwrap_or_default()),
                replica: number("replicaCount"),
                arbiter: number("arbiterCount"),
                bricks,
                options,
            }
        })
        .collect())
}

/// `gluster volume get NAME all --xml`: every option's effective value, defaults included.
pub fn volume_options(text: &str) -> Result<BTreeMap<String, String>, GlusterError> {
    let document = parse(text)?;
    let Some(options) = child(document.root_element(), "volGetopts") else {
        return Ok(BTreeMap::new());
    };
    // Defaults come as "on (DEFAULT)": the value is what precedes the marker.
    Ok(children(options, "Opt")
        .filter_map(|o| {
            let value = child_text(o, "Value")?;
            let value = value
                .strip_suffix(" (DEFAULT)")
                .unwrap_or(&value)
                .to_string();
            Some((child_text(o, "Option")?, value))
        })
        .collect())
}

/// `gluster volume status NAME --xml`: brick processes (self-heal daemons left out).
pub fn volume_status(text: &str) -> Result<Vec<BrickStatus>, GlusterError> {
    let document = parse(text)?;
    let Some(volume) = descend(document.root_element(), &["volStatus", "volumes", "volume"]) else {
        return Ok(Vec::new());
    };
    Ok(children(volume, "node")
        .filter(|node| child_text(*node, "path").is_some_and(|p| p.starts_with('/')))
        .map(|node| BrickStatus {
            host: child_text(node, "hostname").unwrap_or_default(),
            path: child_text(node, "path").unwrap_or_default(),
            online: child_text(node, "status").as_deref() == Some("1"),
            // `N/A` when the brick is not running.
            port: child_text(node, "port").and_then(|p| p.trim().parse().ok()),
        })
        .collect())
}

/// `gluster pool list --xml`.
pub fn pool_list(text: &str) -> Result<Vec<Peer>, GlusterError> {
    let document = parse(text)?;
    let Some(peers) = child(document.root_element(), "peerStatus") else {
        return Ok(Vec::new());
    };
    Ok(children(peers, "peer")
        .map(|peer| Peer {
            hostname: child_text(peer, "hostname").unwrap_or_default(),
            connected: child_text(peer, "connected").as_deref() == Some("1"),
        })
        .collect())
}

/// `gluster volume heal NAME info summary --xml`.
pub fn heal_summary(text: &str) -> Result<Vec<HealSummary>, GlusterError> {
    let document = parse(text)?;
    let Some(bricks) = descend(document.root_element(), &["healInfo", "bricks"]) else {
        return Ok(Vec::new());
    };
    Ok(children(bricks, "brick")
        .map(|brick| {
            let count = |name: &str| {
                child_text(brick, name)
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0)
            };
            // An unreachable brick's status runs into the next field's name
            // ("...not connected)totalNumberOfEntries0"): keep the sentence.
            let status = child_text(brick, "status").unwrap_or_default();
            let status = match status.find(")totalNumberOfEntries") {
                Some(cut) => status[..=cut].to_string(),
                None => status,
            };
            HealSummary {
                brick: child_text(brick, "name").unwrap_or_default(),
                status,
                pending: count("numberOfEntriesInHealPending"),
                split_brain: count("numberOfEntriesInSplitBrain"),
            }
        })
        .collect())
}

/// The entries `volume heal NAME info split-brain` (or `info`) lists: every brick's
/// `<file>`, once each, in the order first listed (a path, or `<gfid:...>` where the
/// brick does not know it).
pub fn heal_files(text: &str) -> Result<Vec<String>, GlusterError> {
    let document = parse(text)?;
    let Some(bricks) = descend(document.root_element(), &["healInfo", "bricks"]) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<String> = Vec::new();
    for brick in children(bricks, "brick") {
        for file in children(brick, "file") {
            let name = file.text().unwrap_or_default().trim().to_string();
            if !name.is_empty() && !files.contains(&name) {
                files.push(name);
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gluster::recorded;

    fn brick(host: &str) -> BrickInfo {
        BrickInfo {
            host: host.into(),
            path: "/data/bricks/storage".into(),
            arbiter: false,
        }
    }

    #[test]
    fn volume_info_reads_layout_bricks_and_set_options() {
        let volumes = volume_info(&recorded("healthy/volume-info.xml")).unwrap();
        assert_eq!(volumes.len(), 1);
        let volume = &volumes[0];
        assert_eq!(volume.name, "storage");
        assert_eq!(volume.status, VolumeStatus::Started);
        assert_eq!((volume.replica, volume.arbiter), (3, 0));
        assert_eq!(
            volume.bricks,
            vec![brick("node1"), brick("node2"), brick("node3")]
        );
        assert_eq!(
            volume
                .options
                .get("cluster.choose-local")
                .map(String::as_str),
            Some("on")
        );
    }

    #[test]
    fn a_volume_status_is_known_by_its_word_and_written_back_as_that_word() {
        for (word, status) in [
            ("Created", VolumeStatus::Created),
            ("Started", VolumeStatus::Started),
            ("Stopped", VolumeStatus::Stopped),
            ("Restarting", VolumeStatus::Other("Restarting".into())),
            ("", VolumeStatus::Other(String::new())),
        ] {
            assert_eq!(VolumeStatus::from(word.to_string()), status);
            assert_eq!(status.to_string(), word);
            let json = format!("\"{word}\"");
            assert_eq!(serde_json::to_string(&status).unwrap(), json);
            assert_eq!(serde_json::from_str::<VolumeStatus>(&json).unwrap(), status);
        }
        let stopped = recorded("healthy/volume-info.xml").replace(
            "<statusStr>Started</statusStr>",
            "<statusStr>Stopped</statusStr>",
        );
        assert_eq!(
            volume_info(&stopped).unwrap()[0].status,
            VolumeStatus::Stopped
        );
    }

    #[test]
    fn volume_get_all_gives_effective_values_without_the_default_marker() {
        let options = volume_options(&recorded("healthy/volume-get-all.xml")).unwrap();
        assert_eq!(
            options.get("cluster.choose-local").map(String::as_str),
            Some("on")
        );
        assert_eq!(
            options.get("cluster.lookup-unhashed").map(String::as_str),
            Some("on")
        );
        assert_eq!(
            options.get("network.ping-timeout").map(String::as_str),
            Some("42")
        );
        assert!(options.len() > 300, "{}", options.len());
    }

    #[test]
    fn split_brain_entries_are_named_once_across_bricks() {
        let files = heal_files(&recorded("split-brain/heal-info-split-brain.xml")).unwrap();
        assert_eq!(files, ["/x"]);
        let none = heal_files(&recorded("healthy/heal-info-summary.xml")).unwrap();
        assert_eq!(none, Vec::<String>::new());
    }

    #[test]
    fn volume_status_lists_brick_processes_only() {
        let bricks = volume_status(&recorded("healthy/volume-status.xml")).unwrap();
        let summary: Vec<(&str, bool)> =
            bricks.iter().map(|b| (b.host.as_str(), b.online)).collect();
        assert_eq!(summary, [("node1", true), ("node2", true), ("node3", true)]);
        assert!(bricks.iter().all(|b| b.path == "/data/bricks/storage"));
    }

    #[test]
    fn pool_list_shows_who_is_connected() {
        let healthy = pool_list(&recorded("healthy/pool-list.xml")).unwrap();
        assert_eq!(healthy.len(), 3);
        assert!(healthy.iter().all(|p| p.connected), "{healthy:?}");
        let degraded = pool_list(&recorded("degraded/pool-list.xml")).unwrap();
        let down: Vec<&str> = degraded
            .iter()
            .filter(|p| !p.connected)
            .map(|p| p.hostname.as_str())
            .collect();
        assert_eq!(down, ["10.213.0.13"]);
    }

    #[test]
    fn heal_summary_counts_pending_and_split_brain_and_names_unreachable_bricks() {
        let healthy = heal_summary(&recorded("healthy/heal-info-summary.xml")).unwrap();
        assert!(
            healthy
                .iter()
                .all(|b| b.status == "Connected" && b.pending == 0 && b.split_brain == 0)
        );
        let degraded = heal_summary(&recorded("degraded/heal-info-summary.xml")).unwrap();
        assert_eq!(
            degraded[2],
            HealSummary {
                brick: "node3:/data/bricks/storage".into(),
                status:
                    "Failed to process entries completely. (Transport endpoint is not connected)"
                        .into(),
                pending: 0,
                split_brain: 0,
            }
        );
        // node3 back, the self-heal daemon off: what it missed waits on the other two.
        let healing = heal_summary(&recorded("healing/heal-info-summary.xml")).unwrap();
        let counts: Vec<(&str, &str, u64, u64)> = healing
            .iter()
            .map(|b| {
                (
                    b.brick.as_str(),
                    b.status.as_str(),
                    b.pending,
                    b.split_brain,
                )
            })
            .collect();
        assert_eq!(
            counts,
            [
                ("node1:/data/bricks/storage", "Connected", 8, 0),
                ("node2:/data/bricks/storage", "Connected", 8, 0),
                ("node3:/data/bricks/storage", "Connected", 0, 0),
            ]
        );
    }

    #[test]
    fn failures_carry_gluster_s_message_even_when_the_exit_code_lies() {
        assert_eq!(
            volume_info(&recorded("failed/volume-info-missing.xml")).unwrap_err(),
            GlusterError::Failed {
                op_ret: -1,
                op_errno: 30806,
                message: "Volume does not exist".into()
            }
        );
        assert_eq!(
            volume_status(&recorded("failed/volume-status-busy.xml")).unwrap_err(),
            GlusterError::Failed {
                op_ret: -1,
                op_errno: 30802,
                message: "Another transaction is in progress for storage. Please try again after some time.".into()
            }
        );
        assert!(matches!(
            volume_info("not xml"),
            Err(GlusterError::Malformed(_))
        ));
    }
}
