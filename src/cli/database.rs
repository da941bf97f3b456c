//! Opening the database for a command that works on it directly (`keys …`).
//!
//! Such a command needs a database that a server or `migrate` already set up. The store
//! creates a missing SQLite file (right for `serve` and `migrate`), so run from the wrong
//! directory a command would silently create an empty `./data/switchboard.db` and then
//! report that there is no such tenant. Here a missing file is an error that names the
//! absolute path it looked for.

use anyhow::{Context, bail};

use crate::config::Config;
use crate::store::{Store, sqlite_file};

/// Connects to the configured database, which must exist already, and brings its schema
/// up to date.
pub async fn open_existing(config: &Config) -> anyhow::Result<Store> {
    if let Some(file) = sqlite_file(&config.database.url)
        && !file.is_file()
    {
        bail!(
            "the database file {} does not exist; run `switchboard migrate` (or start the \
             server) first, or pass --config (or SWITCHBOARD__DATABASE__URL) naming the \
             server's database",
            file.display()
        );
    }
    let store = Store::connect(&config.database)
        .await
        .with_context(|| format!("cannot open {}", super::redact(&config.database.url)))?;
    store.migrate().await?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn finds_the_sqlite_file_of_a_url() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            sqlite_file("sqlite://data/x.db"),
            Some(cwd.join("data/x.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }
}
