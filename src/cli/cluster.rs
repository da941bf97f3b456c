//! `switchboard cluster status`: the operator's view of a running cluster (any node
//! answers for all): nodes, the conversations each owns, and their leases.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Show the live nodes, their conversation and connection counts, and their leases.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Base URL of any node, e.g. http://127.0.0.1:8080
    #[arg(long, env = "SWITCHBOARD_URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The operator's key (`admin.bootstrap_key`).
    #[arg(long, env = "SWITCHBOARD_API_KEY", hide_env_values = true)]
    pub key: String,
    /// Print the JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Leases listed per node in the table.
    #[arg(long, default_value_t = 10)]
    pub leases: usize,
}

pub async fn run(command: ClusterCommand) -> anyhow::Result<ExitCode> {
    let ClusterCommand::Status(args) = command;
    let url = format!("{}/v1/admin/cluster", args.server.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(&args.key)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        eprintln!(
            "error: HTTP {status}: {}",
            body["error"]["message"].as_str().unwrap_or("no details")
        );
        return Ok(ExitCode::FAILURE);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        print!("{}", render(&body, args.leases));
    }
    Ok(ExitCode::SUCCESS)
}

/// The status document as a table, then each node's leases.
pub fn render(body: &Value, max_leases: usize) -> String {
    let mut out = format!(
        "mode: {}   answered by: {}\n{:<20} {:<22} {:>13} {:>11} {:>14}\n",
        body["mode"].as_str().unwrap_or("?"),
        body["node_id"].as_str().unwrap_or("?"),
        "NODE",
        "ADDRESS",
        "CONVERSATIONS",
        "CONNECTIONS",
        "HEARTBEAT AGE"
    );
    let now = crate::store::now_ms();
    let nodes = body["nodes"].as_array().cloned().unwrap_or_default();
    for node in &nodes {
        let age = node["heartbeat_at"]
            .as_i64()
            .map_or("-".to_string(), |t| format!("{} ms", (now - t).max(0)));
        out += &format!(
            "{:<20} {:<22} {:>13} {:>11} {:>14}\n",
            node["node_id"].as_str().unwrap_or("?"),
            node["addr"].as_str().unwrap_or("?"),
            node["conversations"].as_u64().unwrap_or(0),
            node["connections"].as_u64().unwrap_or(0),
            age
        );
    }
    for node in &nodes {
        let leases = node["leases"].as_array().cloned().unwrap_or_default();
        if leases.is_empty() {
            continue;
        }
        out += &format!("\nleases of {}:\n", node["node_id"].as_str().unwrap_or("?"));
        for lease in leases.iter().take(max_leases) {
            out += &format!(
                "  {:<12} {}/{}  fence {}\n",
                lease["kind"].as_str().unwrap_or("?"),
                lease["tenant_id"].as_str().unwrap_or("?"),
                lease["id"].as_str().unwrap_or("?"),
                lease["fence"].as_i64().unwrap_or(0)
            );
        }
        if leases.len() > max_leases {
            out += &format!("  … and {} more\n", leases.len() - max_leases);
        }
    }
    out
}
