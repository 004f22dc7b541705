//! `dependsOn` and Secret/Config rules, as `shoal validate` tells them.

use super::problems;

fn service(name: &str, depends_on: &str) -> String {
    format!(
        "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  image: nginx:1\n  dependsOn: {depends_on}\n  resources:\n    limits:\n      memory: 16M\n---\n"
    )
}

#[test]
fn depends_on_names_a_known_resource_never_itself_and_never_goes_round() {
    let yaml = service("a", "[Service/b, Volume/x, GlusterVolume/none, Service/a]")
        + &service("b", "[Service/c]")
        + &service("c", "[Service/a]");
    assert_eq!(
        problems(&yaml),
        [
            "t.yaml:7:3: Service/a: dependsOn goes round in a circle: Service/a -> Service/b -> Service/c -> Service/a",
            "t.yaml:7:26: Service/a: \"Volume/x\": write Kind/name, Kind one of Node, Network, GlusterVolume, Secret, Config, Service",
            "t.yaml:7:36: Service/a: GlusterVolume/none is not in desired-state",
            "t.yaml:7:56: Service/a: a service cannot depend on itself",
        ]
    );
}

#[test]
fn a_secret_has_one_source_and_never_a_plain_file_and_a_config_is_never_generated() {
    let yaml = "apiVersion: shoal/v1alpha1\nkind: Secret\nmetadata:\n  name: s\nspec:\n  generate:\n    length: 8\n  age: ../x.age\n---\napiVersion: shoal/v1alpha1\nkind: Config\nmetadata:\n  name: c\nspec:\n  generate:\n    length: 32\n---\napiVersion: shoal/v1alpha1\nkind: Config\nmetadata:\n  name: e\nspec:\n  fromFile: relative.conf\n";
    assert_eq!(
        problems(yaml),
        [
            "t.yaml:7:13: Secret/s: length 8 is out of range: 16 to 4096",
            "t.yaml:8:8: Secret/s: \"../x.age\" must be a path inside desired-state, relative to this file (for a file on the host, use fromFile)",
            "t.yaml:8:8: Secret/s: only one of file, fromFile, generate, sops or age may be given",
            "t.yaml:15:3: Config/c: generate makes secret values: a config's data comes from a file",
            "t.yaml:23:13: Config/e: \"relative.conf\" must be an absolute path on the host",
        ]
    );
}
