//! `switchboard flows …`: validate and simulate local files; push and publish them to a
//! running server. Reading and switching versions on the server (`list`, `pull`, `diff`,
//! `activate`, `rollback`) is in `flow_versions.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use reqwest::Method;

use super::flow_versions::{self, ActivateArgs, DiffArgs, ListArgs, PullArgs, RollbackArgs};
use super::remote::{Remote, RemoteArgs};
use crate::dialog::{self, CompileOptions, Severity};
use crate::simulate::{Stub, simulate};

#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Compile flow files (or every *.yaml in directories) and report diagnostics.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Adaptor names the tenant has, to check `call` states (comma separated).
        #[arg(long, value_delimiter = ',')]
        adaptors: Option<Vec<String>>,
    },
    /// Save a flow file as the draft of its flow on a running server.
    Push {
        file: PathBuf,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Push a flow file (or name a flow by id) and publish its draft as a new version.
    Publish {
        /// A flow file, or the id of a flow whose draft is already on the server.
        flow: String,
        /// Also make the new version the live one.
        #[arg(long)]
        activate: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Run a flow file against scripted turns, with the offline model and stubbed adaptors.
    Simulate {
        file: PathBuf,
        /// A user message; repeat for each turn.
        #[arg(long = "turn")]
        turns: Vec<String>,
        /// An adaptor's answer: `name={"status":"shipped"}` or `name=error:timeout`.
        #[arg(long = "stub")]
        stubs: Vec<String>,
    },
    /// List the tenant's flows with their active and latest versions and draft state.
    List(ListArgs),
    /// Print (or write with -o) the active version's source, another version's, or the draft.
    Pull(PullArgs),
    /// A unified diff from the active version (or --version N) to a local file (or --to M).
    Diff(DiffArgs),
    /// Make a published version the one new conversations start.
    Activate(ActivateArgs),
    /// Make the version before the active one active again.
    Rollback(RollbackArgs),
}

pub async fn run(command: FlowsCommand) -> anyhow::Result<ExitCode> {
    match command {
        FlowsCommand::Validate { paths, adaptors } => Ok(validate(&paths, adaptors)),
        FlowsCommand::Push { file, remote } => push(&Remote::new(remote), &file)
            .await
            .map(|(code, _)| code),
        FlowsCommand::Publish {
            flow,
            activate,
            remote,
        } => publish(&Remote::new(remote), &flow, activate).await,
        FlowsCommand::Simulate { file, turns, stubs } => {
            run_simulation(&file, &turns, &stubs).await
        }
        FlowsCommand::List(args) => flow_versions::list(args).await,
        FlowsCommand::Pull(args) => flow_versions::pull(args).await,
        FlowsCommand::Diff(args) => flow_versions::diff(args).await,
        FlowsCommand::Activate(args) => flow_versions::activate(args).await,
        FlowsCommand::Rollback(args) => flow_versions::rollback(args).await,
    }
}

/// Saves the file as a draft; returns the exit code and the flow id.
async fn push(remote: &Remote, file: &Path) -> anyhow::Result<(ExitCode, String)> {
    let source = std::fs::read_to_string(file)?;
    let flow_id = match dialog::compile(&file.display().to_string(), &source) {
        Ok(flow) => flow.id().to_string(),
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}\n");
            }
            eprintln!("not pushed: {} does not compile", file.display());
            return Ok((ExitCode::FAILURE, String::new()));
        }
    };
    let response = remote
        .send(
            Method::PUT,
            &format!("/flows/{flow_id}"),
            "application/yaml",
            source,
        )
        .await?;
    if !response.ok() {
        eprintln!("error: {}", response.error_message());
        return Ok((ExitCode::FAILURE, flow_id));
    }
    for diagnostic in response.body["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
    {
        eprintln!(
            "{}: {}",
            diagnostic["code"].as_str().unwrap_or("?"),
            diagnostic["message"].as_str().unwrap_or("")
        );
    }
    let valid = response.body["valid"].as_bool().unwrap_or(false);
    println!(
        "pushed draft of `{flow_id}` (etag {})",
        response.body["etag"].as_str().unwrap_or("?")
    );
    Ok((
        if valid {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
        flow_id,
    ))
}

async fn publish(remote: &Remote, flow: &str, activate: bool) -> anyhow::Result<ExitCode> {
    let flow_id = if Path::new(flow).is_file() {
        let (code, flow_id) = push(remote, Path::new(flow)).await?;
        if code != ExitCode::SUCCESS {
            return Ok(code);
        }
        flow_id
    } else {
        flow.to_string()
    };
    let body = serde_json::json!({ "activate": activate }).to_string();
    let response = remote
        .send(
            Method::POST,
            &format!("/flows/{flow_id}/publish"),
            "application/json",
            body,
        )
        .await?;
    if !response.ok() {
        eprintln!("error: {}", response.error_message());
        for diagnostic in response.body["error"]["details"]["diagnostics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            eprintln!(
                "  {}: {}",
                diagnostic["code"].as_str().unwrap_or("?"),
                diagnostic["message"].as_str().unwrap_or("")
            );
        }
        return Ok(ExitCode::FAILURE);
    }
    let version = &response.body["version"];
    let state = if response.body["active"] == true {
        "active"
    } else {
        "not active"
    };
    let news = if response.status == 201 {
        "published"
    } else {
        "unchanged, already"
    };
    println!("{news} `{flow_id}` version {version} ({state})");
    Ok(ExitCode::SUCCESS)
}

async fn run_simulation(
    file: &Path,
    turns: &[String],
    stubs: &[String],
) -> anyhow::Result<ExitCode> {
    let source = std::fs::read_to_string(file)?;
    let flow = match dialog::compile(&file.display().to_string(), &source) {
        Ok(flow) => flow,
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}\n");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut parsed = BTreeMap::new();
    for stub in stubs {
        let (name, answer) = stub.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--stub takes name=JSON or name=error:message, got `{stub}`")
        })?;
        let answer = match answer.strip_prefix("error:") {
            Some(error) => Stub::Error(error.to_string()),
            None => Stub::Result(serde_json::from_str(answer)?),
        };
        parsed.insert(name.to_string(), answer);
    }
    let result = simulate(&flow, turns, &parsed).await;
    for message in &result.transcript {
        println!("{:>6}: {}", message.role, message.text);
    }
    for warning in &result.warnings {
        eprintln!("warning: {warning}");
    }
    println!("-- status: {}", result.status);
    Ok(ExitCode::SUCCESS)
}

/// Prints diagnostics like rustc; exit code 1 when any error was found.
fn validate(paths: &[PathBuf], adaptors: Option<Vec<String>>) -> ExitCode {
    let options = CompileOptions {
        adaptors: adaptors.map(|names| names.into_iter().collect()),
        knowledge_bases: None,
    };
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
        let diagnostics = dialog::check_with(&file.display().to_string(), &source, &options);
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
