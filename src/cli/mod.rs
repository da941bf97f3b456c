//! The command line, a thin layer over the library. Three kinds of commands:
//!
//! - **the server's own**: `serve` (the default) and `migrate`, the only ones that may
//!   create a SQLite database file;
//! - **local**: `flows validate|simulate` work on files; `keys create|list|revoke` work on
//!   the database directly (bootstrapping, recovery), which must exist already: a missing
//!   SQLite file is an error naming its absolute path (`database.rs`);
//! - **remote**, through a running server's admin API (`remote.rs`; URL, key and tenant
//!   from flags or `SWITCHBOARD_URL`, `SWITCHBOARD_API_KEY`, `SWITCHBOARD_TENANT`):
//!   `flows push|publish|list|pull|diff|activate|rollback`, `tenants create|update`,
//!   `conversations list|show`, `usage`, `analytics`, `experiments`, `kb add|list|remove|search`
//!   and `cluster status`.
//!
//! Output is for people by default (tables, a transcript, a unified diff); `--json`
//! prints the API's JSON where there is some. A failure prints one `error: …` line on
//! stderr and exits with 1.

mod analytics;
mod cluster;
mod conversations;
mod database;
mod experiments;
mod flow_versions;
mod flows;
mod kb;
mod keys;
mod remote;
mod tenants;
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
    /// Create and change tenants on a running server.
    #[command(subcommand)]
    Tenants(tenants::TenantsCommand),
    /// A tenant's conversations and their transcripts, from a running server.
    #[command(subcommand)]
    Conversations(conversations::ConversationsCommand),
    /// Inspect a running cluster.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// A tenant's model usage and cost, from a running server.
    Usage(usage::UsageArgs),
    /// A tenant's conversation analytics, from a running server.
    Analytics(analytics::AnalyticsArgs),
    /// A tenant's experiments (A/B splits of a flow's versions), on a running server.
    #[command(subcommand)]
    Experiments(experiments::ExperimentsCommand),
    /// A tenant's knowledge bases on a running server: add, list, remove, search.
    #[command(subcommand)]
    Kb(kb::KbCommand),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Flows(command)) => flows::run(command).await,
        Some(Command::Cluster(command)) => cluster::run(command).await,
        Some(Command::Usage(args)) => usage::run(args).await,
        Some(Command::Analytics(args)) => analytics::run(args).await,
        Some(Command::Experiments(command)) => experiments::run(command).await,
        Some(Command::Kb(command)) => kb::run(command).await,
        Some(Command::Tenants(command)) => tenants::run(command).await,
        Some(Command::Conversations(command)) => conversations::run(command).await,
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

/// A time in ms since the epoch as `YYYY-MM-DD HH:MM` (UTC), for tables.
fn utc(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => ms.to_string(),
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
