//! `switchboard conversations list|show`: a tenant's conversations and a transcript, from
//! a running server's admin API, as a table (or the API's JSON with `--json`).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::remote::{Remote, RemoteArgs, encode};

#[derive(Debug, Subcommand)]
pub enum ConversationsCommand {
    /// The most recently updated conversations, newest first.
    List(ListArgs),
    /// A conversation and its transcript.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// active, handoff or ended
    #[arg(long)]
    pub status: Option<String>,
    /// webchat, whatsapp, slack or teams
    #[arg(long)]
    pub channel: Option<String>,
    /// Only conversations of this flow.
    #[arg(long)]
    pub flow: Option<String>,
    /// How many, 1 to 200.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Only conversations updated before this time (ms since the epoch): the last
    /// `updated_at` of the previous page.
    #[arg(long)]
    pub before: Option<i64>,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub id: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(command: ConversationsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConversationsCommand::List(args) => list(args).await,
        ConversationsCommand::Show(args) => show(args).await,
    }
}

fn query(args: &ListArgs) -> String {
    let mut query = vec![format!("limit={}", args.limit)];
    for (name, value) in [
        ("status", &args.status),
        ("channel", &args.channel),
        ("flow", &args.flow),
    ] {
        if let Some(value) = value {
            query.push(format!("{name}={}", encode(value)));
        }
    }
    if let Some(before) = args.before {
        query.push(format!("before={before}"));
    }
    query.join("&")
}

async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/conversations?{}", query(&args));
    let conversations = Remote::new(args.remote).get(&path).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&conversations)?);
    } else {
        print!("{}", table(&conversations));
    }
    Ok(ExitCode::SUCCESS)
}

fn table(conversations: &Value) -> String {
    let mut out = format!(
        "{:<28} {:<9} {:<8} {:<24} {:<17} {}\n",
        "id", "channel", "status", "flow@version", "updated (UTC)", "user"
    );
    let rows = conversations.as_array().map(Vec::as_slice).unwrap_or(&[]);
    for c in rows {
        out.push_str(&format!(
            "{:<28} {:<9} {:<8} {:<24} {:<17} {}\n",
            c["id"].as_str().unwrap_or(""),
            c["channel"].as_str().unwrap_or(""),
            c["status"].as_str().unwrap_or(""),
            format!(
                "{}@{}",
                c["flow_id"].as_str().unwrap_or(""),
                c["flow_version"]
            ),
            super::utc(c["updated_at"].as_i64().unwrap_or(0)),
            c["external_user"].as_str().unwrap_or(""),
        ));
    }
    if rows.is_empty() {
        out.push_str("(no conversations)\n");
    }
    out
}

async fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/conversations/{}", encode(&args.id));
    let conversation = Remote::new(args.remote).get(&path).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&conversation)?);
    } else {
        print!("{}", transcript(&conversation));
    }
    Ok(ExitCode::SUCCESS)
}

/// A header, then one block per message: time, role, and the text indented under it.
fn transcript(c: &Value) -> String {
    let mut out = format!(
        "conversation {} ({}, {})\nflow {} version {}, user {}\nstarted {} UTC, updated {} UTC\n",
        c["id"].as_str().unwrap_or(""),
        c["channel"].as_str().unwrap_or(""),
        c["status"].as_str().unwrap_or(""),
        c["flow_id"].as_str().unwrap_or(""),
        c["flow_version"],
        c["external_user"].as_str().unwrap_or(""),
        super::utc(c["created_at"].as_i64().unwrap_or(0)),
        super::utc(c["updated_at"].as_i64().unwrap_or(0)),
    );
    for message in c["messages"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n[{}] {}:\n",
            super::utc(message["created_at"].as_i64().unwrap_or(0)),
            message["role"].as_str().unwrap_or("?"),
        ));
        for line in message["text"].as_str().unwrap_or("").lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_indents_each_message_under_its_role() {
        let c = serde_json::json!({"id": "c1", "channel": "webchat", "status": "active",
            "flow_id": "main", "flow_version": 2, "external_user": "v1",
            "created_at": 0, "updated_at": 60_000,
            "messages": [{"seq": 1, "role": "bot", "text": "Hi!\nYour name?", "created_at": 0},
                {"seq": 2, "role": "user", "text": "Ada", "created_at": 60_000}]});
        let text = transcript(&c);
        assert!(
            text.starts_with("conversation c1 (webchat, active)\nflow main version 2"),
            "{text}"
        );
        assert!(
            text.contains("[1970-01-01 00:00] bot:\n    Hi!\n    Your name?\n"),
            "{text}"
        );
        assert!(
            text.contains("[1970-01-01 00:01] user:\n    Ada\n"),
            "{text}"
        );
    }
}
