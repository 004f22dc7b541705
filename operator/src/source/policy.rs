//! Reading the validation policy ([`Policy`]) of a desired-state directory.
//!
//! It lives next to the resources, in `.shoal-policy.yaml` at the root of the
//! desired-state directory (hidden, so it is never read as a resource).

use std::path::Path;

use crate::diagnostics::{Location, Problem};
use crate::resources::validate::policy::Policy;
use crate::source::yaml_index::strip_position;

/// The file name of the policy inside a desired-state directory.
pub const POLICY_FILE: &str = ".shoal-policy.yaml";

/// Reads `DIR/.shoal-policy.yaml` if it exists; an absent file is the empty policy.
pub fn load(dir: &Path) -> Result<Policy, Box<Problem>> {
    let file = dir.join(POLICY_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Policy::default());
        }
        Err(error) => {
            return Err(Box::new(Problem::error(
                Location::new(file, 1, 1),
                None,
                format!("cannot read policy: {error}"),
            )));
        }
    };
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options::<Option<Policy>>(&text, options)
        .map(Option::unwrap_or_default)
        .map_err(|error| {
            let (line, column) = error
                .location()
                .map(|l| (l.line() as usize, l.column() as usize))
                .unwrap_or((1, 1));
            Box::new(Problem::error(
                Location::new(file, line, column),
                None,
                format!("policy: {}", strip_position(&error.to_string())),
            ))
        })
}
