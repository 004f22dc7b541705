//! Requests in the shapes GitHub, Gitea/Forgejo and GitLab send (their headers, and the
//! fields of a push event shoal reads), signed in the test with a known secret.

use std::collections::HashMap;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::*;

const SECRET: &[u8] = b"webhook-secret-1";

fn push(reference: &str) -> Vec<u8> {
    serde_json::json!({
        "ref": reference,
        "before": "0000000000000000000000000000000000000000",
        "after": "5c3a1f0e9d8b7a6c5b4a39281706f5e4d3c2b1a0",
        "repository": {"full_name": "ops/platform", "default_branch": "main"},
        "pusher": {"name": "someone"}
    })
    .to_string()
    .into_bytes()
}

fn sign(body: &[u8], secret: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn verdict(headers: &[(&str, String)], body: &[u8], followed: Option<&str>) -> Verdict {
    let map: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    decide(&|name| map.get(name).cloned(), body, SECRET, followed)
}

fn github(event: &str, body: &[u8], secret: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("X-GitHub-Event", event.to_string()),
        (
            "X-GitHub-Delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
        ),
        (
            "X-Hub-Signature-256",
            format!("sha256={}", sign(body, secret)),
        ),
    ]
}

#[test]
fn a_signed_github_push_to_the_followed_branch_fetches() {
    let body = push("refs/heads/main");
    assert_eq!(
        verdict(&github("push", &body, SECRET), &body, Some("main")),
        Verdict::Fetch {
            reference: "refs/heads/main".into()
        }
    );
    // No --git-ref: the remote's HEAD, the default branch the forge names.
    assert_eq!(
        verdict(&github("push", &body, SECRET), &body, None),
        Verdict::Fetch {
            reference: "refs/heads/main".into()
        }
    );
    let other = push("refs/heads/feature");
    assert_eq!(
        verdict(&github("push", &other, SECRET), &other, Some("main")),
        Verdict::Ignored("ignored: a push to refs/heads/feature, following main".into())
    );
    assert_eq!(
        verdict(&github("push", &other, SECRET), &other, None),
        Verdict::Ignored("ignored: a push to refs/heads/feature, following main".into())
    );
    let tag = push("refs/tags/v2");
    assert_eq!(
        verdict(&github("push", &tag, SECRET), &tag, Some("v2")),
        Verdict::Fetch {
            reference: "refs/tags/v2".into()
        }
    );
    let sha = "5c3a1f0e9d8b7a6c5b4a39281706f5e4d3c2b1a0";
    assert_eq!(
        verdict(&github("push", &body, SECRET), &body, Some(sha)),
        Verdict::Ignored(format!(
            "ignored: a push to refs/heads/main, following {sha}"
        ))
    );
    assert_eq!(
        verdict(&github("ping", b"{}", SECRET), b"{}", Some("main")),
        Verdict::Pong
    );
    assert_eq!(
        verdict(&github("issues", b"{}", SECRET), b"{}", Some("main")),
        Verdict::Ignored("ignored: a \"issues\" event, not a push".into())
    );
}

#[test]
fn a_wrong_missing_or_tampered_signature_is_unauthorized() {
    let body = push("refs/heads/main");
    assert_eq!(
        verdict(&github("push", &body, b"other-secret"), &body, Some("main")),
        Verdict::Unauthorized("the signature does not match the body and the secret")
    );
    let tampered = push("refs/heads/main\u{0}");
    assert_eq!(
        verdict(&github("push", &body, SECRET), &tampered, Some("main")),
        Verdict::Unauthorized("the signature does not match the body and the secret")
    );
    assert_eq!(
        verdict(&[("X-GitHub-Event", "push".into())], &body, Some("main")),
        Verdict::Unauthorized("no X-Hub-Signature-256")
    );
    assert_eq!(
        verdict(
            &[
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", "sha256=zz".into())
            ],
            &body,
            Some("main")
        ),
        Verdict::Unauthorized("the signature is not hex")
    );
    assert_eq!(
        verdict(&[], &body, Some("main")),
        Verdict::Unauthorized("not a GitHub, Gitea, Forgejo or GitLab webhook")
    );
}

#[test]
fn gitea_forgejo_and_gitlab_are_verified_their_own_way() {
    let body = push("refs/heads/main");
    // Gitea sends GitHub's headers too, signed the same way; its own header decides.
    let gitea = vec![
        ("X-Gitea-Event", "push".to_string()),
        ("X-GitHub-Event", "push".to_string()),
        ("X-Gitea-Signature", sign(&body, SECRET)),
    ];
    assert_eq!(
        verdict(&gitea, &body, Some("main")),
        Verdict::Fetch {
            reference: "refs/heads/main".into()
        }
    );
    let forgejo = vec![
        ("X-Forgejo-Event", "push".to_string()),
        ("X-Forgejo-Signature", sign(&body, b"nope")),
    ];
    assert_eq!(
        verdict(&forgejo, &body, Some("main")),
        Verdict::Unauthorized("the signature does not match the body and the secret")
    );
    let gitlab_body = serde_json::json!({
        "object_kind": "push",
        "ref": "refs/heads/main",
        "project": {"path_with_namespace": "ops/platform", "default_branch": "main"}
    })
    .to_string()
    .into_bytes();
    let gitlab = |token: &str| {
        vec![
            ("X-Gitlab-Event", "Push Hook".to_string()),
            ("X-Gitlab-Token", token.to_string()),
        ]
    };
    assert_eq!(
        verdict(&gitlab("webhook-secret-1"), &gitlab_body, None),
        Verdict::Fetch {
            reference: "refs/heads/main".into()
        }
    );
    assert_eq!(
        verdict(&gitlab("webhook-secret-2"), &gitlab_body, None),
        Verdict::Unauthorized("wrong X-Gitlab-Token")
    );
    assert_eq!(
        verdict(
            &[("X-Gitlab-Event", "Push Hook".into())],
            &gitlab_body,
            None
        ),
        Verdict::Unauthorized("no X-Gitlab-Token")
    );
}
