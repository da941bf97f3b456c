//! `switchboard keys create|list|revoke`: admin API keys, directly in the database, for
//! bootstrapping a tenant without an operator key (and recovering from a lost one). A new
//! key is printed once; a list never shows a key or its hash, only its display prefix.
//! Every change is audited with the actor `cli`.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;

use super::database::open_existing;
use crate::config::Config;
use crate::http::admin::auth::Role;
use crate::store::{ApiKeyRow, Store};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key for a tenant and print it (it cannot be shown again).
    Create {
        #[arg(long)]
        tenant: String,
        /// viewer, editor or owner
        #[arg(long, default_value = "owner")]
        role: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a tenant's keys (id, name, role, prefix, creation, revocation); never the keys.
    List {
        #[arg(long)]
        tenant: String,
        /// Also list revoked keys.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (from `keys list`); it stops working at once.
    Revoke {
        #[arg(long)]
        tenant: String,
        key_id: String,
    },
}

pub async fn run(command: KeysCommand, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Create { tenant, role, name } => create(config, &tenant, &role, &name).await,
        KeysCommand::List { tenant, all, json } => list(config, &tenant, all, json).await,
        KeysCommand::Revoke { tenant, key_id } => revoke(config, &tenant, &key_id).await,
    }
}

/// The store, and the tenant checked to exist (and not be deleted).
async fn tenant_store(config: &Config, tenant: &str) -> anyhow::Result<Store> {
    let store = open_existing(config).await?;
    if store.tenant(tenant).await?.is_none() {
        bail!("no tenant `{tenant}`");
    }
    Ok(store)
}

async fn create(config: &Config, tenant: &str, role: &str, name: &str) -> anyhow::Result<ExitCode> {
    let role = Role::parse(role)
        .ok_or_else(|| anyhow::anyhow!("--role must be viewer, editor or owner"))?;
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        bail!("--name must be 1 to 100 characters");
    }
    let store = tenant_store(config, tenant).await?;
    let created = crate::http::admin::create_key(&store, tenant, name, role, "cli").await?;
    store
        .audit(tenant, "cli", "key.create", &created.view.id,
            &serde_json::json!({ "name": name, "role": role.as_str(), "prefix": created.view.prefix }))
        .await?;
    println!("{}", created.key);
    eprintln!(
        "created {} key `{}` ({}, id {}) for tenant `{tenant}`; it is shown only now",
        role.as_str(),
        name,
        created.view.prefix,
        created.view.id
    );
    Ok(ExitCode::SUCCESS)
}

async fn list(config: &Config, tenant: &str, all: bool, json: bool) -> anyhow::Result<ExitCode> {
    let store = tenant_store(config, tenant).await?;
    let keys: Vec<ApiKeyRow> = store
        .list_api_keys(tenant)
        .await?
        .into_iter()
        .filter(|k| all || k.revoked_at.is_none())
        .collect();
    if json {
        let keys: Vec<_> = keys.iter().map(key_json).collect();
        println!("{}", serde_json::to_string_pretty(&keys)?);
    } else {
        print!("{}", keys_table(&keys));
    }
    Ok(ExitCode::SUCCESS)
}

/// What a list shows of a key: never the key or its hash.
fn key_json(key: &ApiKeyRow) -> serde_json::Value {
    serde_json::json!({
        "id": key.id, "name": key.name, "role": key.role, "prefix": key.prefix,
        "created_at": key.created_at, "created_by": key.created_by, "revoked_at": key.revoked_at,
    })
}

fn keys_table(keys: &[ApiKeyRow]) -> String {
    let mut out = format!(
        "{:<28} {:<7} {:<13} {:<17} {:<14} {}\n",
        "id", "role", "prefix", "created (UTC)", "by", "name"
    );
    for key in keys {
        let revoked = key
            .revoked_at
            .map(|at| format!(" (revoked {})", super::utc(at)))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<28} {:<7} {:<13} {:<17} {:<14} {}{revoked}\n",
            key.id,
            key.role,
            key.prefix,
            super::utc(key.created_at),
            key.created_by,
            key.name,
        ));
    }
    if keys.is_empty() {
        out.push_str("(no keys)\n");
    }
    out
}

async fn revoke(config: &Config, tenant: &str, key_id: &str) -> anyhow::Result<ExitCode> {
    let store = tenant_store(config, tenant).await?;
    if !store.revoke_api_key(tenant, key_id).await? {
        bail!("tenant `{tenant}` has no live key `{key_id}`");
    }
    store
        .audit(tenant, "cli", "key.revoke", key_id, &serde_json::json!({}))
        .await?;
    println!("revoked key `{key_id}` of tenant `{tenant}`");
    Ok(ExitCode::SUCCESS)
}
