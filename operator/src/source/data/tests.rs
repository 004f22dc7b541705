use std::path::Path;
use std::process::Command;

use age::secrecy::ExposeSecret;

use super::*;
use crate::resources::data::Resolved;
use crate::resources::{Kind, Spec};
use crate::source::validate::{ValidateOptions, Validation, validate_dir};

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

fn secret(name: &str, spec: &str) -> String {
    format!("apiVersion: shoal/v1alpha1\nkind: Secret\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

fn validate(dir: &Path, key: Option<AgeKey>) -> Validation {
    let options = ValidateOptions {
        age_key: key,
        ..ValidateOptions::default()
    };
    validate_dir(dir, &options).unwrap()
}

fn resolved(validation: &Validation, kind: Kind, name: &str) -> Resolved {
    match &validation.desired.find(kind, name).unwrap().spec {
        Spec::Secret(spec) | Spec::Config(spec) => spec.resolved.clone(),
        _ => unreachable!(),
    }
}

fn messages(validation: &Validation) -> Vec<String> {
    validation.problems.iter().map(|p| p.to_string()).collect()
}

/// A new age identity, written as a key file; its recipient.
fn age_key(dir: &Path) -> (AgeKey, age::x25519::Recipient) {
    let identity = age::x25519::Identity::generate();
    let path = dir.join("key.txt");
    std::fs::write(&path, identity.to_string().expose_secret()).unwrap();
    (AgeKey::File(path), identity.to_public())
}

#[test]
fn an_age_file_is_decrypted_with_the_key_and_never_shown() {
    let keys = tempfile::tempdir().unwrap();
    let tree = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(keys.path());
    let armored = age::encrypt_and_armor(&recipient, b"s3cret-value").unwrap();
    write(tree.path(), "db.age", &armored);
    write(tree.path(), "db.yaml", &secret("db", "  age: db.age\n"));

    let validation = validate(tree.path(), Some(key));
    assert_eq!(messages(&validation), Vec::<String>::new());
    let data = resolved(&validation, Kind::Secret, "db");
    assert_eq!(data, Resolved::data(b"s3cret-value".to_vec()));
    assert_eq!(
        validation.desired.data_object(Kind::Secret, "db"),
        Some("db-bf496b76".to_string())
    );
    let shown = format!("{:?}", validation.desired);
    assert!(!shown.contains("s3cret-value"), "{shown}");
}

#[test]
fn a_wrong_or_missing_key_fails_only_that_resource_and_a_missing_file_fails_the_revision() {
    let keys = tempfile::tempdir().unwrap();
    let tree = tempfile::tempdir().unwrap();
    let (_, recipient) = age_key(keys.path());
    let other = tempfile::tempdir().unwrap();
    let (wrong, _) = age_key(other.path());
    write(
        tree.path(),
        "db.age",
        &age::encrypt_and_armor(&recipient, b"x").unwrap(),
    );
    write(tree.path(), "db.yaml", &secret("db", "  age: db.age\n"));
    write(
        tree.path(),
        "api.yaml",
        &secret("api", "  generate:\n    length: 32\n"),
    );

    let validation = validate(tree.path(), Some(wrong));
    assert_eq!(validation.errors(), 0, "{:?}", messages(&validation));
    let file = tree.path().join("db.yaml");
    assert_eq!(
        messages(&validation),
        [format!(
            "{}:6:8: Secret/db: warning: cannot decrypt db.age: No matching keys found",
            file.display()
        )]
    );
    assert!(matches!(
        resolved(&validation, Kind::Secret, "db"),
        Resolved::Failed(why) if why.ends_with("cannot decrypt db.age: No matching keys found")
    ));
    assert!(matches!(
        resolved(&validation, Kind::Secret, "api"),
        Resolved::Generated { .. }
    ));

    let validation = validate(tree.path(), None);
    assert_eq!(
        messages(&validation),
        [format!(
            "{}:6:8: Secret/db: warning: db.age is age-encrypted and shoal was given no key (--age-key-file)",
            file.display()
        )]
    );

    std::fs::remove_file(tree.path().join("db.age")).unwrap();
    let validation = validate(tree.path(), None);
    assert_eq!(validation.errors(), 1);
    assert_eq!(
        messages(&validation),
        [format!(
            "{}:6:8: Secret/db: db.age: no such file beside this resource",
            file.display()
        )]
    );
}

#[test]
fn a_config_is_read_from_its_file_and_a_secret_never_is() {
    let tree = tempfile::tempdir().unwrap();
    write(tree.path(), "lb.conf", "events {}\n");
    write(
        tree.path(),
        "lb.yaml",
        "apiVersion: shoal/v1alpha1\nkind: Config\nmetadata:\n  name: lb\nspec:\n  file: lb.conf\n",
    );
    write(tree.path(), "pw.txt", "hunter2");
    write(tree.path(), "pw.yaml", &secret("pw", "  file: pw.txt\n"));
    let validation = validate(tree.path(), None);
    assert_eq!(
        resolved(&validation, Kind::Config, "lb"),
        Resolved::data(b"events {}\n".to_vec())
    );
    assert_eq!(
        messages(&validation),
        [format!(
            "{}:6:9: Secret/pw: a secret's value must not be kept in git in the clear: encrypt \
             it (sops, age), keep it on the host (fromFile) or let shoal generate it",
            tree.path().join("pw.yaml").display()
        )]
    );
}

/// sops, as deploy/tools/install-sops installs it (tests/run does, first).
fn sops() -> Command {
    let sops = std::env::var("SHOAL_SOPS").unwrap_or_else(|_| "sops".into());
    let found = Command::new(&sops)
        .args(["--version", "--disable-version-check"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "the sops tool is needed: run deploy/tools/install-sops (tests/run does)"
    );
    Command::new(sops)
}

#[test]
fn a_sops_file_is_decrypted_by_sops_with_the_key_given() {
    let keys = tempfile::tempdir().unwrap();
    let tree = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(keys.path());
    write(
        tree.path(),
        "plain.yaml",
        "db_password: s3cret-sops\nother: x\n",
    );
    let encrypted = sops()
        .args(["--encrypt", "--age", &recipient.to_string()])
        .arg(tree.path().join("plain.yaml"))
        .output()
        .unwrap();
    assert!(
        encrypted.status.success(),
        "{}",
        String::from_utf8_lossy(&encrypted.stderr)
    );
    std::fs::remove_file(tree.path().join("plain.yaml")).unwrap();
    std::fs::write(tree.path().join("secrets.sops.yaml"), &encrypted.stdout).unwrap();
    write(
        tree.path(),
        "db.yaml",
        &secret(
            "db",
            "  sops:\n    file: secrets.sops.yaml\n    key: db_password\n",
        ),
    );

    let validation = validate(tree.path(), Some(key));
    assert_eq!(messages(&validation), Vec::<String>::new());
    assert_eq!(
        resolved(&validation, Kind::Secret, "db"),
        Resolved::data(b"s3cret-sops".to_vec())
    );

    let other = tempfile::tempdir().unwrap();
    let (wrong, _) = age_key(other.path());
    let validation = validate(tree.path(), Some(wrong));
    assert_eq!(validation.errors(), 0);
    let message = messages(&validation).join("\n");
    assert!(
        message.starts_with(&format!(
            "{}:6:3: Secret/db: warning: sops cannot decrypt secrets.sops.yaml: ",
            tree.path().join("db.yaml").display()
        )),
        "{message}"
    );
    assert!(!message.contains("s3cret-sops"), "{message}");
}
