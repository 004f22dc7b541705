//! Which events are notified: those of the reasons `--notify-reasons` names (by default
//! the ones someone should hear about: failures, drift, nodes and storage), and with
//! `--notify-severity warning` only warnings. One filter for every target.

use crate::controller::events::{Event, Reason};

/// Every reason, in the order of the enum (what `--notify-reasons all` means and what an
/// unknown name is told to choose from).
pub const ALL: [Reason; 34] = [
    Reason::DriftDetected,
    Reason::DriftCorrected,
    Reason::DriftReported,
    Reason::Applied,
    Reason::ApplyFailed,
    Reason::Waiting,
    Reason::PruneRefused,
    Reason::InvalidRevision,
    Reason::SourceFailed,
    Reason::RevisionLoaded,
    Reason::EngineUnreachable,
    Reason::EventStreamReconnected,
    Reason::LeaseAcquired,
    Reason::LeaseWaiting,
    Reason::SplitBrain,
    Reason::NodeDown,
    Reason::NodeReady,
    Reason::NodeDrained,
    Reason::TasksRescheduled,
    Reason::TasksPending,
    Reason::VolumeDegraded,
    Reason::HealStarted,
    Reason::HealProgress,
    Reason::Healed,
    Reason::HealStalled,
    Reason::TaskOOMKilled,
    Reason::TaskUnhealthy,
    Reason::CrashLooping,
    Reason::RebalanceStarted,
    Reason::Rebalanced,
    Reason::RebalanceFailed,
    Reason::CapacityAtRisk,
    Reason::NetworkDegraded,
    Reason::NetworkHealthy,
];

/// Sent when `--notify-reasons` is not given. A rollout swarm rolled back is an
/// `ApplyFailed` (its status condition is `RolloutFailed`).
pub const DEFAULT: [Reason; 13] = [
    Reason::ApplyFailed,
    Reason::DriftDetected,
    Reason::DriftCorrected,
    Reason::NodeDown,
    Reason::NodeReady,
    Reason::VolumeDegraded,
    Reason::Healed,
    Reason::TaskOOMKilled,
    Reason::CrashLooping,
    Reason::InvalidRevision,
    Reason::SourceFailed,
    Reason::NetworkDegraded,
    Reason::NetworkHealthy,
];

/// The name of a reason, as events show it.
pub fn name(reason: Reason) -> String {
    format!("{reason:?}")
}

/// What `--notify-severity` lets through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Severity {
    /// Every event the reasons let through.
    #[default]
    Info,
    /// Warnings only.
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    reasons: Vec<Reason>,
    warnings_only: bool,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReasonsError {
    #[error("--notify-reasons names no reason: give reasons separated by commas, or `all`")]
    Empty,
    #[error(
        "--notify-reasons: unknown reason{} {}; valid: all, {}",
        if .0.len() > 1 { "s" } else { "" },
        .0.join(", "),
        valid()
    )]
    Unknown(Vec<String>),
}

fn valid() -> String {
    ALL.iter().map(|r| name(*r)).collect::<Vec<_>>().join(", ")
}

impl Filter {
    /// The filter of `--notify-reasons` (`None`: the default list; `all`: every reason;
    /// names match whatever their case) and `--notify-severity`.
    pub fn new(reasons: Option<&str>, severity: Severity) -> Result<Filter, ReasonsError> {
        let reasons = match reasons {
            None => DEFAULT.to_vec(),
            Some(list) => parse_reasons(list)?,
        };
        Ok(Filter {
            reasons,
            warnings_only: severity == Severity::Warning,
        })
    }

    pub fn admits(&self, event: &Event) -> bool {
        self.reasons.contains(&event.reason) && (event.warning || !self.warnings_only)
    }
}

fn parse_reasons(list: &str) -> Result<Vec<Reason>, ReasonsError> {
    let words: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Err(ReasonsError::Empty);
    }
    if words.iter().any(|w| w.eq_ignore_ascii_case("all")) {
        return Ok(ALL.to_vec());
    }
    let mut reasons = Vec::new();
    let mut unknown = Vec::new();
    for word in words {
        match ALL.iter().find(|r| name(**r).eq_ignore_ascii_case(word)) {
            Some(reason) if !reasons.contains(reason) => reasons.push(*reason),
            Some(_) => {}
            None => unknown.push(word.to_string()),
        }
    }
    if unknown.is_empty() {
        Ok(reasons)
    } else {
        Err(ReasonsError::Unknown(unknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reason: Reason) -> Event {
        Event::new(reason, Some("Service/web".into()), "something")
    }

    #[test]
    fn every_reason_is_listed_once() {
        // A reason added to the enum fails to compile here until ALL lists it too.
        let listed = |reason: Reason| match reason {
            Reason::DriftDetected
            | Reason::DriftCorrected
            | Reason::DriftReported
            | Reason::Applied
            | Reason::ApplyFailed
            | Reason::Waiting
            | Reason::PruneRefused
            | Reason::InvalidRevision
            | Reason::SourceFailed
            | Reason::RevisionLoaded
            | Reason::EngineUnreachable
            | Reason::EventStreamReconnected
            | Reason::LeaseAcquired
            | Reason::LeaseWaiting
            | Reason::SplitBrain
            | Reason::NodeDown
            | Reason::NodeReady
            | Reason::NodeDrained
            | Reason::TasksRescheduled
            | Reason::TasksPending
            | Reason::VolumeDegraded
            | Reason::HealStarted
            | Reason::HealProgress
            | Reason::Healed
            | Reason::HealStalled
            | Reason::TaskOOMKilled
            | Reason::TaskUnhealthy
            | Reason::CrashLooping
            | Reason::RebalanceStarted
            | Reason::Rebalanced
            | Reason::RebalanceFailed
            | Reason::CapacityAtRisk
            | Reason::NetworkDegraded
            | Reason::NetworkHealthy => ALL.iter().filter(|r| **r == reason).count(),
        };
        assert_eq!(ALL.map(listed), [1; 34]);
        // Names are what events serialize as.
        for reason in ALL {
            assert_eq!(serde_json::json!(reason), serde_json::json!(name(reason)));
        }
    }

    #[test]
    fn by_default_failures_drift_nodes_and_storage_are_sent() {
        let filter = Filter::new(None, Severity::Info).unwrap();
        let sent: Vec<Reason> = ALL
            .into_iter()
            .filter(|r| filter.admits(&event(*r)))
            .collect();
        assert_eq!(
            sent,
            [
                Reason::DriftDetected,
                Reason::DriftCorrected,
                Reason::ApplyFailed,
                Reason::InvalidRevision,
                Reason::SourceFailed,
                Reason::NodeDown,
                Reason::NodeReady,
                Reason::VolumeDegraded,
                Reason::Healed,
                Reason::TaskOOMKilled,
                Reason::CrashLooping,
                Reason::NetworkDegraded,
                Reason::NetworkHealthy,
            ]
        );
    }

    #[test]
    fn warnings_only_drops_what_is_not_a_warning() {
        let filter = Filter::new(None, Severity::Warning).unwrap();
        assert!(filter.admits(&event(Reason::DriftDetected)));
        assert!(!filter.admits(&event(Reason::DriftCorrected)));
        assert!(!filter.admits(&event(Reason::NodeReady)));
        assert!(!filter.admits(&event(Reason::Applied)));
    }

    #[test]
    fn reasons_are_named_in_any_case_or_all() {
        let filter = Filter::new(Some(" applied, NodeDown ,applied"), Severity::Info).unwrap();
        assert_eq!(filter.reasons, [Reason::Applied, Reason::NodeDown]);
        let filter = Filter::new(Some("ALL"), Severity::Info).unwrap();
        assert_eq!(filter.reasons, ALL);
    }

    #[test]
    fn unknown_reasons_are_named_with_the_valid_ones() {
        let error = Filter::new(Some("Applied,Drift,RolloutFailed"), Severity::Info).unwrap_err();
        assert_eq!(
            error,
            ReasonsError::Unknown(vec!["Drift".into(), "RolloutFailed".into()])
        );
        let text = error.to_string();
        assert!(
            text.starts_with(
                "--notify-reasons: unknown reasons Drift, RolloutFailed; valid: all, \
                 DriftDetected, DriftCorrected, DriftReported, Applied, ApplyFailed,"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("RebalanceFailed, CapacityAtRisk, NetworkDegraded, NetworkHealthy"),
            "{text}"
        );
        assert_eq!(
            Filter::new(Some(" , "), Severity::Info)
                .unwrap_err()
                .to_string(),
            "--notify-reasons names no reason: give reasons separated by commas, or `all`"
        );
    }
}
