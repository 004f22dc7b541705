//! Following desired-state for `shoal run`: a watched directory or a git repository.
//! Each new revision is loaded and validated; a valid one is put in force and triggers
//! every resource, an invalid or unreadable one is reported and the last good one stays.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::{self, UnboundedSender};

use super::events::{Event, Reason};
use super::run::{RunError, RunOptions, SourceOptions};
use super::shared::{Shared, Snapshot, SourceInfo, SourceKind};
use super::{Trigger, Why};
use crate::source::git::GitSource;
use crate::source::validate::{ValidateOptions, validate_dir};
use crate::source::watch::{DataFiles, DirWatch};

/// What loading a revision came to.
#[derive(Clone, Debug, PartialEq)]
enum Loaded {
    /// Valid, different from the one before, and in force now.
    InForce,
    /// Valid and the same as the one in force: nothing to look at.
    Unchanged,
    /// Invalid: not applied, with why (final for this revision).
    Invalid(String),
    /// Could not be read: worth another try.
    Unreadable,
}

/// Loads and validates `dir`; a valid one becomes the desired-state in force.
fn load(
    shared: &Shared,
    dir: &std::path::Path,
    options: &ValidateOptions,
    revision: Option<String>,
) -> Loaded {
    let label = revision.as_deref().map(short).unwrap_or("directory");
    match validate_dir(dir, options) {
        Ok(validation) if validation.errors() == 0 => {
            let count = validation.desired.resources.len();
            let changed = shared.set_snapshot(Snapshot {
                desired: validation.desired,
                revision: revision.clone(),
            });
            shared.update_readiness(|r| r.source_error = None);
            if !changed {
                return Loaded::Unchanged;
            }
            shared.record(
                Event::new(
                    Reason::RevisionLoaded,
                    None,
                    format!("desired-state {label} loaded: {count} resources"),
                )
                .with_revision(revision),
            );
            Loaded::InForce
        }
        Ok(validation) => {
            let problems: Vec<String> = validation
                .problems
                .iter()
                .filter(|p| p.is_error())
                .map(|p| p.to_string())
                .collect();
            let message = format!(
                "desired-state {label} is invalid, not applied ({} error(s)); the last good one stays: {}",
                problems.len(),
                problems.join("; ")
            );
            shared.update_readiness(|r| r.source_error = Some(message.clone()));
            shared.record(
                Event::new(Reason::InvalidRevision, None, message.clone()).with_revision(revision),
            );
            Loaded::Invalid(message)
        }
        Err(error) => {
            let message = format!("desired-state {label} cannot be read: {error}");
            shared.update_readiness(|r| r.source_error = Some(message.clone()));
            shared.record(Event::new(Reason::SourceFailed, None, message).with_revision(revision));
            Loaded::Unreadable
        }
    }
}

/// The first 12 characters of a revision, as people quote commits.
fn short(sha: &str) -> &str {
    sha.char_indices()
        .nth(12)
        .map_or(sha, |(end, _)| &sha[..end])
}

/// Starts following the source: loads it, then again on every change.
pub fn spawn(
    options: &RunOptions,
    shared: Arc<Shared>,
    triggers: UnboundedSender<Trigger>,
) -> Result<(), RunError> {
    let validate = options.validate.clone();
    shared.update_source(|info| *info = described(&options.source));
    match &options.source {
        SourceOptions::Dir { dir, poll } => {
            let (changed, changes) = mpsc::unbounded_channel();
            let data_files = DataFiles::default();
            let watch = DirWatch::start(dir, options.debounce, *poll, changed, data_files.clone())
                .map_err(|e| RunError::Watch(dir.clone(), e))?;
            let loaded = load(&shared, dir, &validate, None);
            shared.update_source(|info| info.last_fetch = Some(SystemTime::now()));
            if loaded == Loaded::InForce {
                let _ = triggers.send(Trigger::All(Why::Revision));
            }
            watch_data_files(&shared, &data_files);
            let (rewatch, rewatches) = mpsc::unbounded_channel::<()>();
            let source = DirSource {
                dir: dir.clone(),
                data_files,
                validate,
                resync: options.resync,
                shared,
                triggers,
            };
            tokio::spawn(source.follow(changes, rewatch));
            tokio::spawn(keep_watching(watch, dir.clone(), rewatches));
        }
        SourceOptions::Git { git, interval } => {
            tokio::spawn(follow_git(
                git.clone(),
                *interval,
                validate,
                shared,
                triggers,
            ));
        }
    }
    Ok(())
}

/// Where desired-state comes from, as the dashboard shows it (no credentials).
fn described(source: &SourceOptions) -> SourceInfo {
    match source {
        SourceOptions::Dir { dir, .. } => SourceInfo {
            kind: SourceKind::Directory,
            location: dir.display().to_string(),
            ..SourceInfo::default()
        },
        SourceOptions::Git { git, .. } => SourceInfo {
            kind: SourceKind::Git,
            location: git.shown_url(),
            reference: git.reference.clone(),
            path: git.path.as_ref().map(|p| p.display().to_string()),
            ..SourceInfo::default()
        },
    }
}

/// The data files of the desired-state in force are watched too.
fn watch_data_files(shared: &Shared, data_files: &DataFiles) {
    if let Some(snapshot) = shared.snapshot() {
        *data_files
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            crate::source::data::file_names(&snapshot.desired);
    }
}

struct DirSource {
    dir: PathBuf,
    data_files: DataFiles,
    validate: ValidateOptions,
    resync: Duration,
    shared: Arc<Shared>,
    triggers: UnboundedSender<Trigger>,
}

impl DirSource {
    /// Reads the directory again on every change, and at each resync period anyway:
    /// inotify can drop events (a full queue), and a lost change must not stay lost.
    async fn follow(self, mut changes: mpsc::UnboundedReceiver<()>, rewatch: UnboundedSender<()>) {
        loop {
            tokio::select! {
                change = changes.recv() => {
                    if change.is_none() {
                        return;
                    }
                    let _ = rewatch.send(());
                }
                _ = tokio::time::sleep(self.resync) => {}
            }
            let loaded = load(&self.shared, &self.dir, &self.validate, None);
            self.shared
                .update_source(|info| info.last_fetch = Some(SystemTime::now()));
            watch_data_files(&self.shared, &self.data_files);
            if loaded == Loaded::InForce && self.triggers.send(Trigger::All(Why::Revision)).is_err()
            {
                return;
            }
        }
    }
}

/// The watch lives in this task, which follows a swapped symlink after each burst.
async fn keep_watching(
    mut watch: DirWatch,
    dir: PathBuf,
    mut rewatches: mpsc::UnboundedReceiver<()>,
) {
    while rewatches.recv().await.is_some() {
        if let Err(error) = watch.rewatch(&dir) {
            tracing::warn!(%error, dir = %dir.display(), "cannot watch again");
        }
    }
}

/// Fetches every `interval`; a new commit is loaded once, and what loading it came to
/// (its own error, if invalid) is what the status says while fetching works.
async fn follow_git(
    git: GitSource,
    interval: Duration,
    validate: ValidateOptions,
    shared: Arc<Shared>,
    triggers: UnboundedSender<Trigger>,
) {
    // A fetch that hangs must not stop syncing for good.
    let timeout = (interval * 4).max(Duration::from_secs(120));
    // The newest revision and what loading it came to.
    let mut loaded: Option<(String, Loaded)> = None;
    loop {
        match tokio::time::timeout(timeout, git.sync()).await {
            Ok(Ok(revision)) => {
                shared
                    .metrics
                    .git_last_sync
                    .set(super::unix_now().as_secs_f64());
                shared.update_source(|info| info.last_fetch = Some(SystemTime::now()));
                match &loaded {
                    Some((sha, outcome))
                        if *sha == revision.sha && *outcome != Loaded::Unreadable =>
                    {
                        // Fetching works again: the error is this revision's own, or none.
                        let error = match outcome {
                            Loaded::Invalid(message) => Some(message.clone()),
                            _ => None,
                        };
                        shared.update_readiness(|r| r.source_error = error);
                    }
                    _ => {
                        let sha = Some(revision.sha.clone());
                        let outcome = load(&shared, &revision.dir, &validate, sha);
                        let in_force = outcome == Loaded::InForce;
                        if in_force {
                            let commit = git.commit(&revision.sha).await.ok();
                            shared.update_source(|info| info.commit = commit);
                        }
                        loaded = Some((revision.sha, outcome));
                        if in_force && triggers.send(Trigger::All(Why::Revision)).is_err() {
                            return;
                        }
                    }
                }
            }
            failed => {
                let error = match failed {
                    Ok(Err(error)) => error.to_string(),
                    _ => format!("no answer within {}s", timeout.as_secs()),
                };
                let message = format!("git sync failed, the last good revision stays: {error}");
                shared.update_readiness(|r| r.source_error = Some(message.clone()));
                shared.record(Event::new(Reason::SourceFailed, None, message));
            }
        }
        // The poll, or a push webhook first.
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shared.fetch_now.notified() => {}
        }
    }
}
