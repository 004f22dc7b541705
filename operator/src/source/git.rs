//! Built-in git sync: fetches desired-state from a git repository into a local cache and
//! exposes each revision as a plain directory, so the rest of the operator only ever reads
//! files (as with flux's source-controller or git-sync).
//!
//! It drives the system `git` binary rather than a git library: it speaks every transport
//! and credential helper the host is configured for, and its behaviour is the one people
//! already know. Each commit is exported once into `revs/<sha>` and published by
//! atomically swapping the `current` symlink, so a reader never sees a half-written tree,
//! and a failed sync (fetch error, missing path) leaves the previous revision live.
//! One task at a time should sync a given cache; concurrent syncs are not coordinated.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

/// Where desired-state comes from in git.
#[derive(Clone, Debug)]
pub struct GitSource {
    /// Anything git accepts, including `file:///path`.
    pub url: String,
    /// Branch, tag, full ref name or full/short commit SHA; `None` is the remote's HEAD.
    pub reference: Option<String>,
    /// Subdirectory of the repository holding desired-state.
    pub path: Option<PathBuf>,
    /// Cache directory (created if missing).
    pub cache: PathBuf,
}

/// One fetched revision, checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    /// Full 40-hex commit SHA.
    pub sha: String,
    /// The desired-state directory (`cache/current/<path>`): stable across revisions.
    pub dir: PathBuf,
}

/// What a person recognises a commit by.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Commit {
    /// RFC 3339, as git prints it (`2026-12-04T06:13:06+00:00`).
    pub committed_at: String,
    pub author: String,
    pub subject: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("fetching {url} failed: {stderr}")]
    Fetch { url: String, stderr: String },
    #[error("reference `{reference}` not found in {url}")]
    ReferenceNotFound { url: String, reference: String },
    #[error("path `{path}` is not a directory in revision {sha}")]
    PathNotFound { path: PathBuf, sha: String },
    #[error("`git {command}` failed: {stderr}")]
    Git { command: String, stderr: String },
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The ref every fetch writes to, so resolving never depends on remote-tracking layout.
const TARGET: &str = "refs/shoal/target";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> GitError {
    let path = path.to_owned();
    move |source| GitError::Io { path, source }
}

fn is_hex(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `user:password@` part of a URL's authority, if any.
fn userinfo(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    Some(&authority[..=authority.rfind('@')?])
}

/// `text` with the URL's credentials removed, so they never reach logs or error messages.
fn redact(url: &str, text: &str) -> String {
    match userinfo(url) {
        Some(info) => text.replace(info, ""),
        None => text.to_owned(),
    }
}

impl GitSource {
    /// Fetch, resolve the reference, and make the revision current. Returns the current revision.
    pub async fn sync(&self) -> Result<Revision, GitError> {
        let revs = self.cache.join("revs");
        fs::create_dir_all(&revs).map_err(io_err(&revs))?;
        if !self.cache.join("repo.git/HEAD").exists() {
            self.git(&["init", "--bare", "-q"]).await?;
        }
        let sha = self.resolve().await?;
        // Check the path before exporting anything: a bad revision must not become current.
        let tree = format!("{sha}:{}", self.tree_path().to_string_lossy());
        if self.git(&["cat-file", "-t", &tree]).await.ok().as_deref() != Some("tree") {
            let (path, sha) = (self.path.clone().unwrap_or_default(), sha[..7].to_owned());
            return Err(GitError::PathNotFound { path, sha });
        }
        let previous = self.current().map(|rev| rev.sha);
        if previous.as_deref() == Some(sha.as_str()) {
            return Ok(self.revision(sha));
        }
        let rev_dir = revs.join(&sha);
        if !rev_dir.is_dir() {
            self.export(&sha, &rev_dir).await?;
        }
        // A symlink renamed over `current` is an atomic switch for every reader.
        let (link, tmp) = (self.cache.join("current"), self.cache.join("current.tmp"));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(Path::new("revs").join(&sha), &tmp).map_err(io_err(&tmp))?;
        fs::rename(&tmp, &link).map_err(io_err(&link))?;
        let url = self.shown_url();
        tracing::info!(%url, %sha, ?previous, "git revision is now current");
        // Keep the previous revision (a reader may still be inside it); delete the rest.
        let keep = [Some(sha.clone()), previous];
        let pruned = tokio::task::spawn_blocking(move || prune(&revs, &keep)).await;
        if let Ok(Err(error)) = pruned {
            tracing::warn!(%error, "cannot prune old git revisions");
        }
        Ok(self.revision(sha))
    }

    /// The revision currently checked out in the cache, if any (reads cache/current), without fetching.
    pub fn current(&self) -> Option<Revision> {
        let link = self.cache.join("current");
        let target = fs::read_link(&link).ok()?;
        let sha = target.file_name()?.to_str()?;
        (is_hex(sha, 40..=40) && link.is_dir()).then(|| self.revision(sha.to_owned()))
    }

    fn revision(&self, sha: String) -> Revision {
        let dir = self.cache.join("current").join(self.tree_path());
        Revision { sha, dir }
    }

    /// `path` as a path inside the tree: `.`, `..` and a leading `/` are dropped, so the
    /// desired-state directory can never point outside the checkout.
    fn tree_path(&self) -> PathBuf {
        let parts = self.path.iter().flat_map(|p| p.components());
        let normal = |c| matches!(c, Component::Normal(_)).then_some(c);
        parts.filter_map(normal).collect()
    }

    /// Fetch what the reference needs and return the full SHA of its commit.
    async fn resolve(&self) -> Result<String, GitError> {
        let Some(reference) = self.reference.as_deref().filter(|r| *r != "HEAD") else {
            self.fetch(&[&format!("+HEAD:{TARGET}")]).await?;
            let sha = self.rev_parse(TARGET).await;
            return sha.ok_or_else(|| self.not_found("HEAD"));
        };
        // Ask the remote first, so only the one ref is fetched. Tags win over branches,
        // as they do in `git rev-parse`. `--`: a URL or reference is never read as an option.
        let ls = ["ls-remote", "--refs", "--", &self.url, reference];
        let advertised = self.git(&ls).await.map_err(|e| self.fetch_error(e))?;
        let names: Vec<&str> = advertised
            .lines()
            .filter_map(|l| l.split('\t').nth(1))
            .collect();
        let tag = format!("refs/tags/{reference}");
        let head = format!("refs/heads/{reference}");
        if let Some(name) = [reference, &tag, &head].iter().find(|w| names.contains(w)) {
            self.fetch(&[&format!("+{name}:{TARGET}")]).await?;
            let sha = self.rev_parse(TARGET).await;
            return sha.ok_or_else(|| self.not_found(reference));
        }
        if !is_hex(reference, 4..=40) {
            return Err(self.not_found(reference));
        }
        // A SHA: nothing to fetch when we already have it (commits never change).
        if let Some(sha) = self.rev_parse(reference).await {
            return Ok(sha);
        }
        // Many servers serve a full SHA directly; otherwise fetch every branch and tag.
        if reference.len() < 40 || self.fetch(&[reference]).await.is_err() {
            let all = [
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ];
            self.fetch(&all).await?;
        }
        let sha = self.rev_parse(reference).await;
        sha.ok_or_else(|| self.not_found(reference))
    }

    async fn fetch(&self, refspecs: &[&str]) -> Result<(), GitError> {
        let mut args = vec!["fetch", "-q", "--prune", "--no-tags", "--", &self.url];
        args.extend(refspecs);
        let fetched = self.git(&args).await;
        fetched.map(drop).map_err(|e| self.fetch_error(e))
    }

    async fn rev_parse(&self, rev: &str) -> Option<String> {
        let spec = format!("{rev}^{{commit}}");
        let args = ["rev-parse", "-q", "--verify", "--end-of-options", &spec];
        let sha = self.git(&args).await.ok()?;
        is_hex(&sha, 40..=40).then_some(sha)
    }

    /// Export the commit's tree into a temporary directory, then rename it into place, so
    /// `revs/<sha>` only ever exists complete.
    async fn export(&self, sha: &str, rev_dir: &Path) -> Result<(), GitError> {
        let tmp = rev_dir.with_file_name(format!("{sha}.tmp-{}", std::process::id()));
        // A stale index could put files of another revision into this one.
        let _ = (fs::remove_dir_all(&tmp), fs::remove_file(self.index()));
        fs::create_dir(&tmp).map_err(io_err(&tmp))?;
        let args = ["checkout", "-q", "-f", sha, "--", ":/"];
        if let Err(error) = self.run(&args, Some(&tmp)).await {
            let _ = fs::remove_dir_all(&tmp);
            return Err(error);
        }
        fs::rename(&tmp, rev_dir).map_err(io_err(rev_dir))
    }

    fn fetch_error(&self, error: GitError) -> GitError {
        let GitError::Git { stderr, .. } = error else {
            return error;
        };
        let url = self.shown_url();
        GitError::Fetch { url, stderr }
    }

    fn not_found(&self, reference: &str) -> GitError {
        let (url, reference) = (self.shown_url(), reference.to_owned());
        GitError::ReferenceNotFound { url, reference }
    }

    /// The URL without its credentials: what logs and the dashboard show.
    pub fn shown_url(&self) -> String {
        redact(&self.url, &self.url)
    }

    /// When `sha` was committed, by whom, and its subject line (from the cache).
    pub async fn commit(&self, sha: &str) -> Result<Commit, GitError> {
        let text = self
            .git(&["show", "-s", "--format=%cI%n%an%n%s", sha, "--"])
            .await?;
        let mut lines = text.lines();
        let mut next = || lines.next().unwrap_or_default().to_string();
        Ok(Commit {
            committed_at: next(),
            author: next(),
            subject: next(),
        })
    }

    fn index(&self) -> PathBuf {
        self.cache.join("export.index")
    }

    async fn git(&self, args: &[&str]) -> Result<String, GitError> {
        self.run(args, None).await
    }

    /// Run git on the cache's bare repository (checking out into `work_tree` if given);
    /// stdout trimmed on success.
    async fn run(&self, args: &[&str], work_tree: Option<&Path>) -> Result<String, GitError> {
        let mut command = Command::new("git");
        command
            .args(args)
            .env("GIT_DIR", self.cache.join("repo.git"));
        // Never wait for a password nobody will type; kill git if the sync is cancelled.
        command.env("GIT_TERMINAL_PROMPT", "0");
        command.stdin(Stdio::null()).kill_on_drop(true);
        if let Some(work_tree) = work_tree {
            // A private index: the shared bare repository is never written by an export.
            command.env("GIT_WORK_TREE", work_tree);
            command.env("GIT_INDEX_FILE", self.index());
        }
        let output = command.output().await.map_err(GitError::Spawn)?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned());
        }
        let command = args.first().copied().unwrap_or_default().to_owned();
        // git's `fatal:`/`error:` lines are the message; the hints after them are noise in a log.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let is_error = |l: &&str| l.starts_with("fatal:") || l.starts_with("error:");
        let errors: Vec<&str> = stderr.lines().filter(is_error).collect();
        let message = if errors.is_empty() {
            stderr.trim().to_owned()
        } else {
            errors.join("; ")
        };
        let stderr = redact(&self.url, &message);
        Err(GitError::Git { command, stderr })
    }
}

/// Delete every entry of `revs` except the revisions in `keep` (stale `.tmp-` dirs included).
fn prune(revs: &Path, keep: &[Option<String>]) -> std::io::Result<()> {
    for entry in fs::read_dir(revs)? {
        let path = entry?.path();
        if !keep.iter().flatten().any(|sha| path.ends_with(sha)) {
            fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::fs::MetadataExt;

    /// Run git in `dir`, isolated from the host's configuration; stdout trimmed.
    fn git(dir: &Path, args: &[&str]) -> String {
        let mut command = std::process::Command::new("git");
        command
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .current_dir(dir);
        command.args(["-c", "user.name=t", "-c", "user.email=t@example.com"]);
        let out = command.args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "git {args:?}: {stderr}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Write `content` to `file` (delete it when `None`), commit, and return the new sha.
    fn commit(repo: &Path, file: &str, content: Option<&str>) -> String {
        let path = repo.join(file);
        match content {
            Some(content) => {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, content).unwrap();
            }
            None => fs::remove_dir_all(&path).unwrap(),
        }
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", file]);
        git(repo, &["rev-parse", "HEAD"])
    }

    /// A fresh repository on branch `main`, and a source syncing it into its own cache.
    fn setup(tmp: &Path) -> (PathBuf, GitSource) {
        let (repo, cache) = (tmp.join("repo"), tmp.join("cache"));
        fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        let (url, reference, path) = (format!("file://{}", repo.display()), None, None);
        (
            repo,
            GitSource {
                url,
                reference,
                path,
                cache,
            },
        )
    }

    fn read(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).unwrap()
    }

    #[tokio::test]
    async fn first_sync_exports_head() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, source) = setup(tmp.path());
        commit(&repo, "sub/db.yaml", Some("db"));
        let sha = commit(&repo, "app.yaml", Some("v1"));
        assert_eq!(source.current(), None);
        let rev = source.sync().await.unwrap();
        let dir = tmp.path().join("cache/current");
        assert_eq!(rev, Revision { sha, dir });
        assert_eq!(read(&rev.dir, "app.yaml"), "v1");
        assert_eq!(read(&rev.dir, "sub/db.yaml"), "db");
        assert_eq!(source.current(), Some(rev));
    }

    #[tokio::test]
    async fn a_synced_commit_is_described_by_its_time_author_and_subject() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, source) = setup(tmp.path());
        let sha = commit(&repo, "app.yaml", Some("v1"));
        source.sync().await.unwrap();
        let described = source.commit(&sha).await.unwrap();
        let time = git(&repo, &["show", "-s", "--format=%cI", &sha]);
        assert_eq!(
            described,
            Commit {
                committed_at: time,
                author: "t".into(),
                subject: "app.yaml".into(),
            }
        );
        assert!(humantime::parse_rfc3339_weak(&described.committed_at[..19]).is_ok());
    }

    #[tokio::test]
    async fn new_commit_switches_and_unchanged_sync_is_a_no_op() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, source) = setup(tmp.path());
        commit(&repo, "old/app.yaml", Some("old"));
        commit(&repo, "app.yaml", Some("v1"));
        let dir = source.sync().await.unwrap().dir;
        commit(&repo, "app.yaml", Some("v2"));
        let sha = commit(&repo, "old", None);
        let second = source.sync().await.unwrap();
        assert_eq!((&second.sha, &second.dir), (&sha, &dir));
        assert_eq!(read(&dir, "app.yaml"), "v2");
        assert!(!dir.join("old").exists(), "a removed file must not survive");
        let current = tmp.path().join("cache/current");
        let before = fs::symlink_metadata(&current).unwrap().ino();
        assert_eq!(source.sync().await.unwrap(), second);
        let after = fs::symlink_metadata(&current).unwrap().ino();
        assert_eq!(after, before, "`current` must not be replaced");
    }

    #[tokio::test]
    async fn branch_tag_and_short_sha_references() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, mut source) = setup(tmp.path());
        let c1 = commit(&repo, "app.yaml", Some("v1"));
        git(&repo, &["tag", "-a", "v1", "-m", "release"]);
        let c2 = commit(&repo, "app.yaml", Some("v2"));
        git(&repo, &["checkout", "-q", "-b", "feature"]);
        let c3 = commit(&repo, "app.yaml", Some("v3"));
        git(&repo, &["checkout", "-q", "main"]);
        // The short SHA first: a fresh cache has to fetch every branch to find it.
        let cases = [(&c2[..7], &c2, "v2"), ("feature", &c3, "v3")];
        for (reference, sha, content) in cases.into_iter().chain([("v1", &c1, "v1")]) {
            source.reference = Some(reference.to_owned());
            let rev = source.sync().await.unwrap();
            assert_eq!(rev.sha, *sha, "{reference}");
            assert_eq!(read(&rev.dir, "app.yaml"), content);
        }
        source.reference = Some("main".to_owned());
        assert_eq!(source.sync().await.unwrap().sha, c2);
        source.reference = Some("nope".to_owned());
        let error = source.sync().await.unwrap_err().to_string();
        let url = &source.url;
        assert_eq!(error, format!("reference `nope` not found in {url}"));
    }

    #[tokio::test]
    async fn path_selects_a_subtree_and_a_removed_path_keeps_the_previous_revision() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, mut source) = setup(tmp.path());
        source.path = Some("deploy".into());
        commit(&repo, "README", Some("r"));
        let sha = commit(&repo, "deploy/app.yaml", Some("v1"));
        let rev = source.sync().await.unwrap();
        let dir = tmp.path().join("cache/current/deploy");
        assert_eq!(rev, Revision { sha, dir });
        assert_eq!(read(&rev.dir, "app.yaml"), "v1");
        let removed = commit(&repo, "deploy", None);
        let error = source.sync().await.unwrap_err().to_string();
        let short = &removed[..7];
        let expected = format!("path `deploy` is not a directory in revision {short}");
        assert_eq!(error, expected);
        assert_eq!(source.current(), Some(rev.clone()));
        assert_eq!(read(&rev.dir, "app.yaml"), "v1");
    }

    #[tokio::test]
    async fn fetch_failure_keeps_current_and_hides_credentials() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, source) = setup(tmp.path());
        let mut bad = source.clone();
        bad.url = "file:///nonexistent/repo".to_owned();
        let error = bad.sync().await.unwrap_err();
        let fetch = matches!(&error, GitError::Fetch { url, .. } if *url == bad.url);
        assert!(fetch, "{error}");
        assert_eq!(bad.current(), None);
        commit(&repo, "app.yaml", Some("v1"));
        let rev = source.sync().await.unwrap();
        assert!(matches!(bad.sync().await, Err(GitError::Fetch { .. })));
        assert_eq!(source.current(), Some(rev));
        bad.url = "https://user:s3cret@127.0.0.1:1/repo.git".to_owned();
        let error = bad.sync().await.unwrap_err().to_string();
        assert!(error.starts_with("fetching https://127.0.0.1:1/repo.git failed: "));
        let leaked = error.contains("s3cret") || error.contains("user:");
        assert!(!leaked, "{error}");
    }

    #[tokio::test]
    async fn only_the_current_and_previous_revisions_are_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, source) = setup(tmp.path());
        let mut shas = Vec::new();
        for content in ["v1", "v2", "v3"] {
            shas.push(commit(&repo, "app.yaml", Some(content)));
            assert_eq!(Some(&source.sync().await.unwrap().sha), shas.last());
        }
        let revs = fs::read_dir(tmp.path().join("cache/revs")).unwrap();
        let mut kept: Vec<_> = revs.map(|e| e.unwrap().file_name()).collect();
        kept.sort();
        let mut expected: Vec<_> = shas[1..].iter().map(OsString::from).collect();
        expected.sort();
        assert_eq!(kept, expected);
    }
}
