//! Push webhooks: GitHub, Gitea/Forgejo and GitLab tell `shoal run` that a branch moved,
//! so it fetches now instead of at the next poll. Deciding is pure: which forge sent the
//! request, whether its signature (HMAC-SHA256 of the body) or token matches the secret,
//! and whether the push is to the ref shoal follows. The handler only signals the git
//! loop (coalesced with the poll: several pushes during a fetch make one more fetch).

use std::num::NonZeroU32;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Requests taken per second on average, and at once: a forge sends a few per push; more
/// is someone trying signatures.
const PER_SECOND: u32 = 1;
const BURST: u32 = 10;

/// The webhook of a running `shoal run`: its secret, the ref it follows, a rate limit.
pub struct Listener {
    secret: Vec<u8>,
    followed: Option<String>,
    limiter: governor::DefaultDirectRateLimiter,
}

impl Listener {
    /// `secret_file` holds the secret (a trailing newline is not part of it).
    pub fn from_file(secret_file: &Path, followed: Option<String>) -> Result<Listener, String> {
        let text = std::fs::read(secret_file).map_err(|e| {
            format!(
                "cannot read --webhook-secret-file {}: {e}",
                secret_file.display()
            )
        })?;
        let secret = text.trim_ascii_end().to_vec();
        if secret.is_empty() {
            return Err(format!(
                "--webhook-secret-file {} is empty",
                secret_file.display()
            ));
        }
        let quota = governor::Quota::per_second(NonZeroU32::new(PER_SECOND).expect("not 0"))
            .allow_burst(NonZeroU32::new(BURST).expect("not 0"));
        Ok(Listener {
            secret,
            followed,
            limiter: governor::RateLimiter::direct(quota),
        })
    }

    /// Whether one more request may be looked at now.
    pub fn admit(&self) -> bool {
        self.limiter.check().is_ok()
    }

    /// [`decide`] with this listener's secret and ref.
    pub fn decide(&self, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> Verdict {
        decide(header, body, &self.secret, self.followed.as_deref())
    }
}

/// Who sent the request, from its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    /// Gitea and Forgejo (which also send GitHub's headers: they are told first).
    Gitea,
    GitLab,
}

impl Forge {
    /// The forge whose event header the request carries.
    pub fn of(header: &dyn Fn(&str) -> Option<String>) -> Option<Forge> {
        if header("x-gitea-event").is_some() || header("x-forgejo-event").is_some() {
            Some(Forge::Gitea)
        } else if header("x-github-event").is_some() {
            Some(Forge::GitHub)
        } else if header("x-gitlab-event").is_some() {
            Some(Forge::GitLab)
        } else {
            None
        }
    }
}

/// What to do about one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A push to the followed ref: fetch now.
    Fetch { reference: String },
    /// GitHub's ping when the hook is set up.
    Pong,
    /// Signed, and not for shoal to act on (why, for the answer).
    Ignored(String),
    /// Not signed with the secret (why, for the answer; never the secret or signature).
    Unauthorized(&'static str),
}

/// The part of a push event shoal reads.
#[derive(Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    reference: Option<String>,
    repository: Option<Repository>,
    /// GitLab's name for the repository.
    project: Option<Repository>,
}

#[derive(Deserialize)]
struct Repository {
    default_branch: Option<String>,
}

/// Decides about a request: `header` reads a header (case-insensitive), `followed` is
/// `--git-ref` (None: the remote's HEAD).
pub fn decide(
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    secret: &[u8],
    followed: Option<&str>,
) -> Verdict {
    let Some(forge) = Forge::of(header) else {
        return Verdict::Unauthorized("not a GitHub, Gitea, Forgejo or GitLab webhook");
    };
    if let Err(why) = verify(forge, header, body, secret) {
        return Verdict::Unauthorized(why);
    }
    let event = match forge {
        Forge::GitHub => header("x-github-event"),
        Forge::Gitea => header("x-gitea-event").or_else(|| header("x-forgejo-event")),
        Forge::GitLab => header("x-gitlab-event"),
    }
    .unwrap_or_default();
    match event.as_str() {
        "ping" => return Verdict::Pong,
        "push" | "Push Hook" | "Tag Push Hook" => {}
        other => return Verdict::Ignored(format!("ignored: a {other:?} event, not a push")),
    }
    let Ok(push) = serde_json::from_slice::<Push>(body) else {
        return Verdict::Ignored("ignored: the push event's body is not JSON".into());
    };
    let Some(reference) = push.reference else {
        return Verdict::Ignored("ignored: the push names no ref".into());
    };
    let default_branch = push
        .repository
        .or(push.project)
        .and_then(|r| r.default_branch);
    if follows(followed, default_branch.as_deref(), &reference) {
        Verdict::Fetch { reference }
    } else {
        let following = followed.or(default_branch.as_deref()).unwrap_or("HEAD");
        Verdict::Ignored(format!(
            "ignored: a push to {reference}, following {following}"
        ))
    }
}

/// Whether a push to `reference` moves what shoal follows.
fn follows(followed: Option<&str>, default_branch: Option<&str>, reference: &str) -> bool {
    let names = |name: &str| {
        reference == name
            || reference.strip_prefix("refs/heads/") == Some(name)
            || reference.strip_prefix("refs/tags/") == Some(name)
    };
    match followed {
        // A commit never moves.
        Some(sha) if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => false,
        Some(name) => names(name),
        // The remote's HEAD: its default branch, when the forge says which.
        None => default_branch.is_none_or(names),
    }
}

/// Checks the request's signature (GitHub, Gitea: HMAC-SHA256 of the body, in hex) or
/// token (GitLab), in constant time.
fn verify(
    forge: Forge,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    secret: &[u8],
) -> Result<(), &'static str> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any size");
    let signature = match forge {
        Forge::GitLab => {
            let token = header("x-gitlab-token").ok_or("no X-Gitlab-Token")?;
            // Both sides through the same MAC: equal tokens give equal tags, compared in
            // constant time.
            mac.update(token.as_bytes());
            let mut expected = Hmac::<Sha256>::new_from_slice(secret).expect("any size");
            expected.update(secret);
            return mac
                .verify_slice(&expected.finalize().into_bytes())
                .map_err(|_| "wrong X-Gitlab-Token");
        }
        Forge::GitHub => header("x-hub-signature-256")
            .and_then(|s| s.strip_prefix("sha256=").map(str::to_string))
            .ok_or("no X-Hub-Signature-256")?,
        Forge::Gitea => header("x-gitea-signature")
            .or_else(|| header("x-forgejo-signature"))
            .ok_or("no X-Gitea-Signature")?,
    };
    let signature = hex::decode(signature).map_err(|_| "the signature is not hex")?;
    mac.update(body);
    mac.verify_slice(&signature)
        .map_err(|_| "the signature does not match the body and the secret")
}

#[cfg(test)]
mod tests;
