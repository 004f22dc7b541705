//! Finding desired-state's files under a directory and reading them as text. A file that
//! cannot be read is a located problem of its own (`file:1:1`, or the line of a byte that
//! is not UTF-8), and every other file is still read: one broken symlink must not hide
//! the rest of a commit's mistakes, nor make a partial desired-state look complete.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::diagnostics::{Location, Problem};

/// The `*.yaml` / `*.yml` files under a directory, sorted, and what could not be looked at.
#[derive(Debug, Default)]
pub struct Found {
    pub files: Vec<PathBuf>,
    pub problems: Vec<Problem>,
}

/// Every YAML file under `dir`, following symlinks (git-sync publishes its checkout as a
/// symlinked directory); hidden files and directories (`.git`) are skipped. Only `dir`
/// itself failing to open is an `Err`.
pub fn find_yaml_files(dir: &Path) -> std::io::Result<Found> {
    let mut found = Found::default();
    let top = std::fs::metadata(dir)?;
    let entries = std::fs::read_dir(dir)?;
    walk(dir, entries, &mut vec![(top.dev(), top.ino())], &mut found);
    found.files.sort();
    crate::diagnostics::sort(&mut found.problems);
    Ok(found)
}

/// `ancestors`: the device and inode of every directory from `dir` up to the top, so a
/// symlink back to one of them is told instead of followed without end.
fn walk(dir: &Path, entries: std::fs::ReadDir, ancestors: &mut Vec<(u64, u64)>, found: &mut Found) {
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                found.problems.push(cannot_read(dir, &error));
                return;
            }
        };
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            // Whatever its name, a broken link may stand for a directory of resources.
            Err(error) => {
                found.problems.push(broken_link(&path, &error));
                continue;
            }
        };
        if metadata.is_dir() {
            let id = (metadata.dev(), metadata.ino());
            if ancestors.contains(&id) {
                found.problems.push(Problem::error(
                    Location::new(&path, 1, 1),
                    None,
                    "not read: a symbolic link to a directory that contains it (a loop)",
                ));
                continue;
            }
            match std::fs::read_dir(&path) {
                Ok(entries) => {
                    ancestors.push(id);
                    walk(&path, entries, ancestors, found);
                    ancestors.pop();
                }
                Err(error) => found.problems.push(cannot_read(&path, &error)),
            }
        } else if is_yaml && metadata.is_file() {
            found.files.push(path);
        } else if is_yaml {
            // Opening a named pipe blocks until someone writes to it: never open one.
            found.problems.push(Problem::error(
                Location::new(&path, 1, 1),
                None,
                format!(
                    "not read: {}, not a regular file",
                    special(&metadata.file_type())
                ),
            ));
        }
    }
}

fn special(kind: &std::fs::FileType) -> &'static str {
    if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

fn broken_link(path: &Path, error: &std::io::Error) -> Problem {
    let message = match (std::fs::read_link(path), error.raw_os_error()) {
        (_, Some(code)) if code == rustix::io::Errno::LOOP.raw_os_error() => {
            "cannot read: its symbolic links lead back to themselves (a loop)".to_string()
        }
        (Ok(target), _) if error.kind() == std::io::ErrorKind::NotFound => format!(
            "cannot read: a symbolic link to {}, which does not exist",
            target.display()
        ),
        _ => return cannot_read(path, error),
    };
    Problem::error(Location::new(path, 1, 1), None, message)
}

fn cannot_read(path: &Path, error: &std::io::Error) -> Problem {
    let reason = match error.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::NotFound => "it no longer exists".to_string(),
        _ => {
            let text = error.to_string();
            // "Is a directory (os error 21)": the OS's words, without the number.
            match text.rsplit_once(" (os error ") {
                Some((words, _)) => words.to_lowercase(),
                None => text,
            }
        }
    };
    Problem::error(
        Location::new(path, 1, 1),
        None,
        format!("cannot read: {reason}"),
    )
}

/// A file's text; a byte that is not UTF-8 is told at its line and column.
pub fn read_text(file: &Path) -> Result<String, Problem> {
    let bytes = std::fs::read(file).map_err(|error| cannot_read(file, &error))?;
    String::from_utf8(bytes).map_err(|error| {
        let good = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        // The prefix is valid UTF-8 by construction.
        let good = std::str::from_utf8(good).unwrap_or_default();
        let line = good.matches('\n').count() + 1;
        let column = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let byte = error.as_bytes()[good.len()];
        Problem::error(
            Location::new(file, line, column),
            None,
            format!("not UTF-8 text: byte 0x{byte:02x} here (save the file as UTF-8)"),
        )
    })
}

#[cfg(test)]
mod tests;
