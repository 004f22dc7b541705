//! Where notifications go: the URLs of `--notify` and of `--notify-file`, each read into a
//! target with its format. A webhook URL is a credential (a Slack one is all it takes to
//! post into a channel): past this module only its scheme and host are ever shown, in
//! errors, logs and metric labels.

use std::path::{Path, PathBuf};

use reqwest::Url;

/// What a target is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The event as `/api/v1/events` shows it.
    Json,
    /// A Slack-compatible incoming webhook (`{"text": ...}`; Mattermost and Rocket.Chat
    /// take it too).
    Slack,
}

/// One webhook. Its `Debug` shows the label only.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    pub format: Format,
    url: Url,
    /// `host[:port]`, `#2` and on for a second target on the same host: what logs and
    /// the metric call it.
    pub label: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({:?}, {})", self.format, self.label)
    }
}

impl Target {
    /// The URL to post to: only the HTTP client sees it.
    pub(super) fn url(&self) -> &Url {
        &self.url
    }
}

/// Where a URL was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Flag,
    File { path: PathBuf, line: usize },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => write!(f, "--notify"),
            Origin::File { path, line } => {
                write!(f, "--notify-file {} line {line}", path.display())
            }
        }
    }
}

/// Why a URL is not a target; none of them shows the URL.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not a URL ({0}); the URL is not shown, webhook URLs being credentials")]
    NotAUrl(String),
    #[error("scheme `{0}` is not one of http, https, slack+http, slack+https")]
    Scheme(String),
    #[error("the URL names no host")]
    NoHost,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{0}: {1}")]
    Bad(Origin, Problem),
    #[error("--notify-file {}: cannot read it: {}", .0.display(), .1)]
    Read(PathBuf, std::io::Error),
}

/// The targets of every `--notify` URL, then of every line of `--notify-file`; a URL
/// given twice is one target.
pub fn targets(urls: &[String], file: Option<&Path>) -> Result<Vec<Target>, TargetError> {
    let mut given: Vec<(Origin, String)> =
        urls.iter().map(|url| (Origin::Flag, url.clone())).collect();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| TargetError::Read(path.into(), e))?;
        given.extend(file_lines(&text).into_iter().map(|(line, url)| {
            (
                Origin::File {
                    path: path.into(),
                    line,
                },
                url.to_string(),
            )
        }));
    }
    let mut parsed: Vec<(Format, Url)> = Vec::new();
    for (origin, text) in given {
        let target = parse(&text).map_err(|problem| TargetError::Bad(origin, problem))?;
        if !parsed.contains(&target) {
            parsed.push(target);
        }
    }
    Ok(labelled(parsed))
}

/// The URLs of a `--notify-file`, with their line numbers: one a line; blank lines and
/// lines starting with `#` are skipped.
pub fn file_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// A URL's format and the URL to post to: `slack+` forces Slack's format, and Slack's own
/// webhook host needs no prefix.
pub fn parse(text: &str) -> Result<(Format, Url), Problem> {
    let text = text.trim();
    let (forced, rest) = match text.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("slack+") => (true, &text[6..]),
        _ => (false, text),
    };
    let url = Url::parse(rest).map_err(|e| Problem::NotAUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        let scheme = if forced {
            format!("slack+{}", url.scheme())
        } else {
            url.scheme().to_string()
        };
        return Err(Problem::Scheme(scheme));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(Problem::NoHost);
    };
    let slack = forced || (url.scheme() == "https" && host.eq_ignore_ascii_case("hooks.slack.com"));
    Ok((if slack { Format::Slack } else { Format::Json }, url))
}

fn labelled(parsed: Vec<(Format, Url)>) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    for (format, url) in parsed {
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let same_host = targets
            .iter()
            .filter(|t| t.label.split('#').next() == Some(host.as_str()))
            .count();
        let label = match same_host {
            0 => host,
            n => format!("{host}#{}", n + 1),
        };
        targets.push(Target { format, url, label });
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formats_and_labels(urls: &[&str]) -> Vec<(Format, String)> {
        let urls: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
        targets(&urls, None)
            .unwrap()
            .into_iter()
            .map(|t| (t.format, t.label))
            .collect()
    }

    #[test]
    fn formats_come_from_the_prefix_or_slacks_host() {
        assert_eq!(
            formats_and_labels(&[
                "https://alerts.example.com/hook/abc",
                "slack+https://chat.example.com/hooks/xyz",
                "https://hooks.slack.com/services/T000/B000/XXXX",
                "SLACK+http://127.0.0.1:19871/slack",
                "http://127.0.0.1:19871/json",
                "https://alerts.example.com/hook/abc",
            ]),
            [
                (Format::Json, "alerts.example.com".to_string()),
                (Format::Slack, "chat.example.com".to_string()),
                (Format::Slack, "hooks.slack.com".to_string()),
                (Format::Slack, "127.0.0.1:19871".to_string()),
                (Format::Json, "127.0.0.1:19871#2".to_string()),
            ]
        );
        let (_, url) = parse("slack+https://chat.example.com/hooks/xyz").unwrap();
        assert_eq!(url.as_str(), "https://chat.example.com/hooks/xyz");
    }

    #[test]
    fn bad_urls_are_refused_without_being_shown() {
        let refused = |url: &str| {
            let error = targets(&[url.to_string()], None).unwrap_err().to_string();
            assert!(!error.contains("T000"), "{error}");
            error
        };
        assert_eq!(
            refused("hooks.slack.com/services/T000/B000"),
            "--notify: not a URL (relative URL without a base); the URL is not shown, \
             webhook URLs being credentials"
        );
        assert_eq!(
            refused("ftp://files.example.com/T000"),
            "--notify: scheme `ftp` is not one of http, https, slack+http, slack+https"
        );
        assert_eq!(
            refused("slack+mailto:T000@example.com"),
            "--notify: scheme `slack+mailto` is not one of http, https, slack+http, slack+https"
        );
    }

    #[test]
    fn a_file_holds_one_url_a_line_with_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.txt");
        std::fs::write(
            &path,
            "# the team channel\nhttps://hooks.slack.com/services/T000/B000/XXXX\n\n  \
             http://127.0.0.1:8080/events  \n",
        )
        .unwrap();
        let got = targets(&["http://127.0.0.1:8080/events".into()], Some(&path)).unwrap();
        let got: Vec<(Format, &str, &str)> = got
            .iter()
            .map(|t| (t.format, t.label.as_str(), t.url().as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    Format::Json,
                    "127.0.0.1:8080",
                    "http://127.0.0.1:8080/events"
                ),
                (
                    Format::Slack,
                    "hooks.slack.com",
                    "https://hooks.slack.com/services/T000/B000/XXXX"
                ),
            ]
        );

        std::fs::write(&path, "# comment\n\nnot a url with T000\n").unwrap();
        let error = targets(&[], Some(&path)).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "--notify-file {} line 3: not a URL (relative URL without a base); the URL \
                 is not shown, webhook URLs being credentials",
                path.display()
            )
        );
        let missing = dir.path().join("missing.txt");
        let error = targets(&[], Some(&missing)).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "--notify-file {}: cannot read it: No such file",
                missing.display()
            )),
            "{error}"
        );
    }

    #[test]
    fn debug_shows_the_label_only() {
        let target = &targets(
            &["https://hooks.slack.com/services/T000/B000/XXXX".into()],
            None,
        )
        .unwrap()[0];
        assert_eq!(format!("{target:?}"), "Target(Slack, hooks.slack.com)");
    }
}
