//! The `Secret` and `Config` kinds: swarm secrets and configs whose data comes from
//! desired-state (a file beside the resources, a file on the host, a SOPS or age file
//! decrypted with a key given to shoal, or generated once). Swarm objects are immutable,
//! so each content is its own object, named `<name>-<hash8>`; services name the resource
//! and are moved to a new object when the content changes.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Old versions still named by a service's previous spec (what swarm rolls back to) that
/// are kept, unless the resource says otherwise.
pub const DEFAULT_KEEP: u32 = 1;

/// Longest resource name: the swarm object adds `-` and 8 hex digits, and swarm names
/// are at most 64 characters.
pub const MAX_NAME: usize = 55;

/// Where a secret's or config's data comes from: exactly one of the fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSpec {
    /// A file in desired-state, relative to this resource's YAML file (Config only: a
    /// secret's value is never kept in git in the clear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// An absolute path on the host shoal runs on, outside git (for secrets kept there
    /// by other means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_file: Option<PathBuf>,
    /// Secret only: random data made once, when no object of this version exists, and
    /// never shown; a new value only comes with a new `length`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<Generate>,
    /// A SOPS-encrypted file in desired-state (age recipients), decrypted with the
    /// `sops` tool and the key given by `--age-key-file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sops: Option<SopsSource>,
    /// An age-encrypted file in desired-state (binary or ASCII-armored), decrypted with
    /// the key given by `--age-key-file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
    /// Old versions that a service's previous spec still names (what a swarm rollback
    /// returns to) kept after a rotation (default 1). Versions a service or a running
    /// task uses are always kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<u32>,
    /// The data, once read (not part of the document).
    #[serde(skip)]
    #[schemars(skip)]
    pub resolved: Resolved,
}

/// `generate: {length: 32}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Generate {
    /// Characters of the value (letters and digits), 16 to 4096.
    pub length: u32,
}

/// `sops: {file: secrets.sops.yaml, key: db_password}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SopsSource {
    /// The encrypted file, relative to this resource's YAML file.
    pub file: String,
    /// The top-level key whose value is the data (default: the whole decrypted file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Which source a resource uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    File,
    FromFile,
    Generate,
    Sops,
    Age,
}

impl SourceKind {
    /// The field's name, as written.
    pub fn field(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::FromFile => "fromFile",
            SourceKind::Generate => "generate",
            SourceKind::Sops => "sops",
            SourceKind::Age => "age",
        }
    }
}

impl DataSpec {
    /// The sources written, in field order (validation wants exactly one).
    pub fn sources(&self) -> Vec<SourceKind> {
        [
            (self.file.is_some(), SourceKind::File),
            (self.from_file.is_some(), SourceKind::FromFile),
            (self.generate.is_some(), SourceKind::Generate),
            (self.sops.is_some(), SourceKind::Sops),
            (self.age.is_some(), SourceKind::Age),
        ]
        .into_iter()
        .filter_map(|(set, kind)| set.then_some(kind))
        .collect()
    }

    pub fn keep(&self) -> u32 {
        self.keep.unwrap_or(DEFAULT_KEEP)
    }
}

/// The data of a resource, as far as it could be read. Never printed: `Debug` shows the
/// hash only.
#[derive(Clone, Default, PartialEq)]
pub enum Resolved {
    /// Not read (a document only parsed, as `shoal import` does).
    #[default]
    Unread,
    /// The data and the hash of it.
    Data(Data),
    /// Made at creation; the hash is of the generator's settings.
    Generated { hash: String },
    /// It could not be read or decrypted: why, in the user's words.
    Failed(String),
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolved::Unread => f.write_str("Unread"),
            Resolved::Data(data) => write!(f, "Data(sha256 {})", data.hash),
            Resolved::Generated { hash } => write!(f, "Generated({hash})"),
            Resolved::Failed(why) => write!(f, "Failed({why})"),
        }
    }
}

impl Resolved {
    /// Data read from its source.
    pub fn data(bytes: Vec<u8>) -> Resolved {
        let hash = hex(&Sha256::digest(&bytes));
        Resolved::Data(Data { bytes, hash })
    }

    /// A generated value's version: a hash of its settings, so a new `length` is a new
    /// object and the same settings find the object already made.
    pub fn generated(generate: &Generate) -> Resolved {
        let settings = format!("shoal generate v1: length {}", generate.length);
        Resolved::Generated {
            hash: hex(&Sha256::digest(settings.as_bytes())),
        }
    }

    /// The swarm object's name for resource `name`, once the data is known.
    pub fn object_name(&self, name: &str) -> Option<String> {
        let hash = match self {
            Resolved::Data(data) => &data.hash,
            Resolved::Generated { hash } => hash,
            Resolved::Unread | Resolved::Failed(_) => return None,
        };
        Some(format!("{name}-{}", &hash[..8]))
    }
}

/// Data read from a source, with its sha256.
#[derive(Clone, PartialEq)]
pub struct Data {
    pub bytes: Vec<u8>,
    pub hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a swarm object's name is a version of resource `name` (`name-` and 8 hex
/// digits).
pub fn is_version_of(object: &str, name: &str) -> bool {
    object
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether a swarm object's name is that of a version (`NAME-` and 8 hex digits).
pub fn is_versioned(object: &str) -> bool {
    object
        .rsplit_once('-')
        .is_some_and(|(name, _)| is_version_of(object, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_is_named_by_the_data_and_debug_never_shows_it() {
        let resolved = Resolved::data(b"hunter2".to_vec());
        let name = resolved.object_name("db_password").unwrap();
        assert_eq!(name, "db_password-f52fbd32");
        assert!(is_version_of(&name, "db_password"));
        assert!(!is_version_of("db_password-old", "db_password"));
        assert!(!is_version_of("db_password_x-f52fbd32", "db_password"));
        let shown = format!("{resolved:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.starts_with("Data(sha256 f52fbd32"), "{shown}");
    }

    #[test]
    fn a_generated_value_changes_version_only_with_its_settings() {
        let a = Resolved::generated(&Generate { length: 32 });
        let b = Resolved::generated(&Generate { length: 32 });
        let c = Resolved::generated(&Generate { length: 40 });
        assert_eq!(a.object_name("k"), b.object_name("k"));
        assert_ne!(a.object_name("k"), c.object_name("k"));
        assert_eq!(Resolved::Failed("no key".into()).object_name("k"), None);
    }
}
