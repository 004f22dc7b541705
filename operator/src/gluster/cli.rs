//! Running the gluster CLI: `gluster --mode=script --xml ARGS` on this host, which must be
//! a peer of the trusted pool (`--remote-host` answers only read-only commands).
//!
//! A command worked when it exited 0 AND its `<opRet>` is 0. glusterd serialises changes
//! per volume and answers "Another transaction is in progress" meanwhile: such answers are
//! retried with backoff, every other failure is returned.

use std::path::PathBuf;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use super::xml::{self, GlusterError};

/// How long one gluster command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the gluster CLI is.
#[derive(Clone, Debug)]
pub struct GlusterCli {
    pub program: PathBuf,
}

impl Default for GlusterCli {
    fn default() -> Self {
        GlusterCli {
            program: PathBuf::from("gluster"),
        }
    }
}

/// How a command answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Xml,
    Text,
}

/// Why a gluster command could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot run {program}: {source} (shoal manages GlusterFS from a host of the pool)")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("gluster {args}: {source}")]
    Gluster {
        args: String,
        #[source]
        source: GlusterError,
    },
}

impl CliError {
    fn is_busy(&self) -> bool {
        matches!(self, CliError::Gluster { source: GlusterError::Failed { message, .. }, .. }
            if message.contains("Another transaction is in progress"))
    }
}

impl GlusterCli {
    /// Runs one command and returns its XML, already checked for success.
    pub async fn run(&self, args: &[&str]) -> Result<String, CliError> {
        self.run_retried(args, Answer::Xml).await
    }

    /// Runs a command gluster answers in plain text even under `--xml` (`volume heal`):
    /// its exit status says whether it worked, its output why not.
    pub async fn run_text(&self, args: &[&str]) -> Result<String, CliError> {
        self.run_retried(args, Answer::Text).await
    }

    async fn run_retried(&self, args: &[&str], answer: Answer) -> Result<String, CliError> {
        (|| self.run_once(args, answer))
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_delay(Duration::from_secs(3))
                    .with_max_times(6)
                    .with_jitter(),
            )
            .when(CliError::is_busy)
            .await
    }

    async fn run_once(&self, args: &[&str], answer: Answer) -> Result<String, CliError> {
        let output = tokio::process::Command::new(&self.program)
            .arg("--mode=script")
            .args((answer == Answer::Xml).then_some("--xml"))
            // Without a bound, `volume status` waits for a dead peer's ping timeout and
            // holds the volume's lock meanwhile.
            .arg(format!("--timeout={}", COMMAND_TIMEOUT.as_secs()))
            .args(args)
            .output()
            .await
            .map_err(|source| CliError::Spawn {
                program: self.program.display().to_string(),
                source,
            })?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let failed = |source| CliError::Gluster {
            args: args.join(" "),
            source,
        };
        // opRet is checked even when the exit code says success: some failures exit 0.
        if answer == Answer::Xml {
            xml::parse(&text).map_err(failed)?;
        }
        if !output.status.success() {
            let said = format!(
                "{} {}",
                String::from_utf8_lossy(&output.stderr).trim(),
                text.trim()
            );
            return Err(failed(GlusterError::Failed {
                op_ret: -1,
                op_errno: 0,
                message: format!("exit status {}: {}", output.status, said.trim()),
            }));
        }
        Ok(text)
    }
}
