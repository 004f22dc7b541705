//! Which Docker Engines shoal talks to: the engine's version answer read into a type, and
//! the refusal of an engine older than the oldest one shoal is tested against (an engine
//! that old fills in other defaults and names, so its drift would be guessed, not read).

use std::fmt;

use bollard::models::SystemVersion;

/// An engine API version, `1.41`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    /// Reads `1.41`; None for anything else.
    pub fn parse(text: &str) -> Option<ApiVersion> {
        let (major, minor) = text.trim().split_once('.')?;
        Some(ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The oldest engine the lab tests shoal against: Debian 12's Docker Engine 20.10.
pub const OLDEST_TESTED_ENGINE: &str = "20.10";
pub const OLDEST_TESTED_API: ApiVersion = ApiVersion {
    major: 1,
    minor: 41,
};

/// The engine on the other end, as it describes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    /// The engine's release, `28.5.2+dfsg4` (as its packager built it).
    pub release: String,
    /// The newest API version the engine speaks.
    pub api: ApiVersion,
}

/// Why shoal will not talk to an engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    #[error(
        "Docker Engine {release} (API {api}) is older than the oldest engine shoal is tested \
         against, {OLDEST_TESTED_ENGINE} (API {OLDEST_TESTED_API}): upgrade the engine"
    )]
    TooOld { release: String, api: ApiVersion },
    #[error("the engine did not say which API version it speaks (its /version answer: {0})")]
    Unknown(String),
}

/// Reads the engine's `/version` answer and accepts engines from the oldest tested on.
pub fn supported(answer: &SystemVersion) -> Result<EngineVersion, Unsupported> {
    let release = answer.version.clone().unwrap_or_else(|| "(unknown)".into());
    let api = answer
        .api_version
        .as_deref()
        .and_then(ApiVersion::parse)
        .ok_or_else(|| Unsupported::Unknown(format!("{answer:?}")))?;
    if api < OLDEST_TESTED_API {
        return Err(Unsupported::TooOld { release, api });
    }
    Ok(EngineVersion { release, api })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `/version` answer recorded from the lab's engine (tests/fixtures/record).
    fn recorded(engine: &str) -> SystemVersion {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/engine")
            .join(engine)
            .join("version.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_engines_of_the_lab_are_supported_with_the_api_they_speak() {
        let old = supported(&recorded("20.10")).unwrap();
        assert_eq!(
            (old.release.as_str(), old.api),
            (
                "20.10.24+dfsg1",
                ApiVersion {
                    major: 1,
                    minor: 41
                }
            )
        );
        let current = supported(&recorded("28")).unwrap();
        assert_eq!(
            (current.release.as_str(), current.api),
            (
                "28.5.2+dfsg4",
                ApiVersion {
                    major: 1,
                    minor: 51
                }
            )
        );
    }

    #[test]
    fn an_engine_older_than_the_oldest_tested_is_refused_with_what_to_do() {
        let mut answer = recorded("20.10");
        answer.version = Some("19.03.15".into());
        answer.api_version = Some("1.40".into());
        let error = supported(&answer).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Docker Engine 19.03.15 (API 1.40) is older than the oldest engine shoal is tested \
             against, 20.10 (API 1.41): upgrade the engine"
        );
    }

    #[test]
    fn api_versions_compare_as_numbers_not_text() {
        let v = |s| ApiVersion::parse(s).unwrap();
        assert!(v("1.9") < v("1.41"));
        assert!(v("1.51") > v("1.41"));
        assert_eq!(ApiVersion::parse("1"), None);
        assert_eq!(ApiVersion::parse("v1.41"), None);
    }
}
