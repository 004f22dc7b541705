//! Writing `Secret` and `Config` versions: creating the object of a version (with its
//! data, read or generated now), removing an old one. The data goes to the engine and
//! nowhere else: not logged, not in errors.

use base64::Engine as _;
use bollard::Docker;
use bollard::models::{ConfigSpec, SecretSpec};

use crate::resources::data::{Resolved, SourceKind};
use crate::resources::{DataSpec, Kind};
use crate::swarm::engine::EngineError;
use crate::swarm::labels;

/// Letters and digits: a generated value fits any config file or connection string.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Creates the version desired-state wants of resource `name`.
pub async fn create(
    docker: &Docker,
    kind: Kind,
    name: &str,
    spec: &DataSpec,
    revision: Option<&str>,
) -> Result<(), EngineError> {
    let Some(object) = spec.resolved.object_name(name) else {
        return Err(EngineError::Refused(format!(
            "{kind}/{name}: its data cannot be read"
        )));
    };
    let bytes = match &spec.resolved {
        Resolved::Data(data) => data.bytes.clone(),
        Resolved::Generated { .. } => {
            let length = spec.generate.as_ref().map_or(32, |g| g.length as usize);
            generate(length)
                .map_err(|e| EngineError::Refused(format!("{kind}/{name}: no random data: {e}")))?
        }
        Resolved::Unread | Resolved::Failed(_) => unreachable!("no object name without data"),
    };
    let hash = &object[object.len() - 8..];
    let mut labels = labels::managed(name, hash, revision);
    if let Some(source) = spec.sources().first() {
        labels.insert(
            labels::DATA_SOURCE.to_string(),
            source_label(*source).to_string(),
        );
    }
    let data = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
    let what = format!("creating {} {object}", kind.as_str().to_lowercase());
    let created = match kind {
        Kind::Secret => docker
            .create_secret(SecretSpec {
                name: Some(object.clone()),
                labels: Some(labels),
                data,
                ..Default::default()
            })
            .await
            .map(drop),
        _ => docker
            .create_config(ConfigSpec {
                name: Some(object.clone()),
                labels: Some(labels),
                data,
                ..Default::default()
            })
            .await
            .map(drop),
    };
    created.map_err(EngineError::call(what))
}

/// Removes the old version `object`.
pub async fn remove(docker: &Docker, kind: Kind, object: &str) -> Result<(), EngineError> {
    let what = format!("removing {} {object}", kind.as_str().to_lowercase());
    let removed = match kind {
        Kind::Secret => docker.delete_secret(object).await,
        _ => docker.delete_config(object).await,
    };
    match removed {
        // Removed meanwhile by someone else: what was wanted.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        other => other.map_err(EngineError::call(what)),
    }
}

fn source_label(source: SourceKind) -> &'static str {
    match source {
        SourceKind::File => "file",
        SourceKind::FromFile => "fromFile",
        SourceKind::Generate => "generate",
        SourceKind::Sops => "sops",
        SourceKind::Age => "age",
    }
}

/// `length` random letters and digits from the kernel's generator, unbiased (bytes
/// beyond the last whole multiple of the alphabet are drawn again).
fn generate(length: usize) -> std::io::Result<Vec<u8>> {
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut value = Vec::with_capacity(length);
    let mut buffer = [0u8; 64];
    while value.len() < length {
        rustix::rand::getrandom(&mut buffer, rustix::rand::GetRandomFlags::empty())?;
        value.extend(
            buffer
                .iter()
                .filter(|b| **b < limit)
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()])
                .take(length - value.len()),
        );
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_letters_and_digits_of_the_length_asked_and_differ() {
        let a = generate(32).unwrap();
        let b = generate(32).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.iter().all(|c| c.is_ascii_alphanumeric()), "{a:?}");
        assert_ne!(a, b);
        assert_eq!(generate(4096).unwrap().len(), 4096);
    }
}
