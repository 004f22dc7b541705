//! The `shoal` command line: parses arguments and hands them to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use shoal::commands;

#[derive(Parser)]
#[command(
    name = "shoal",
    version,
    about = "A GitOps operator for Docker Swarm and GlusterFS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a desired-state directory and report every problem with file:line:col.
    Validate {
        /// The desired-state directory.
        #[arg(default_value = "desired-state")]
        dir: PathBuf,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
        /// A host path (and everything under it) services may bind-mount although no
        /// GlusterVolume is mounted there. Repeatable; adds to .shoal-policy.yaml.
        #[arg(long = "allow-host-path", value_name = "PATH")]
        allow_host_paths: Vec<PathBuf>,
    },
    /// Write the JSON Schema of every resource kind (to stdout without --out).
    Schema {
        /// Directory to write KIND.schema.json files into, e.g. crds/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> miette::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate {
            dir,
            strict,
            allow_host_paths,
        } => {
            let options = commands::validate::ValidateOptions {
                strict,
                allow_host_paths,
            };
            let valid = commands::validate::run(&dir, &options)?;
            Ok(if valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Schema { out } => {
            commands::schema::run(out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
