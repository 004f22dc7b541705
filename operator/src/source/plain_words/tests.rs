//! Each kind of deserialization error, fed through `load_text`, asserting the exact
//! `file:line:col: Kind/name: message`.

use std::path::Path;

use crate::source::{Loaded, load_text};

/// Loads `yaml` as the file `t.yaml`; every problem, rendered.
fn problems(yaml: &str) -> Vec<String> {
    let mut loaded = Loaded::default();
    load_text(Path::new("t.yaml"), yaml, &mut loaded);
    loaded.problems.iter().map(ToString::to_string).collect()
}

const HEAD: &str = "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n";

#[test]
fn a_missing_field_is_told_at_the_mapping_that_lacks_it() {
    // The last key of spec is nested: serde stops reading there.
    assert_eq!(
        problems(&format!(
            "{HEAD}  replicas: 2\n  resources:\n    limits:\n      memory: 64M\n"
        )),
        ["t.yaml:5:1: Service/web: spec.image: missing (required)"]
    );
    assert_eq!(
        problems(
            "apiVersion: shoal/v1alpha1\nkind: GlusterVolume\nmetadata:\n  name: vol\nspec:\n  \
             replica: 3\n  bricks: []\n"
        ),
        ["t.yaml:5:1: GlusterVolume/vol: spec.mountPoint: missing (required)"]
    );
    assert_eq!(
        problems(&format!(
            "{HEAD}  image: nginx\n  mounts:\n    - type: bind\n      source: /srv\n  replicas: 1\n"
        )),
        ["t.yaml:8:7: Service/web: spec.mounts[0].target: missing (required)"]
    );
}

#[test]
fn numbers_and_booleans_are_named_in_words() {
    assert_eq!(
        problems(&format!("{HEAD}  image: nginx\n  replicas: -1\n")),
        ["t.yaml:7:13: Service/web: spec.replicas: expected a whole number, 0 or more, not \"-1\""]
    );
    assert_eq!(
        problems(&format!("{HEAD}  image: nginx\n  replicas: many\n")),
        [
            "t.yaml:7:13: Service/web: spec.replicas: expected a whole number, 0 or more, not \"many\""
        ]
    );
}

#[test]
fn a_key_written_twice_names_the_line_of_the_first() {
    assert_eq!(
        problems(
            "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web\n  name: api\nspec:\n  \
             image: nginx\n"
        ),
        ["t.yaml:5:3: Service/web: metadata.name: written twice (first at line 4)"]
    );
}

#[test]
fn env_written_as_compose_does_says_what_to_write() {
    assert_eq!(
        problems(&format!("{HEAD}  image: nginx\n  env:\n    DB_HOST: db\n")),
        [
            "t.yaml:8:5: Service/web: spec.env: expected a list of `- name: KEY` items with \
             `value:` or `secretFile:` (compose's `KEY: value` map is not accepted), e.g. \
             `- {name: DB_HOST, value: db}`"
        ]
    );
    assert_eq!(
        problems(&format!("{HEAD}  image: [nginx]\n")),
        ["t.yaml:6:10: Service/web: spec.image: expected text, not a list or a mapping"]
    );
    assert_eq!(
        problems(&format!("{HEAD}  image: nginx\n  networks: backend\n")),
        ["t.yaml:7:13: Service/web: spec.networks: expected a list (lines starting with `- `)"]
    );
}

#[test]
fn a_document_nested_too_deeply_says_so() {
    let nested = format!(
        "{HEAD}  image: nginx\n  labels:\n    a: {}{}\n",
        "[".repeat(3000),
        "]".repeat(3000)
    );
    assert_eq!(
        problems(&nested),
        ["t.yaml:8:263: the document is nested too deeply to read"]
    );
}
