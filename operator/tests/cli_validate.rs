//! `shoal validate` as a user runs it: the binary, a directory, exit codes and output.

use std::path::Path;
use std::process::{Command, Output};

fn shoal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(args)
        .output()
        .expect("the shoal binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const WEB: &str =
    "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  image: nginx\n";

#[test]
fn the_example_validates_with_a_summary() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../desired-state");
    let output = shoal(&["validate", example]);
    assert_eq!(stderr(&output), "");
    assert_eq!(stdout(&output), "14 resources in 10 files\n");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn the_example_passes_strict_too() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../desired-state");
    let output = shoal(&["validate", "--strict", example]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn files_are_found_in_nested_directories_and_hidden_ones_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let limited = format!("{WEB}  resources:\n    limits: {{memory: 64M}}\n");
    write(dir.path(), "a/b/web.yml", &limited);
    write(
        dir.path(),
        "networks.yaml",
        "apiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: one\n---\n# only a comment\n---\napiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: two\n",
    );
    write(dir.path(), ".git/config.yaml", "not: [valid");
    write(dir.path(), ".hidden.yaml", "not: [valid");
    write(dir.path(), "README.md", "# notes");
    let output = shoal(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(stderr(&output), "");
    assert_eq!(stdout(&output), "3 resources in 2 files\n");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn errors_exit_1_and_list_every_problem_with_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "web.yaml", &format!("{WEB}  replicas: -1\n"));
    write(
        dir.path(),
        "net.yaml",
        "apiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: n\nspec:\n  driver: bridge\n",
    );
    let root = dir.path().display();
    let output = shoal(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        format!(
            "{root}/net.yaml:6:11: Network/n: spec.driver: unknown variant `bridge`, expected one of overlay\n\
             {root}/web.yaml:7:13: Service/web: spec.replicas: expected a whole number, 0 or more, not \"-1\"\n\
             2 error(s), 0 warning(s) in {root}\n"
        )
    );
}

#[test]
fn warnings_pass_unless_strict() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "web.yaml", WEB);
    let path = dir.path().to_str().unwrap();
    let warning = format!(
        "{path}/web.yaml:5:1: Service/web: warning: no memory limit: one task that leaks can \
         exhaust its node's memory and take every other task on it down (the 1 GB nodes this \
         project grew out of crashed that way); set spec.resources.limits.memory\n"
    );
    let output = shoal(&["validate", path]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stderr(&output), warning);
    assert_eq!(stdout(&output), "1 resources in 1 files, 1 warning(s)\n");

    let strict = shoal(&["validate", "--strict", path]);
    assert_eq!(strict.status.code(), Some(1));
    assert_eq!(
        stderr(&strict),
        format!(
            "{}1 error(s), 0 warning(s) in {path}\n",
            warning.replace("warning: no memory", "no memory")
        )
    );
}

#[test]
fn host_paths_are_allowed_by_flag_or_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    let web = format!(
        "{WEB}  resources:\n    limits: {{memory: 64M}}\n  mounts:\n    - {{type: bind, source: /var/run/docker.sock, target: /sock}}\n"
    );
    write(dir.path(), "web.yaml", &web);
    let path = dir.path().to_str().unwrap();
    assert_eq!(shoal(&["validate", path]).status.code(), Some(1));
    let allowed = shoal(&["validate", "--allow-host-path", "/var/run", path]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));

    write(
        dir.path(),
        ".shoal-policy.yaml",
        "allowHostPaths:\n  - /var/run/docker.sock\n",
    );
    let by_policy = shoal(&["validate", path]);
    assert_eq!(by_policy.status.code(), Some(0), "{}", stderr(&by_policy));

    write(dir.path(), ".shoal-policy.yaml", "allowHostPath: []\n");
    let bad_policy = shoal(&["validate", path]);
    assert_eq!(bad_policy.status.code(), Some(1));
    assert!(
        stderr(&bad_policy).starts_with(&format!(
            "{path}/.shoal-policy.yaml:1:1: policy: unknown field `allowHostPath`"
        )),
        "{}",
        stderr(&bad_policy)
    );
}

#[test]
fn an_empty_directory_is_valid_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let output = shoal(&["validate", path]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stderr(&output),
        format!(
            "{path}: warning: no resources found: applying this desired-state manages nothing\n"
        )
    );
    assert_eq!(stdout(&output), "0 resources in 0 files, 1 warning(s)\n");
}

#[test]
fn a_missing_directory_is_an_error() {
    let output = shoal(&["validate", "/nonexistent/desired-state"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot validate /nonexistent/desired-state: not a directory"),
        "{}",
        stderr(&output)
    );
}
