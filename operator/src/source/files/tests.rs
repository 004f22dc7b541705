use std::os::unix::fs::symlink;

use super::*;

const SERVICE: &str = "apiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: backend\n";

/// The problems of loading `dir`, as `validate` prints them, with `dir` cut off.
fn problems(dir: &Path) -> Vec<String> {
    let loaded = crate::source::load_dir(dir).expect("the directory opens");
    let prefix = format!("{}/", dir.display());
    loaded
        .problems
        .iter()
        .map(|p| p.to_string().replacen(&prefix, "", 1))
        .collect()
}

fn loaded_names(dir: &Path) -> Vec<String> {
    let loaded = crate::source::load_dir(dir).expect("the directory opens");
    loaded
        .desired
        .resources
        .iter()
        .map(|r| r.metadata.name.clone())
        .collect()
}

#[test]
fn a_dangling_symlink_is_an_error_of_its_own_and_the_rest_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), SERVICE).unwrap();
    symlink("gone.yaml", dir.path().join("b.yaml")).unwrap();
    symlink("gone", dir.path().join("services")).unwrap();
    // A name with a dot may still be a directory (apps.d).
    symlink("gone.d", dir.path().join("apps.d")).unwrap();
    assert_eq!(
        problems(dir.path()),
        [
            "apps.d:1:1: cannot read: a symbolic link to gone.d, which does not exist",
            "b.yaml:1:1: cannot read: a symbolic link to gone.yaml, which does not exist",
            "services:1:1: cannot read: a symbolic link to gone, which does not exist",
        ]
    );
    assert_eq!(loaded_names(dir.path()), ["backend"]);
}

#[test]
fn symlink_loops_are_errors_not_endless_walks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("services")).unwrap();
    std::fs::write(dir.path().join("services/a.yaml"), SERVICE).unwrap();
    symlink("..", dir.path().join("services/up")).unwrap();
    symlink("y.yaml", dir.path().join("x.yaml")).unwrap();
    symlink("x.yaml", dir.path().join("y.yaml")).unwrap();
    assert_eq!(
        problems(dir.path()),
        [
            "services/up:1:1: not read: a symbolic link to a directory that contains it (a loop)",
            "x.yaml:1:1: cannot read: its symbolic links lead back to themselves (a loop)",
            "y.yaml:1:1: cannot read: its symbolic links lead back to themselves (a loop)",
        ]
    );
    assert_eq!(loaded_names(dir.path()), ["backend"]);
}

#[test]
fn a_named_pipe_is_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), SERVICE).unwrap();
    let pipe = dir.path().join("pipe.yaml");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &pipe,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    assert_eq!(
        problems(dir.path()),
        ["pipe.yaml:1:1: not read: a named pipe, not a regular file"]
    );
    assert_eq!(loaded_names(dir.path()), ["backend"]);
}

#[test]
fn a_byte_that_is_not_utf8_is_told_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), SERVICE).unwrap();
    let mut text = b"apiVersion: shoal/v1alpha1\nkind: Network\nmetadata:\n  name: caf".to_vec();
    text.extend([0xe9, b'\n']);
    std::fs::write(dir.path().join("b.yaml"), text).unwrap();
    assert_eq!(
        problems(dir.path()),
        ["b.yaml:4:12: not UTF-8 text: byte 0xe9 here (save the file as UTF-8)"]
    );
    assert_eq!(loaded_names(dir.path()), ["backend"]);
}
