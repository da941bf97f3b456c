//! `switchboard tenants create|update`: a tenant's settings, through a running server's
//! admin API (`POST /v1/admin/tenants` with the operator key; `PATCH …/tenants/{id}` with
//! an owner key, or the operator's for `--allow-private-adaptors`).

use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::remote::{Remote, ServerArgs, encode};

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant (operator key).
    Create(CreateArgs),
    /// Change a tenant's settings; only the options given change.
    Update(UpdateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The tenant's id: [a-z0-9][a-z0-9_-]{0,62}
    pub id: String,
    /// Display name (default: the id).
    #[arg(long)]
    pub name: Option<String>,
    /// The flow new conversations start.
    #[arg(long, default_value = "main")]
    pub entry_flow: String,
    /// An origin allowed to open the web chat, e.g. https://www.example.com; repeat for
    /// more. None: any origin.
    #[arg(long = "allowed-origin")]
    pub allowed_origins: Vec<String>,
    /// Let the tenant's adaptors call private and loopback addresses.
    #[arg(long)]
    pub allow_private_adaptors: bool,
    /// The tenant's model (default: `llm.model` of the server's config).
    #[arg(long)]
    pub llm_model: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Print the API's JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    pub id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub entry_flow: Option<String>,
    /// Replaces the allowed origins; repeat for more.
    #[arg(long = "allowed-origin", conflicts_with = "any_origin")]
    pub allowed_origins: Vec<String>,
    /// Clears the allowed origins: any origin may open the web chat.
    #[arg(long)]
    pub any_origin: bool,
    /// true or false (operator key only).
    #[arg(long)]
    pub allow_private_adaptors: Option<bool>,
    #[arg(long, conflicts_with = "default_model")]
    pub llm_model: Option<String>,
    /// Clears the tenant's model: `llm.model` of the server's config applies.
    #[arg(long)]
    pub default_model: bool,
    #[command(flatten)]
    pub server: ServerArgs,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(command: TenantsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TenantsCommand::Create(args) => create(args).await,
        TenantsCommand::Update(args) => update(args).await,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    let body = json!({
        "id": args.id,
        "name": args.name.as_deref().unwrap_or(&args.id),
        "entry_flow": args.entry_flow,
        "allowed_origins": args.allowed_origins,
        "allow_private_adaptors": args.allow_private_adaptors,
        "llm_model": args.llm_model,
    });
    let tenant = Remote::admin(args.server)
        .json(Method::POST, "/tenants", &body)
        .await?;
    print_tenant(&tenant, "created", args.json)
}

/// The PATCH body of the options given.
fn patch_body(args: &UpdateArgs) -> Map<String, Value> {
    let mut body = Map::new();
    if let Some(name) = &args.name {
        body.insert("name".into(), name.as_str().into());
    }
    if let Some(flow) = &args.entry_flow {
        body.insert("entry_flow".into(), flow.as_str().into());
    }
    if args.any_origin || !args.allowed_origins.is_empty() {
        body.insert(
            "allowed_origins".into(),
            args.allowed_origins.clone().into(),
        );
    }
    if let Some(allow) = args.allow_private_adaptors {
        body.insert("allow_private_adaptors".into(), allow.into());
    }
    if args.default_model {
        body.insert("llm_model".into(), Value::Null);
    } else if let Some(model) = &args.llm_model {
        body.insert("llm_model".into(), model.as_str().into());
    }
    body
}

async fn update(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let body = patch_body(&args);
    if body.is_empty() {
        bail!(
            "nothing to change: give --name, --entry-flow, --allowed-origin, --any-origin, \
             --allow-private-adaptors, --llm-model or --default-model"
        );
    }
    let path = format!("/tenants/{}", encode(&args.id));
    let tenant = Remote::admin(args.server)
        .json(Method::PATCH, &path, &Value::Object(body))
        .await?;
    print_tenant(&tenant, "updated", args.json)
}

fn print_tenant(tenant: &Value, verb: &str, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(tenant)?);
        return Ok(ExitCode::SUCCESS);
    }
    let origins: Vec<&str> = tenant["allowed_origins"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    println!("{verb} tenant `{}`", tenant["id"].as_str().unwrap_or(""));
    println!(
        "  name:                   {}",
        tenant["name"].as_str().unwrap_or("")
    );
    println!(
        "  entry flow:             {}",
        tenant["entry_flow"].as_str().unwrap_or("")
    );
    println!(
        "  allowed origins:        {}",
        if origins.is_empty() {
            "any".to_string()
        } else {
            origins.join(", ")
        }
    );
    println!(
        "  model:                  {}",
        tenant["llm_model"]
            .as_str()
            .unwrap_or("(the server's default)")
    );
    println!(
        "  private adaptor calls:  {}",
        if tenant["allow_private_adaptors"] == true {
            "allowed"
        } else {
            "refused"
        }
    );
    Ok(ExitCode::SUCCESS)
}
