//! The report for people: one line per finding, `FAIL overlay data plane node1 -> node3
//! (udp/4789): 0 of 3 canary probes answered; allow UDP 4789 between the nodes`, and a
//! last line that sums up.

use super::{Finding, Outcome, Report};

pub fn line(finding: &Finding) -> String {
    let outcome = match finding.outcome {
        Outcome::Pass => "PASS",
        Outcome::Warn => "WARN",
        Outcome::Fail => "FAIL",
    };
    let mut line = format!("{outcome} {}", finding.check.title());
    match (&finding.from, &finding.to) {
        (Some(from), Some(to)) => line.push_str(&format!(" {from} -> {to}")),
        (Some(node), None) => line.push_str(&format!(" {node}")),
        _ => {}
    }
    if let Some(port) = finding.port {
        line.push_str(&format!(" ({port})"));
    }
    if !finding.networks.is_empty() {
        line.push_str(&format!(" on {}", finding.networks.join(", ")));
    }
    line.push_str(&format!(": {}", finding.message));
    if let Some(advice) = &finding.advice {
        line.push_str(&format!("; {advice}"));
    }
    line
}

pub fn text(report: &Report) -> String {
    let mut out: String = report.findings.iter().map(|f| line(f) + "\n").collect();
    let count = |outcome| {
        report
            .findings
            .iter()
            .filter(|f| f.outcome == outcome)
            .count()
    };
    let (failed, warned) = (count(Outcome::Fail), count(Outcome::Warn));
    let warnings = match warned {
        0 => String::new(),
        1 => ", 1 warning".to_string(),
        n => format!(", {n} warnings"),
    };
    if failed == 0 {
        out.push_str(&format!("\nEvery check passed{warnings}.\n"));
    } else {
        out.push_str(&format!(
            "\n{failed} failed{warnings}: the network is degraded.\n"
        ));
    }
    out
}
