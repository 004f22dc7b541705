//! The engines: one version across the swarm (mixed versions are a swarm mid-upgrade,
//! with two sets of bugs), versions with known overlay or DNS bugs named with their
//! upstream issue, and the hosts' clocks against this one's (swarm's certificates are
//! backdated one hour: a clock further off breaks TLS between the nodes).

use std::collections::BTreeMap;

use super::evidence::Evidence;
use super::{Check, Finding};

/// A clock this far off is worth a look (logs, TLS expiry margins).
const SKEW_WARN_MS: u64 = 5_000;
/// Half of swarm's certificate backdating (1 h): joins and renewals start failing soon.
const SKEW_FAIL_MS: u64 = 30 * 60 * 1000;

/// A release, as (major, minor, patch).
type Release = (u32, u32, u32);

/// An engine bug that breaks overlays or DNS, and the versions it is in.
struct KnownBug {
    /// Affected: at least the first, below the second.
    affected: &'static [(Release, Release)],
    issue: &'static str,
    summary: &'static str,
    /// What to do (the release that fixes it, when there is one).
    advice: &'static str,
}

const WATCH: &str = "no release fixes it yet: the service discovery check finds the symptom";

/// From the upstream issues (docs/notes/doctor-research.md has the sources).
const KNOWN_BUGS: [KnownBug; 4] = [
    KnownBug {
        affected: &[((20, 10, 0), (20, 11, 0))],
        issue: "moby/moby#42833",
        summary: "DNS may keep answering a restarted task's old address on other nodes",
        advice: WATCH,
    },
    KnownBug {
        affected: &[((25, 0, 0), (25, 0, 13)), ((26, 0, 0), (29, 0, 0))],
        issue: "moby/moby#47728",
        summary: "after a quick network leave and rejoin, a node may ignore a live task's DNS entry for good",
        advice: "upgrade to 29.0.0 (or 25.0.13 on 25.0) when you can; the service discovery check finds the symptom",
    },
    KnownBug {
        affected: &[((28, 2, 0), (28, 3, 0))],
        issue: "moby/moby#50129",
        summary: "some services are not discoverable over DNS",
        advice: "upgrade to 28.3.0 or later",
    },
    KnownBug {
        affected: &[((29, 0, 0), (29, 8, 0))],
        issue: "moby/moby#53141",
        summary: "services whose tasks ran on a node cut off for 10-30 s stay NXDOMAIN until `docker service update --force`",
        advice: WATCH,
    },
];

impl KnownBug {
    fn affects(&self, release: Release) -> bool {
        self.affected
            .iter()
            .any(|(from, below)| *from <= release && release < *below)
    }
}

fn release(version: &str) -> Option<Release> {
    let core = version.split(['-', '+', '~']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
        parts.next().flatten().unwrap_or(0),
    ))
}

pub fn versions(evidence: &Evidence) -> Vec<Finding> {
    let mut by_version: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in &evidence.nodes {
        let version = node.engine.as_deref().unwrap_or("unknown");
        by_version.entry(version).or_default().push(&node.hostname);
    }
    by_version.values_mut().for_each(|nodes| nodes.sort());
    let mut findings = Vec::new();
    if by_version.len() > 1 {
        let spread: Vec<String> = by_version
            .iter()
            .map(|(version, nodes)| format!("{} on {version}", nodes.join(", ")))
            .collect();
        findings.push(
            Finding::warn(
                Check::Engines,
                format!("mixed versions: {}", spread.join("; ")),
            )
            .advice("upgrade every node to one version"),
        );
    }
    for (version, nodes) in &by_version {
        let Some(release) = release(version) else {
            continue;
        };
        for bug in KNOWN_BUGS.iter().filter(|b| b.affects(release)) {
            findings.push(
                Finding::warn(
                    Check::Engines,
                    format!(
                        "{} on {version}: {} ({})",
                        nodes.join(", "),
                        bug.summary,
                        bug.issue
                    ),
                )
                .advice(bug.advice),
            );
        }
    }
    if findings.is_empty() {
        let version = by_version.keys().next().copied().unwrap_or("unknown");
        findings.push(Finding::pass(
            Check::Engines,
            format!(
                "{} nodes on {version}, no known overlay or DNS bug",
                evidence.nodes.len()
            ),
        ));
    }
    findings
}

/// Each host's clock against this one's: the agent's time minus the middle of the
/// request, give or take half the round trip (only beyond that is it skew).
pub fn clocks(evidence: &Evidence) -> Vec<Finding> {
    let mut findings = Vec::new();
    // The first round's quick answers when there was one: a tighter bound.
    let samples = if evidence.first_round.is_empty() {
        &evidence.probes
    } else {
        &evidence.first_round
    };
    let answered = samples
        .iter()
        .filter_map(|(host, probe)| Some((host, probe.as_ref().ok()?)));
    for (host, timed) in answered {
        let middle = (timed.sent_ms / 2).saturating_add(timed.received_ms / 2);
        let uncertainty = timed.received_ms.saturating_sub(timed.sent_ms) / 2;
        let offset = i128::from(timed.report.unix_ms) - i128::from(middle);
        let skew = u64::try_from(offset.unsigned_abs())
            .unwrap_or(u64::MAX)
            .saturating_sub(uncertainty);
        if skew <= SKEW_WARN_MS {
            continue;
        }
        let direction = if offset > 0 { "ahead of" } else { "behind" };
        let message = format!(
            "{host}'s clock is {:.1} s {direction} this host's",
            offset.unsigned_abs() as f64 / 1000.0
        );
        let finding = if skew > SKEW_FAIL_MS {
            Finding::fail(Check::Clocks, message)
        } else {
            Finding::warn(Check::Clocks, message)
        };
        findings.push(
            finding
                .on_node(host)
                .advice("run NTP (chrony, systemd-timesyncd) on every node"),
        );
    }
    if findings.is_empty() && evidence.answered().next().is_some() {
        findings.push(Finding::pass(
            Check::Clocks,
            format!(
                "every clock within {} s of this host's",
                SKEW_WARN_MS / 1000
            ),
        ));
    }
    findings
}
