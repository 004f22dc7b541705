//! Watching a desired-state directory: one signal per burst of changes (notify, debounced by notify-debouncer-full),
//! also when a git-sync sidecar swaps a symlink to a new checkout atomically, and by
//! polling where inotify sees nothing (network filesystems: `--poll-interval`).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, NoCache, RecommendedCache, new_debouncer_opt,
};
use tokio::sync::mpsc::UnboundedSender;

/// A running watch; dropping it stops watching.
pub enum DirWatch {
    Native(
        Debouncer<RecommendedWatcher, RecommendedCache>,
        Vec<PathBuf>,
    ),
    Poll(Debouncer<PollWatcher, NoCache>, Vec<PathBuf>),
}

/// The parents of every symlink on the way to `dir`: a swap of the link shows there, not
/// in the old target, which the recursive watch follows.
fn link_parents(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .filter(|a| a.is_symlink())
        .filter_map(|a| a.parent().map(Path::to_path_buf))
        .collect()
}

/// The file names of the data Secrets and Configs read (`nginx.conf`), kept up to date
/// by whoever loads desired-state: a change to one of them is a change of desired-state.
pub type DataFiles = Arc<RwLock<HashSet<OsString>>>;

/// Whether a changed path can matter: YAML files, the data files of Secrets and Configs,
/// and directories and links (a swapped checkout). Other files (editor backups, a log
/// someone keeps there) are not loaded.
fn may_be_desired_state(path: &Path, data_files: &DataFiles) -> bool {
    let is_data = || {
        path.file_name().is_some_and(|name| {
            data_files
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .contains(name)
        })
    };
    match path.extension().and_then(|e| e.to_str()) {
        None => true,
        Some(extension) => matches!(extension, "yaml" | "yml") || path.is_dir() || is_data(),
    }
}

impl DirWatch {
    /// Watches `dir`, sending `()` on `changed` after each burst (`debounce` of quiet).
    pub fn start(
        dir: &Path,
        debounce: Duration,
        poll: Option<Duration>,
        changed: UnboundedSender<()>,
        data_files: DataFiles,
    ) -> notify::Result<DirWatch> {
        // Reading desired-state opens its files, which inotify reports too (access
        // events): only changes count, or every reload would trigger the next.
        // Which watcher saw a change is logged: with `--poll-interval`, only polling may.
        let watcher = if poll.is_some() { "poll" } else { "inotify" };
        let handler = move |result: DebounceEventResult| {
            let relevant = match &result {
                Ok(events) => events.iter().any(|e| {
                    tracing::debug!(kind = ?e.kind, paths = ?e.paths, "desired-state watch");
                    // A rescan (the kernel's queue overflowed) names no path.
                    !matches!(e.kind, EventKind::Access(_))
                        && (e.need_rescan()
                            || e.paths.iter().any(|p| may_be_desired_state(p, &data_files)))
                }),
                Err(errors) => {
                    // Events may have been lost: read everything again.
                    tracing::warn!(?errors, "watching desired-state failed");
                    true
                }
            };
            if relevant {
                tracing::info!(watcher, "desired-state changed");
                let _ = changed.send(());
            }
        };
        let parents = link_parents(dir);
        let mut watch = match poll {
            Some(interval) => DirWatch::Poll(
                new_debouncer_opt(
                    debounce,
                    None,
                    handler,
                    NoCache,
                    notify::Config::default().with_poll_interval(interval),
                )?,
                parents,
            ),
            None => DirWatch::Native(
                new_debouncer_opt(
                    debounce,
                    None,
                    handler,
                    RecommendedCache::new(),
                    notify::Config::default(),
                )?,
                parents,
            ),
        };
        watch.rewatch(dir)?;
        Ok(watch)
    }

    /// (Re)establishes the watches: after a symlink swap, the recursive watch must follow
    /// the link to its new target.
    pub fn rewatch(&mut self, dir: &Path) -> notify::Result<()> {
        fn apply<T: notify::Watcher, C: notify_debouncer_full::FileIdCache>(
            debouncer: &mut Debouncer<T, C>,
            dir: &Path,
            parents: &[PathBuf],
        ) -> notify::Result<()> {
            let _ = debouncer.unwatch(dir);
            debouncer.watch(dir, RecursiveMode::Recursive)?;
            for parent in parents {
                let _ = debouncer.unwatch(parent);
                debouncer.watch(parent, RecursiveMode::NonRecursive)?;
            }
            Ok(())
        }
        match self {
            DirWatch::Native(debouncer, parents) => apply(debouncer, dir, parents),
            DirWatch::Poll(debouncer, parents) => apply(debouncer, dir, parents),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<()>) -> bool {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_burst_of_writes_is_one_signal_and_a_symlink_swap_is_seen() {
        let root = tempfile::tempdir().unwrap();
        let first = root.path().join("rev-1");
        let second = root.path().join("rev-2");
        std::fs::create_dir(&first).unwrap();
        std::fs::create_dir(&second).unwrap();
        std::fs::write(second.join("web.yaml"), "b").unwrap();
        let current = root.path().join("current");
        std::os::unix::fs::symlink(&first, &current).unwrap();

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let data_files = DataFiles::default();
        data_files.write().unwrap().insert("nginx.conf".into());
        let mut watch =
            DirWatch::start(&current, Duration::from_millis(200), None, tx, data_files).unwrap();
        for i in 0..10 {
            std::fs::write(first.join(format!("file-{i}.yaml")), "a").unwrap();
        }
        assert!(next(&mut rx).await, "a burst of writes signals");
        // Debounced: far fewer signals than files (the debouncer flushes per tick, every
        // quarter debounce, so a burst spread over ticks on a loaded machine may make two
        // or three), then quiet.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut signals = 1;
        while rx.try_recv().is_ok() {
            signals += 1;
        }
        assert!(signals <= 3, "{signals} signals for one burst of 10 files");
        std::fs::write(first.join("operator.log"), "not desired-state").unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(rx.try_recv().is_err(), "other files are not desired-state");
        std::fs::write(first.join("nginx.conf"), "events {}").unwrap();
        assert!(next(&mut rx).await, "a Config's data file signals");

        // git-sync's swap: a new link renamed over the old one.
        let swap = root.path().join("current.tmp");
        std::os::unix::fs::symlink(&second, &swap).unwrap();
        std::fs::rename(&swap, &current).unwrap();
        assert!(next(&mut rx).await, "the swap signals");
        watch.rewatch(&current).unwrap();
        std::fs::write(second.join("db.yaml"), "c").unwrap();
        assert!(next(&mut rx).await, "writes in the new target signal");
    }

    #[tokio::test]
    async fn polling_sees_changes_too() {
        let root = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _watch = DirWatch::start(
            root.path(),
            Duration::from_millis(100),
            Some(Duration::from_millis(100)),
            tx,
            DataFiles::default(),
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        while rx.try_recv().is_ok() {}
        std::fs::write(root.path().join("web.yaml"), "a").unwrap();
        assert!(next(&mut rx).await);
    }
}
