//! Shared test harness: real servers on 127.0.0.1:0, real databases, real WebSocket
//! clients.
//!
//! Every store-touching scenario runs twice, on SQLite (always) and on PostgreSQL. The
//! PostgreSQL run uses `SWITCHBOARD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and creates a database of its own per test.
//! When PostgreSQL is unreachable the run is skipped with a message, except under
//! `CI=true`, where it fails.
#![allow(dead_code)]

pub mod admin;
pub mod client;
pub mod process;

use std::path::PathBuf;
use std::time::Duration;

use sqlx::Connection;
use switchboard::app::{self, Node};
use switchboard::config::Config;

#[allow(unused_imports)]
pub use client::Client;

/// Generates `sqlite` and `postgres` tests from an `async fn(Backend)` scenario.
#[macro_export]
macro_rules! on_both_stores {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$scenario($crate::support::Backend::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(backend) = $crate::support::Backend::postgres().await {
                        super::$scenario(backend).await;
                    }
                }
            }
        )+
    };
}

/// A database for one test.
pub struct Backend {
    pub url: String,
    pub name: &'static str,
    _dir: Option<tempfile::TempDir>,
    pg_database: Option<String>,
}

fn admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

impl Backend {
    /// A file-backed SQLite database in a fresh temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
        Self {
            url,
            name: "sqlite",
            _dir: Some(dir),
            pg_database: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (skip) when PostgreSQL is unreachable
    /// outside CI.
    pub async fn postgres() -> Option<Self> {
        let admin = admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) if in_ci() => panic!("CI=true but PostgreSQL at {admin} is unreachable: {e}"),
            Err(e) => {
                eprintln!("SKIPPED: PostgreSQL tests (no server at {admin}: {e})");
                return None;
            }
        };
        let database = format!("sbtest_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        Some(Self {
            url: format!("{base}/{database}"),
            name: "postgres",
            _dir: None,
            pg_database: Some(database),
        })
    }

    /// A config for a test node on this database: ephemeral port, the repository's demo
    /// flows, and a fast offline model.
    pub fn config(&self) -> Config {
        let mut config = Config::default();
        config.server.bind = "127.0.0.1:0".parse().unwrap();
        config.server.workers = 2;
        config.server.shutdown_timeout_secs = 5;
        config.server.predrain_secs = 0;
        config.database.url = self.url.clone();
        config.demo.flows_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("flows");
        config.llm.offline_token_delay_ms = 1;
        config.admin.bootstrap_key = admin::BOOTSTRAP_KEY.into();
        config
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(database) = self.pg_database.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let admin = admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let sql = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                                .execute(&mut conn)
                                .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// Starts a node with `config` and waits until it answers `/readyz`.
pub async fn spawn_server(config: Config) -> Node {
    let node = app::start(config).await.expect("node starts");
    let url = format!("http://{}/readyz", node.addr());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(response) = reqwest::get(&url).await
            && response.status().is_success()
        {
            return node;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node never became ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `condition` until it holds or `within` passes (no fixed sleeps in tests).
pub async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
