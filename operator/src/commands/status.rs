//! `shoal status`: the status of a running `shoal run`, as a table.

use serde::Deserialize;

#[derive(Deserialize)]
struct InstanceStatus {
    identity: String,
    revision: Option<String>,
    readiness: Readiness,
    desired: usize,
    resources: Vec<ResourceStatus>,
    #[serde(default)]
    network: Option<NetworkStatus>,
}

/// The doctor's last verdict in `shoal run`.
#[derive(Deserialize)]
struct NetworkStatus {
    condition: String,
    checked_at: String,
    findings: Vec<crate::doctor::Finding>,
}

#[derive(Deserialize)]
struct Readiness {
    leader: bool,
    lease_holder: Option<String>,
    source_error: Option<String>,
    engine_error: Option<String>,
    #[serde(default)]
    events_error: Option<String>,
    #[serde(default)]
    lease_error: Option<String>,
}

#[derive(Deserialize)]
struct ResourceStatus {
    kind: String,
    name: String,
    sync: String,
    health: String,
    drift: String,
    conditions: Vec<Condition>,
    last_applied_revision: Option<String>,
}

#[derive(Deserialize)]
struct Condition {
    reason: String,
    message: String,
}

/// Renders the status as `shoal status` prints it. Pure.
fn render(status: &InstanceStatus) -> String {
    let mut out = format!(
        "instance {} ({}), revision {}\n",
        status.identity,
        if status.readiness.leader {
            "acting".to_string()
        } else {
            format!(
                "standby, lease held by {}",
                status
                    .readiness
                    .lease_holder
                    .as_deref()
                    .unwrap_or("nobody yet")
            )
        },
        status.revision.as_deref().map_or("-", |r| r
            .char_indices()
            .nth(12)
            .map_or(r, |(end, _)| &r[..end]))
    );
    for error in [
        &status.readiness.source_error,
        &status.readiness.engine_error,
        &status.readiness.events_error,
        &status.readiness.lease_error,
    ]
    .into_iter()
    .flatten()
    {
        out.push_str(&format!("error: {error}\n"));
    }
    let rows: Vec<[String; 7]> = status
        .resources
        .iter()
        .map(|r| {
            [
                r.kind.clone(),
                r.name.clone(),
                r.sync.clone(),
                r.health.clone(),
                r.drift.clone(),
                r.last_applied_revision
                    .as_deref()
                    .map_or("-".into(), |s| s[..s.len().min(12)].to_string()),
                r.conditions
                    .first()
                    .map_or(String::new(), |c| format!("{}: {}", c.reason, c.message)),
            ]
        })
        .collect();
    let header = [
        "KIND", "NAME", "SYNC", "HEALTH", "DRIFT", "REVISION", "MESSAGE",
    ]
    .map(String::from);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        line.push_str(&row[6]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if let Some(network) = &status.network {
        out.push_str(&format!(
            "\nnetwork: {} (shoal doctor, {})\n",
            network.condition, network.checked_at
        ));
        for finding in network
            .findings
            .iter()
            .filter(|f| f.outcome != crate::doctor::Outcome::Pass)
        {
            out.push_str(&format!("  {}\n", crate::doctor::render::line(finding)));
        }
    }
    out
}

/// Whether the instance acts, without errors, and every desired resource has been seen
/// Synced and Healthy.
fn converged(status: &InstanceStatus) -> bool {
    let readiness = &status.readiness;
    readiness.leader
        && readiness.source_error.is_none()
        && readiness.engine_error.is_none()
        && readiness.events_error.is_none()
        && status.resources.len() == status.desired
        && status
            .resources
            .iter()
            .all(|r| r.sync == "Synced" && r.health == "Healthy")
}

/// Prints the status of the instance at `server`; exit 0 when it has converged (see
/// [`converged`]), 1 otherwise.
pub async fn run(server: &str) -> miette::Result<u8> {
    let url = format!("{}/api/v1/status", server.trim_end_matches('/'));
    let status: InstanceStatus = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| miette::miette!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| miette::miette!("{url}: {e}"))?;
    print!("{}", render(&status));
    Ok(if converged(&status) { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_table_is_aligned() {
        let json = r#"{"identity":"node1-42","revision":"0123456789abcdef0123",
          "readiness":{"leader":true,"lease_holder":"node1-42","source_error":null,"engine_error":null},
          "desired":2,
          "resources":[
            {"kind":"Service","name":"web","sync":"Synced","health":"Healthy","drift":"enforce","conditions":[],"last_applied_revision":"0123456789abcdef0123"},
            {"kind":"Service","name":"http","sync":"OutOfSync","health":"Missing","drift":"report","conditions":[{"type":"Synced","status":false,"reason":"Waiting","message":"waiting for GlusterVolume/storage"}]}
          ]}"#;
        let status: InstanceStatus = serde_json::from_str(json).unwrap();
        assert_eq!(
            render(&status),
            "instance node1-42 (acting), revision 0123456789ab\n\
             KIND     NAME  SYNC       HEALTH   DRIFT    REVISION      MESSAGE\n\
             Service  web   Synced     Healthy  enforce  0123456789ab\n\
             Service  http  OutOfSync  Missing  report   -             Waiting: waiting for GlusterVolume/storage\n"
        );
        assert!(!converged(&status));
        let mut status = status;
        status.resources.truncate(1);
        assert!(!converged(&status), "one desired resource not seen yet");
        status.desired = 1;
        assert!(converged(&status));
    }

    #[test]
    fn the_doctors_failures_follow_the_table() {
        use crate::doctor::{Check, Finding, Port, Report};
        let report = Report {
            checked_at: "2026-12-04T10:41:07Z".into(),
            findings: vec![
                Finding::pass(Check::Agents, "3 agents answered"),
                Finding::fail(Check::DataPlane, "0 of 6 canary probes answered")
                    .between("node1", "node3")
                    .port(Port::udp(4789))
                    .networks(vec!["backend".into()])
                    .advice("allow UDP 4789 between the nodes"),
            ],
        };
        // As `shoal run` serves it.
        let network =
            serde_json::to_value(crate::controller::doctor::NetworkStatus::of(&report)).unwrap();
        let json = serde_json::json!({
            "identity": "node1-42", "revision": null,
            "readiness": {"leader": true, "lease_holder": "node1-42", "source_error": null, "engine_error": null},
            "desired": 0, "resources": [], "network": network,
        });
        let status: InstanceStatus = serde_json::from_value(json).unwrap();
        assert_eq!(
            render(&status),
            "instance node1-42 (acting), revision -\n\
             KIND  NAME  SYNC  HEALTH  DRIFT  REVISION  MESSAGE\n\
             \n\
             network: NetworkDegraded (shoal doctor, 2026-12-04T10:41:07Z)\n  \
             FAIL overlay data plane node1 -> node3 (udp/4789) on backend: 0 of 6 canary probes answered; allow UDP 4789 between the nodes\n"
        );
    }
}
