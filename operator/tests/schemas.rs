//! The committed JSON Schemas: fresh, complete, documented, and referenced by the examples.

use std::path::PathBuf;

use serde_json::Value;
use shoal::resources::Kind;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn crds_are_fresh() {
    for (name, text) in shoal::schema::all() {
        let path = repo().join("crds").join(&name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "crds/{name} is stale: run `cargo run -p shoal -- schema --out crds` and commit it"
        );
    }
    let committed = std::fs::read_dir(repo().join("crds")).unwrap().count();
    assert_eq!(
        committed,
        Kind::ALL.len(),
        "crds/ holds a schema per kind, nothing else"
    );
}

/// Every property of every kind carries a description: the schema is the field reference.
#[test]
fn every_field_is_documented() {
    fn walk(value: &Value, at: &str, undocumented: &mut Vec<String>) {
        if let Some(properties) = value.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                if property.get("description").is_none() {
                    undocumented.push(format!("{at}.{name}"));
                }
                walk(property, &format!("{at}.{name}"), undocumented);
            }
        }
        if let Some(definitions) = value.get("$defs").and_then(Value::as_object) {
            for (name, definition) in definitions {
                walk(definition, name, undocumented);
            }
        }
    }
    let mut undocumented = Vec::new();
    for kind in Kind::ALL {
        walk(
            &shoal::schema::for_kind(kind),
            kind.as_str(),
            &mut undocumented,
        );
    }
    assert_eq!(undocumented, Vec::<String>::new());
}

#[test]
fn schemas_reject_unknown_fields_and_pin_kind_and_version() {
    let service = shoal::schema::for_kind(Kind::Service);
    assert_eq!(service["additionalProperties"], Value::Bool(false));
    assert_eq!(service["properties"]["kind"]["const"], "Service");
    assert_eq!(
        service["properties"]["apiVersion"]["const"],
        "shoal/v1alpha1"
    );
    assert_eq!(
        service["$defs"]["ServiceSpec"]["additionalProperties"],
        Value::Bool(false)
    );
    assert_eq!(
        service["$defs"]["ServiceSpec"]["required"],
        serde_json::json!(["image"])
    );
}

/// Each example file opens with a yaml-language-server line naming the schema of the kind
/// it holds, by a relative path that exists.
#[test]
fn example_files_reference_their_schema() {
    let mut checked = 0;
    let mut pending = vec![repo().join("desired-state")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            // Data of Config resources (an nginx config) is not a resource.
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let first = text.lines().next().unwrap_or_default();
            let reference = first
                .strip_prefix("# yaml-language-server: $schema=")
                .unwrap_or_else(|| panic!("{} does not open with a $schema line", path.display()));
            let schema = dir.join(reference);
            assert!(
                schema.exists(),
                "{}: {} does not exist",
                path.display(),
                schema.display()
            );
            let kinds: Vec<&str> = text
                .lines()
                .filter_map(|line| line.strip_prefix("kind: "))
                .collect();
            let expected = format!("{}.schema.json", kinds[0].to_ascii_lowercase());
            assert!(reference.ends_with(&expected), "{}", path.display());
            assert!(
                kinds.iter().all(|k| *k == kinds[0]),
                "{}: one kind per file",
                path.display()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}
