//! Watching a desired-state directory: one signal per burst of changes (notify, debounced),
//! also when a git-sync sidecar swaps a symlink to a new checkout atomically, and by
//! polling where inotify sees nothing (network filesystems: `--poll-interval`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{Config, DebounceEventResult, Debouncer, new_debouncer_opt};
use tokio::sync::mpsc::UnboundedSender;

/// A running watch; dropping it stops watching.
pub enum DirWatch {
    Native(Debouncer<RecommendedWatcher>, Vec<PathBuf>),
    Poll(Debouncer<PollWatcher>, Vec<PathBuf>),
}

/// The parents of every symlink on the way to `dir`: a swap of the link shows there, not
/// in the old target, which the recursive watch follows.
fn link_parents(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .filter(|a| a.is_symlink())
        .filter_map(|a| a.parent().map(Path::to_path_buf))
        .collect()
}

impl DirWatch {
    /// Watches `dir`, sending `()` on `changed` after each burst (`debounce` of quiet).
    pub fn start(
        dir: &Path,
        debounce: Duration,
        poll: Option<Duration>,
        changed: UnboundedSender<()>,
    ) -> notify::Result<DirWatch> {
        let handler = move |result: DebounceEventResult| {
            if result.is_ok() {
                let _ = changed.send(());
            }
        };
        let parents = link_parents(dir);
        let mut watch = match poll {
            Some(interval) => {
                let config = Config::default()
                    .with_timeout(debounce)
                    .with_notify_config(notify::Config::default().with_poll_interval(interval));
                DirWatch::Poll(new_debouncer_opt(config, handler)?, parents)
            }
            None => {
                let config = Config::default().with_timeout(debounce);
                DirWatch::Native(new_debouncer_opt(config, handler)?, parents)
            }
        };
        watch.rewatch(dir)?;
        Ok(watch)
    }

    /// (Re)establishes the watches: after a symlink swap, the recursive watch must follow
    /// the link to its new target.
    pub fn rewatch(&mut self, dir: &Path) -> notify::Result<()> {
        fn apply(
            watcher: &mut dyn notify::Watcher,
            dir: &Path,
            parents: &[PathBuf],
        ) -> notify::Result<()> {
            let _ = watcher.unwatch(dir);
            watcher.watch(dir, RecursiveMode::Recursive)?;
            for parent in parents {
                let _ = watcher.unwatch(parent);
                watcher.watch(parent, RecursiveMode::NonRecursive)?;
            }
            Ok(())
        }
        match self {
            DirWatch::Native(debouncer, parents) => apply(debouncer.watcher(), dir, parents),
            DirWatch::Poll(debouncer, parents) => apply(debouncer.watcher(), dir, parents),
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
        let mut watch = DirWatch::start(&current, Duration::from_millis(200), None, tx).unwrap();
        for i in 0..5 {
            std::fs::write(first.join(format!("file-{i}.yaml")), "a").unwrap();
        }
        assert!(next(&mut rx).await, "a burst of writes signals");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(rx.try_recv().is_err(), "and signals once");

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
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        while rx.try_recv().is_ok() {}
        std::fs::write(root.path().join("web.yaml"), "a").unwrap();
        assert!(next(&mut rx).await);
    }
}
