//! The command line: `serve` (the default), `migrate`, `keys create`, `flows
//! validate|push|publish|simulate` and `usage`. Flow commands work on local files; `push`,
//! `publish` and `usage` talk to a running server (URL, key and tenant from flags or env).

mod cluster;
mod flows;
mod keys;
mod remote;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
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
    Flows(flows::FlowsCommand),
    /// Manage admin API keys directly in the database (bootstrapping).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Inspect a running cluster.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// A tenant's model usage and cost, from a running server.
    Usage(usage::UsageArgs),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Flows(command)) => flows::run(command).await,
        Some(Command::Cluster(command)) => cluster::run(command).await,
        Some(Command::Usage(args)) => usage::run(args).await,
        Some(Command::Keys(command)) => {
            let config = Config::load(cli.config.as_deref())?;
            keys::run(command, &config).await
        }
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
