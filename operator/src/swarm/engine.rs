//! Connecting to a Docker engine the way the docker CLI does, and what its errors mean.

use std::collections::HashMap;

use bollard::Docker;

/// Why the engine could not be reached or answered with an error.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot connect to the Docker engine ({host}): {source}")]
    Connect {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// The engine is older than the oldest one shoal is tested against.
    #[error("{host}: {source}")]
    Unsupported {
        host: String,
        #[source]
        source: super::version::Unsupported,
    },
    /// A gluster command failed (GlusterVolume changes run through the gluster CLI).
    #[error(transparent)]
    Gluster(#[from] crate::gluster::cli::CliError),
    /// shoal refused to send the call: what it would send is not possible yet.
    #[error("{0}")]
    Refused(String),
    /// An answer read without bollard (observe::services) could not be had or read.
    #[error("{what}: {message}")]
    Read { what: String, message: String },
    #[error("{what}: {source}")]
    Call {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
}

impl EngineError {
    /// Whether the engine refused a write because the object changed since it was read.
    pub fn is_conflict(&self) -> bool {
        matches!(self, EngineError::Call { source, .. } if is_conflict(source))
    }

    pub fn call(what: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> EngineError {
        let what = what.into();
        move |source| EngineError::Call { what, source }
    }
}

/// Whether a write lost a race: swarm's optimistic concurrency answers "update out of
/// sequence" when the object's version moved since it was read. Read again, retry.
pub fn is_conflict(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { message, .. }
        if message.contains("out of sequence"))
}

/// Whether a create found its name taken (409, "already exists"): another writer made
/// the object first.
pub fn is_name_taken(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { status_code, message }
        if *status_code == 409 || message.contains("already exists"))
}

/// Connects as the docker CLI would: DOCKER_HOST (default the local socket), with TLS
/// when DOCKER_TLS_VERIFY is set and certificates from DOCKER_CERT_PATH; then agrees on an
/// API version the engine speaks (Debian's 20.10 speaks 1.41, Engine 28 1.51, bollard
/// defaults higher), logs it, and refuses an engine older than the oldest tested.
pub async fn connect() -> Result<Docker, EngineError> {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let connect_error = |source| EngineError::Connect {
        host: host.clone(),
        source,
    };
    let docker = Docker::connect_with_defaults().map_err(connect_error)?;
    let docker = docker.negotiate_version().await.map_err(connect_error)?;
    let answer = docker.version().await.map_err(connect_error)?;
    let engine = super::version::supported(&answer).map_err(|source| EngineError::Unsupported {
        host: host.clone(),
        source,
    })?;
    let spoken = docker.client_version();
    tracing::info!(
        %host,
        engine = %engine.release,
        api = %format_args!("{}.{}", spoken.major_version, spoken.minor_version),
        "connected to Docker Engine {} (API {})", engine.release, engine.api
    );
    Ok(docker)
}

/// Filters for list calls, in the engine's `{"key": ["value"]}` form.
pub fn filter(key: &str, value: &str) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([(key.to_string(), vec![value.to_string()])]))
}
