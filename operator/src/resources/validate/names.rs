//! The grammars Docker checks names and references with, so that a name it would refuse
//! is an error at its own line before anything is applied: image references (docker's
//! distribution grammar, through oci-spec), swarm secret names, volume names; and paths
//! with `..`, which Docker, gluster and mount resolve to somewhere the text does not say.

use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use oci_spec::distribution::{ParseError, Reference};
use path_clean::PathClean;

/// Why Docker would refuse `image` as an image reference, if it would.
pub fn image_reference_problem(image: &str) -> Option<String> {
    let error = Reference::from_str(image).err()?;
    // As docker tells it: a reference that would be valid in lowercase has uppercase.
    let uppercase = Reference::from_str(&image.to_lowercase()).is_ok();
    let reason = match error {
        _ if uppercase => "the repository name must be lowercase",
        ParseError::NameContainsUppercase => "the repository name must be lowercase",
        ParseError::NameEmpty => "the repository name is empty",
        ParseError::NameTooLong => "the repository name is longer than 255 characters",
        ParseError::TagInvalidFormat => {
            "a tag is letters, digits, _ . and - (at most 128, not starting with . or -)"
        }
        ParseError::DigestInvalidFormat
        | ParseError::DigestInvalidLength
        | ParseError::DigestUnsupported => "a digest is sha256: and 64 hex digits",
        _ => "expected [registry/]name[:tag][@digest], e.g. nginx:1.27 or ghcr.io/org/app:2",
    };
    Some(format!(
        "image {image:?} is not a reference Docker accepts: {reason}"
    ))
}

/// Why swarm would refuse `name` for a secret: letters, digits, `-`, `_` and `.`, starting
/// and ending with a letter or digit, at most 64 characters.
pub fn secret_name_problem(name: &str) -> Option<String> {
    if let Some(file) = name.strip_prefix("/run/secrets/") {
        return Some(format!(
            "{name:?} is a path; name the swarm secret instead: {file:?}"
        ));
    }
    let alphanumeric = |c: char| c.is_ascii_alphanumeric();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(alphanumeric)
        && name.ends_with(alphanumeric)
        && name.chars().all(|c| alphanumeric(c) || "-_.".contains(c));
    (!valid).then(|| {
        format!(
            "{name:?} is not a swarm secret name: letters, digits, - _ and ., starting and \
             ending with a letter or digit, at most 64 characters (docker secret ls shows them)"
        )
    })
}

/// Why Docker would refuse `name` for a named volume: letters, digits, `_`, `.` and `-`,
/// starting with a letter or digit, at least two characters.
pub fn volume_name_problem(name: &str) -> Option<String> {
    if name.contains('/') {
        return Some(format!(
            "{name:?} is a path, not a volume name: for a directory of the host use type: bind"
        ));
    }
    let valid = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    (!valid).then(|| {
        format!(
            "{name:?} is not a volume name Docker accepts: letters, digits, _ . and -, starting \
             with a letter or digit, at least 2 characters"
        )
    })
}

/// `path` as Docker resolves it (`/data/storage/../../etc` is `/etc`), to tell the user.
pub fn resolved(path: &str) -> PathBuf {
    Path::new(path).clean()
}

/// Whether `path` has a `..` component: gluster and mount take such a path somewhere the
/// text does not say.
pub fn climbs(path: &str) -> bool {
    Path::new(path)
        .components()
        .any(|c| c == Component::ParentDir)
}
