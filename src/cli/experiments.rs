//! `switchboard experiments list|show|create|stop|promote`: a tenant's experiments on a
//! running server (`…/experiments`), printed as the API's JSON. docs/analytics.md has
//! the rules and the statistics of the results.

use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use super::remote::{Remote, RemoteArgs, encode};

#[derive(Debug, Subcommand)]
pub enum ExperimentsCommand {
    /// The tenant's experiments, newest first.
    List {
        #[command(flatten)]
        remote: RemoteArgs,
        /// Only this flow's.
        #[arg(long)]
        flow: Option<String>,
    },
    /// One experiment with its results per arm.
    Show {
        #[command(flatten)]
        remote: RemoteArgs,
        id: String,
    },
    /// Split a flow's new conversations across versions by weight.
    Create(CreateArgs),
    /// Stop splitting: new conversations take the active version again.
    Stop {
        #[command(flatten)]
        remote: RemoteArgs,
        id: String,
    },
    /// Stop it and make VERSION the flow's active version.
    Promote {
        #[command(flatten)]
        remote: RemoteArgs,
        id: String,
        #[arg(long)]
        version: i64,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[arg(long)]
    pub flow: String,
    #[arg(long)]
    pub name: String,
    /// An arm, VERSION:WEIGHT, e.g. --arm 3:50 --arm 4:50 (at least two).
    #[arg(long = "arm", required = true)]
    pub arms: Vec<String>,
}

/// `3:50` → {version: 3, weight: 50}.
fn arm(text: &str) -> anyhow::Result<serde_json::Value> {
    let Some((version, weight)) = text.split_once(':') else {
        bail!("an arm is VERSION:WEIGHT, e.g. 3:50 (got {text:?})");
    };
    let (Ok(version), Ok(weight)) = (version.parse::<i64>(), weight.parse::<u32>()) else {
        bail!("an arm is VERSION:WEIGHT with whole numbers (got {text:?})");
    };
    Ok(json!({ "version": version, "weight": weight }))
}

pub async fn run(command: ExperimentsCommand) -> anyhow::Result<ExitCode> {
    let body = match command {
        ExperimentsCommand::List { remote, flow } => {
            let query = flow.map(|f| format!("?flow={}", encode(&f)));
            Remote::new(remote)
                .get(&format!("/experiments{}", query.unwrap_or_default()))
                .await?
        }
        ExperimentsCommand::Show { remote, id } => {
            Remote::new(remote)
                .get(&format!("/experiments/{}", encode(&id)))
                .await?
        }
        ExperimentsCommand::Create(args) => {
            let arms = args
                .arms
                .iter()
                .map(|a| arm(a))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let body = json!({ "flow": args.flow, "name": args.name, "arms": arms });
            Remote::new(args.remote)
                .json(Method::POST, "/experiments", &body)
                .await?
        }
        ExperimentsCommand::Stop { remote, id } => {
            Remote::new(remote)
                .json(
                    Method::POST,
                    &format!("/experiments/{}/stop", encode(&id)),
                    &json!({}),
                )
                .await?
        }
        ExperimentsCommand::Promote {
            remote,
            id,
            version,
        } => {
            Remote::new(remote)
                .json(
                    Method::POST,
                    &format!("/experiments/{}/promote", encode(&id)),
                    &json!({ "version": version }),
                )
                .await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arms_are_version_colon_weight() {
        assert_eq!(arm("3:50").unwrap(), json!({"version": 3, "weight": 50}));
        assert!(arm("3").is_err());
        assert!(arm("x:1").is_err());
    }
}
