//! `switchboard flows list|pull|diff|activate|rollback`: a tenant's flows and versions on
//! a running server. Sources come back exactly as they were saved, so `pull` then `diff`
//! shows nothing, and a diff is of the YAML people wrote, not of a canonical form.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;
use serde_json::{Value, json};

use super::remote::{Remote, RemoteArgs, encode};

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    pub flow: String,
    /// This version instead of the active one.
    #[arg(long, conflicts_with = "draft")]
    pub version: Option<i64>,
    /// The draft instead of the active version.
    #[arg(long)]
    pub draft: bool,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub flow: String,
    /// A local flow file, compared with the server's version.
    #[arg(required_unless_present = "to")]
    pub file: Option<PathBuf>,
    /// The server's version to compare (default: the active one).
    #[arg(long)]
    pub version: Option<i64>,
    /// Compare with this server version instead of a file.
    #[arg(long, conflicts_with = "file")]
    pub to: Option<i64>,
    /// Exit with 1 when there are differences (like `git diff --exit-code`).
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct ActivateArgs {
    pub flow: String,
    /// The version new conversations start.
    #[arg(long)]
    pub version: i64,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    pub flow: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[arg(long)]
    pub json: bool,
}

pub async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let flows = Remote::new(args.remote).get("/flows").await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&flows)?);
    } else {
        print!("{}", flows_table(&flows));
    }
    Ok(ExitCode::SUCCESS)
}

fn version_text(version: &Value) -> String {
    version
        .as_i64()
        .map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// One line per flow: its active and latest versions and whether its draft holds
/// unpublished changes.
fn flows_table(flows: &Value) -> String {
    let mut out = format!(
        "{:<40} {:>8} {:>8}  {}\n",
        "flow", "active", "latest", "unpublished"
    );
    for flow in flows.as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<40} {:>8} {:>8}  {}\n",
            flow["id"].as_str().unwrap_or(""),
            version_text(&flow["active_version"]),
            version_text(&flow["latest_version"]),
            if flow["has_draft"] == true {
                "yes"
            } else {
                "no"
            },
        ));
    }
    out
}

/// The source of a version; `None` means the active one.
async fn version_source(
    remote: &Remote,
    flow: &str,
    version: Option<i64>,
) -> anyhow::Result<(i64, String)> {
    let flow_path = format!("/flows/{}", encode(flow));
    let version = match version {
        Some(version) => version,
        None => {
            let view = remote.get(&flow_path).await?;
            view["active_version"].as_i64().with_context(|| {
                format!("flow `{flow}` has no active version; name one with --version")
            })?
        }
    };
    let detail = remote
        .get(&format!("{flow_path}/versions/{version}"))
        .await?;
    let source = detail["source"]
        .as_str()
        .context("the server's answer has no `source`")?;
    Ok((version, source.to_string()))
}

pub async fn pull(args: PullArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::new(args.remote);
    let (what, source) = if args.draft {
        let view = remote
            .get(&format!("/flows/{}", encode(&args.flow)))
            .await?;
        let source = view["draft"]["source"]
            .as_str()
            .with_context(|| format!("flow `{}` has no draft", args.flow))?;
        ("draft".to_string(), source.to_string())
    } else {
        let (version, source) = version_source(&remote, &args.flow, args.version).await?;
        (format!("version {version}"), source)
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &source)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote the {what} of `{}` to {}", args.flow, path.display());
        }
        None => print!("{source}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::new(args.remote);
    let (version, old) = version_source(&remote, &args.flow, args.version).await?;
    let old_name = format!("{}@{version}", args.flow);
    let (new_name, new) = match (&args.file, args.to) {
        (_, Some(to)) => {
            let (to, source) = version_source(&remote, &args.flow, Some(to)).await?;
            (format!("{}@{to}", args.flow), source)
        }
        (Some(file), None) => {
            let source = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            (file.display().to_string(), source)
        }
        (None, None) => bail!("give a local FILE or --to VERSION to compare with"),
    };
    let text = unified_diff(&old, &new, &old_name, &new_name);
    if text.is_empty() {
        eprintln!("no differences between {old_name} and {new_name}");
        return Ok(ExitCode::SUCCESS);
    }
    print!("{text}");
    Ok(if args.exit_code {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A unified diff with three lines of context; empty when the texts are equal.
fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .missing_newline_hint(true)
        .to_string()
}

pub async fn activate(args: ActivateArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::new(args.remote);
    let path = format!("/flows/{}/activate", encode(&args.flow));
    let view = remote
        .json(Method::POST, &path, &json!({ "version": args.version }))
        .await?;
    print_switch(&view, "activated", args.json)
}

pub async fn rollback(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::new(args.remote);
    let path = format!("/flows/{}/rollback", encode(&args.flow));
    let view = remote.json(Method::POST, &path, &json!({})).await?;
    print_switch(&view, "rolled back", args.json)
}

fn print_switch(view: &Value, verb: &str, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(view)?);
    } else {
        println!(
            "{verb} `{}`: version {} is active",
            view["id"].as_str().unwrap_or(""),
            version_text(&view["active_version"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_is_unified_and_empty_for_equal_texts() {
        assert_eq!(unified_diff("a\nb\n", "a\nb\n", "x", "y"), "");
        let text = unified_diff("a\nb\nc\n", "a\nB\nc\n", "flow@1", "flow.yaml");
        assert!(text.starts_with("--- flow@1\n+++ flow.yaml\n@@"), "{text}");
        assert!(text.contains("\n-b\n+B\n"), "{text}");
    }

    #[test]
    fn table_shows_missing_versions_as_dashes() {
        let flows = json!([{"id": "main", "active_version": 2, "latest_version": 3, "has_draft": true},
            {"id": "new", "active_version": null, "latest_version": null, "has_draft": true}]);
        let table = flows_table(&flows);
        let new = table.lines().find(|l| l.starts_with("new")).unwrap();
        assert_eq!(
            new.split_whitespace().collect::<Vec<_>>(),
            ["new", "-", "-", "yes"]
        );
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["main", "2", "3", "yes"])
        );
    }
}
