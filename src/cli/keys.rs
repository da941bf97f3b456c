//! `switchboard keys create`: creates an admin API key directly in the database, for
//! bootstrapping a tenant without an operator key. The key is printed once.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;
use crate::http::admin::auth::Role;
use crate::store::Store;

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
}

pub async fn run(command: KeysCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let KeysCommand::Create { tenant, role, name } = command;
    let role = Role::parse(&role)
        .ok_or_else(|| anyhow::anyhow!("--role must be viewer, editor or owner"))?;
    let store = Store::connect(&config.database).await?;
    store.migrate().await?;
    if store.tenant(&tenant).await?.is_none() {
        eprintln!("error: no tenant `{tenant}`");
        return Ok(ExitCode::FAILURE);
    }
    let created = crate::http::admin::create_key(&store, &tenant, &name, role, "cli").await?;
    store
        .audit(&tenant, "cli", "key.create", &created.view.id,
            &serde_json::json!({ "name": name, "role": role.as_str(), "prefix": created.view.prefix }))
        .await?;
    println!("{}", created.key);
    eprintln!(
        "created {} key `{}` ({}) for tenant `{tenant}`; it is shown only now",
        role.as_str(),
        name,
        created.view.prefix
    );
    Ok(ExitCode::SUCCESS)
}
