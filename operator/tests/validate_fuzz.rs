//! Random mutations of the example desired-state (seeded, so a failure replays): a line
//! deleted, doubled, swapped, re-indented or cut short, a character replaced by one YAML
//! cares about, a token inserted. Whatever comes of it, validation must not panic or
//! hang, and must locate every problem in a file of the directory (`file:line:col`); the
//! command must exit 0 or 1 and print nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use shoal::source::validate::{ValidateOptions, validate_dir};

const SEED: u64 = 20_261_203;
const CASES: usize = 3000;
const CLI_CASES: usize = 100;
/// Validating the example takes milliseconds: a case that takes this long hangs.
const HANG: Duration = Duration::from_secs(20);

const TOKENS: &[&str] = &[
    ":",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    "#",
    "&a ",
    "*a",
    "!!str ",
    "<<: ",
    "---\n",
    "\t",
    "é",
    "\u{feff}",
    "0",
    "-1",
    "99999999999999999999",
    "1e400",
    "null",
    "~",
    "..",
    "/",
    "|\n",
    ">-\n",
    "? ",
    "%YAML 1.2\n",
    "\\",
    "\0",
];

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../desired-state")
}

/// The example's YAML files, as (path under the example, text).
fn example_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, base: &Path, found: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, found);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((path.strip_prefix(base).unwrap().to_path_buf(), text));
            }
        }
    }
    let mut found = Vec::new();
    walk(&example(), &example(), &mut found);
    found.sort();
    found
}

/// One random change to `text`.
fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return TOKENS[rng.usize(..TOKENS.len())].to_string();
    }
    let at = rng.usize(..lines.len());
    match rng.u8(..7) {
        0 => {
            lines.remove(at);
        }
        1 => {
            let line = lines[at].clone();
            lines.insert(at, line);
        }
        2 => {
            let other = rng.usize(..lines.len());
            lines.swap(at, other);
        }
        3 => {
            let line = &lines[at];
            lines[at] = if rng.bool() {
                format!(" {line}")
            } else {
                line.trim_start().to_string()
            };
        }
        4 => lines.truncate(at),
        5 => {
            let chars: Vec<char> = lines[at].chars().collect();
            let cut = rng.usize(..=chars.len());
            let token = TOKENS[rng.usize(..TOKENS.len())];
            let skip = usize::from(cut < chars.len() && rng.bool());
            lines[at] = chars[..cut].iter().collect::<String>()
                + token
                + &chars[(cut + skip).min(chars.len())..]
                    .iter()
                    .collect::<String>();
        }
        _ => {
            let token = TOKENS[rng.usize(..TOKENS.len())];
            lines[at].push_str(token);
        }
    }
    lines.join("\n") + "\n"
}

/// A copy of the example with one file mutated 1-3 times; the mutated file's path.
fn mutated_example(rng: &mut fastrand::Rng, files: &[(PathBuf, String)], dir: &Path) -> PathBuf {
    let chosen = rng.usize(..files.len());
    for (index, (path, text)) in files.iter().enumerate() {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let mut text = text.clone();
        if index == chosen {
            for _ in 0..rng.usize(1..=3) {
                text = mutate(rng, &text);
            }
        }
        std::fs::write(&target, text).unwrap();
    }
    files[chosen].0.clone()
}

#[test]
fn mutations_of_the_example_never_panic_hang_or_go_unlocated() {
    let files = example_files();
    let mut rng = fastrand::Rng::with_seed(SEED);
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..CASES {
        let dir = tempfile::tempdir().unwrap();
        let mutated = mutated_example(&mut rng, &files, dir.path());
        let root = dir.path().to_path_buf();
        let (sent, received) = mpsc::channel();
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(|| {
                validate_dir(&root, &ValidateOptions::default()).map(|v| v.problems)
            });
            let _ = sent.send(outcome);
        });
        let outcome = received
            .recv_timeout(HANG)
            .unwrap_or_else(|_| panic!("case {case} ({mutated:?}) hangs"));
        let problems = outcome
            .unwrap_or_else(|_| panic!("case {case} ({mutated:?}) panics"))
            .unwrap_or_else(|e| panic!("case {case}: {e}"));
        for problem in &problems {
            assert!(
                problem.location.line >= 1
                    && problem.location.column >= 1
                    && problem.location.file.starts_with(dir.path()),
                "case {case} ({mutated:?}): unlocated: {problem}"
            );
        }
        if problems.iter().any(|p| p.is_error()) {
            invalid += 1;
        } else {
            valid += 1;
        }
    }
    // The mutations must exercise both outcomes, or the test proves little.
    assert!(
        invalid > CASES / 2 && valid > 0,
        "{valid} valid, {invalid} invalid"
    );
}

#[test]
fn the_command_exits_0_or_1_and_prints_only_located_lines() {
    let files = example_files();
    let mut rng = fastrand::Rng::with_seed(SEED ^ 1);
    for case in 0..CLI_CASES {
        let dir = tempfile::tempdir().unwrap();
        let mutated = mutated_example(&mut rng, &files, dir.path());
        let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
            .args(["validate", dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "case {case} ({mutated:?}): exit {code:?}\n{stderr}"
        );
        let prefix = format!("{}/", dir.path().display());
        for line in stderr.lines() {
            let located = line.strip_prefix(&prefix).is_some_and(|rest| {
                let mut parts = rest.splitn(4, ':');
                let (file, row, column) = (parts.next(), parts.next(), parts.next());
                file.is_some_and(|f| f.ends_with(".yaml"))
                    && row.is_some_and(|r| r.parse::<usize>().is_ok_and(|r| r >= 1))
                    && column.is_some_and(|c| c.parse::<usize>().is_ok_and(|c| c >= 1))
            });
            let summary = line.ends_with(&format!(" in {}", dir.path().display()));
            assert!(located || summary, "case {case} ({mutated:?}): {line}");
        }
    }
}
