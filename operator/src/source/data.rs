//! Reading the data of `Secret` and `Config` resources when desired-state is loaded: a
//! file beside the resource, a file on the host, a SOPS file (decrypted by the `sops`
//! tool, the format SOPS users already keep) or an age file (decrypted here with the age
//! crate), with the age key given on the command line.
//!
//! A file missing from desired-state is an error of the revision, as any broken
//! reference is. What depends on this host (the key, a host file, the `sops` tool) fails
//! only its resource: the version in use stays and everything else goes on.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::diagnostics::Problem;
use crate::resources::data::Resolved;
use crate::resources::{DataSpec, Desired, Spec};

/// Where the age key (identity) comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgeKey {
    /// A file of age identities (`age-keygen -o key.txt`).
    File(PathBuf),
    /// An environment variable holding them (its name, not its value).
    Env(String),
}

impl AgeKey {
    /// The identities' text; never shown.
    fn text(&self) -> Result<String, String> {
        match self {
            AgeKey::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the age key file {}: {e}", path.display())),
            AgeKey::Env(name) => std::env::var(name)
                .map_err(|_| format!("the environment variable {name} (--age-key-env) is not set")),
        }
    }
}

/// The file names of the data files in desired-state (`loadbalancer.conf`), which a
/// watch of the directory must count as desired-state.
pub fn file_names(desired: &Desired) -> std::collections::HashSet<std::ffi::OsString> {
    desired
        .data()
        .flat_map(|(_, spec)| {
            let sops = spec.sops.as_ref().map(|s| s.file.as_str());
            [spec.file.as_deref(), sops, spec.age.as_deref()]
        })
        .flatten()
        .filter_map(|file| Path::new(file).file_name().map(|n| n.to_os_string()))
        .collect()
}

/// Reads the data of every Secret and Config of `desired`; returns the problems: errors
/// for files missing from desired-state, warnings for resources that failed here.
pub fn resolve(desired: &mut Desired, key: Option<&AgeKey>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for resource in &mut desired.resources {
        let id = resource.id();
        let origin = resource.origin.clone();
        let base = origin.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let (Spec::Secret(spec) | Spec::Config(spec)) = &mut resource.spec else {
            continue;
        };
        match read(spec, &base, key) {
            Ok(resolved) => spec.resolved = resolved,
            Err(Failure::NotInDesiredState { field, message }) => {
                problems.push(Problem::error(origin.locate(&field), Some(id), message));
            }
            Err(Failure::Here { field, message }) => {
                let location = origin.locate(&field);
                spec.resolved = Resolved::Failed(format!("{location}: {message}"));
                problems.push(Problem::warning(location, Some(id), message));
            }
        }
    }
    problems
}

enum Failure {
    /// A file desired-state names is not in it: the revision is broken.
    NotInDesiredState { field: String, message: String },
    /// It could not be read or decrypted on this host.
    Here { field: String, message: String },
}

fn in_tree(base: &Path, field: &str, file: &str) -> Result<PathBuf, Failure> {
    let path = base.join(file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Failure::NotInDesiredState {
            field: field.to_string(),
            message: format!("{file}: no such file beside this resource"),
        })
    }
}

fn read(spec: &DataSpec, base: &Path, key: Option<&AgeKey>) -> Result<Resolved, Failure> {
    if let Some(file) = &spec.file {
        let path = in_tree(base, "spec.file", file)?;
        return std::fs::read(&path)
            .map(Resolved::data)
            .map_err(|e| Failure::NotInDesiredState {
                field: "spec.file".into(),
                message: format!("cannot read {file}: {e}"),
            });
    }
    if let Some(path) = &spec.from_file {
        return std::fs::read(path)
            .map(Resolved::data)
            .map_err(|e| Failure::Here {
                field: "spec.fromFile".into(),
                message: format!("cannot read the host file {}: {e}", path.display()),
            });
    }
    if let Some(generate) = &spec.generate {
        return Ok(Resolved::generated(generate));
    }
    if let Some(sops) = &spec.sops {
        let path = in_tree(base, "spec.sops.file", &sops.file)?;
        let here = |message| Failure::Here {
            field: "spec.sops".into(),
            message,
        };
        return sops_decrypt(&path, sops.key.as_deref(), key)
            .map(Resolved::data)
            .map_err(here);
    }
    if let Some(file) = &spec.age {
        let path = in_tree(base, "spec.age", file)?;
        return age_decrypt(&path, key)
            .map(Resolved::data)
            .map_err(|message| Failure::Here {
                field: "spec.age".into(),
                message,
            });
    }
    Ok(Resolved::Unread)
}

/// `sops --decrypt` of `path` (only `key`'s value when given), with the age key in the
/// environment sops reads it from.
fn sops_decrypt(path: &Path, key: Option<&str>, age: Option<&AgeKey>) -> Result<Vec<u8>, String> {
    let mut command = Command::new(std::env::var_os("SHOAL_SOPS").unwrap_or("sops".into()));
    command.arg("--decrypt");
    if let Some(key) = key {
        let quoted = serde_json::to_string(key).expect("a string always serializes");
        command.args(["--extract", &format!("[{quoted}]")]);
    }
    command.arg(path);
    match age {
        Some(AgeKey::File(file)) => {
            command.env("SOPS_AGE_KEY_FILE", file);
        }
        Some(key @ AgeKey::Env(_)) => {
            command.env("SOPS_AGE_KEY", key.text()?);
        }
        None => {}
    }
    let output = command.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            "the sops tool is not installed (docs/resources.md says how to install it)".into()
        }
        _ => format!("cannot run sops: {e}"),
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(format!(
            "sops cannot decrypt {}: {}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            last.unwrap_or("no reason given").trim()
        ));
    }
    Ok(output.stdout)
}

/// Decrypts an age file (binary or ASCII-armored) with the identities of `key`.
fn age_decrypt(path: &Path, key: Option<&AgeKey>) -> Result<Vec<u8>, String> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let key = key.ok_or_else(|| {
        format!("{name} is age-encrypted and shoal was given no key (--age-key-file)")
    })?;
    let identities = age::IdentityFile::from_buffer(key.text()?.as_bytes())
        .and_then(|file| file.into_identities().map_err(std::io::Error::other))
        .map_err(|e| format!("the age key is not a key: {e}"))?;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let armored = age::armor::ArmoredReader::new(std::io::BufReader::new(file));
    let decryptor =
        age::Decryptor::new(armored).map_err(|e| format!("{name} is not an age file: {e}"))?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| format!("cannot decrypt {name}: {e}"))?;
    let mut data = Vec::new();
    reader
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot decrypt {name}: {e}"))?;
    Ok(data)
}

#[cfg(test)]
mod tests;
