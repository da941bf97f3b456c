//! The command line: `serve` (the default), `migrate`, and `flows validate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::dialog::{self, Severity};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Multi-tenant real-time chat runtime"
)]
pub struct Cli {
    /// A TOML config file, layered over config/default.toml and under SWITCHBOARD__* env vars.
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Work with flow definitions.
    #[command(subcommand)]
    Flows(FlowsCommand),
}

#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Compile flow files (or every *.yaml in directories) and report diagnostics.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Flows(FlowsCommand::Validate { paths })) => Ok(validate(&paths)),
        Some(Command::Migrate) => {
            let config = Config::load(cli.config.as_deref())?;
            crate::telemetry::init(&config.log);
            let store = Store::connect(&config.database).await?;
            store.migrate().await?;
            println!("migrations applied to {}", redact(&config.database.url));
            Ok(ExitCode::SUCCESS)
        }
        None | Some(Command::Serve) => {
            let config = Config::load(cli.config.as_deref())?;
            crate::telemetry::init(&config.log);
            let node = crate::app::start(config).await?;
            println!("Switchboard is listening on http://{}", node.addr());
            shutdown_signal().await;
            node.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints diagnostics like rustc; exit code 1 when any error was found.
fn validate(paths: &[PathBuf]) -> ExitCode {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match dialog::flow_files(path) {
                Ok(found) => files.extend(found),
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    let (mut errors, mut warnings) = (0, 0);
    for file in &files {
        let source = match std::fs::read_to_string(file) {
            Ok(source) => source,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                errors += 1;
                continue;
            }
        };
        let diagnostics = dialog::check(&file.display().to_string(), &source);
        for diagnostic in &diagnostics {
            eprintln!("{diagnostic}\n");
            match diagnostic.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
        }
    }
    eprintln!(
        "checked {} flow file(s): {errors} error(s), {warnings} warning(s)",
        files.len()
    );
    if errors > 0 || files.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
