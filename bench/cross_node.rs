//! Cross-node delivery latency through Redis: two nodes of one cluster (in this process,
//! each with its own Redis connections, actor tree and HTTP server, sharing one
//! PostgreSQL database), a visitor with one socket on each. The socket on node A sends a
//! message; node A owns the conversation, stores it and publishes it; we time until the
//! socket on node B receives that message frame (A's store → Redis pub/sub → B's bus →
//! B's socket), and, for comparison, until A's own socket does.
//!
//! `cargo bench --bench cross_node` (env: MESSAGES, default 2000; BENCH_DATABASE_URL, a
//! PostgreSQL server URL whose database `test` exists, default the local one;
//! BENCH_REDIS_URL, default redis://127.0.0.1:6379). Writes bench/results/cross_node.json.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use sqlx::Connection;
use switchboard::config::Config;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const FLOW: &str = "id: echo\nslots:\n  text: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: text, prompt: \"Say something.\" }\n    next:\n      - if: 'text == \"bye\"'\n        then: done\n      - else: echo\n  echo:\n    say: \"echo: {{ text }}\"\n    next: ask\n  done:\n    end: \"Bye!\"\n";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<Socket> {
    Ok(
        tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws"))
            .await?
            .0,
    )
}

async fn next_json(ws: &mut Socket) -> anyhow::Result<Value> {
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Text(text))) => return Ok(serde_json::from_str(&text)?),
            Some(Ok(_)) => continue,
            other => anyhow::bail!("socket ended: {other:?}"),
        }
    }
}

/// Reads frames until a user `message` frame with `text`.
async fn until_user_message(ws: &mut Socket, text: &str) -> anyhow::Result<()> {
    loop {
        let frame = next_json(ws).await?;
        if frame["type"] == "message" && frame["role"] == "user" && frame["text"] == text {
            return Ok(());
        }
    }
}

fn node_config(
    database_url: &str,
    redis_url: &str,
    prefix: &str,
    node: &str,
    flows: &std::path::Path,
) -> Config {
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".parse().unwrap();
    config.server.predrain_secs = 0;
    config.server.workers = 1;
    config.database.url = database_url.to_string();
    config.cluster.redis_url = redis_url.to_string();
    config.cluster.key_prefix = prefix.to_string();
    config.cluster.node_id = node.to_string();
    config.cluster.visitor_messages_per_second = 1_000_000;
    config.webchat.messages_per_second = 100_000;
    config.webchat.message_burst = 100_000;
    config.security.visitor_token_secret = "bench-visitor-token-secret-0123456789abcdef".into();
    config.security.secrets_key = "cd".repeat(32);
    config.demo.flows_dir = flows.to_path_buf();
    config.demo.entry_flow = "echo".into();
    config.log.filter = "error".into();
    config
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let messages: usize = std::env::var("MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let server = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let redis_url =
        std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let database = format!("sbbench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await?;
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let database_url = format!("{base}/{database}");
    let flows = tempfile::tempdir()?;
    std::fs::write(flows.path().join("echo.yaml"), FLOW)?;
    let prefix = format!("sbbench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut quiet = Config::default().log;
    quiet.filter = "error".into();
    switchboard::telemetry::init(&quiet);

    let node_a = switchboard::app::start(node_config(
        &database_url,
        &redis_url,
        &prefix,
        "a",
        flows.path(),
    ))
    .await?;
    let node_b = switchboard::app::start(node_config(
        &database_url,
        &redis_url,
        &prefix,
        "b",
        flows.path(),
    ))
    .await?;

    let mut on_a = connect(node_a.addr()).await?;
    on_a.send(WsMessage::text(
        json!({"type": "hello", "tenant": "demo"}).to_string(),
    ))
    .await?;
    let welcome = next_json(&mut on_a).await?;
    let mut on_b = connect(node_b.addr()).await?;
    on_b.send(WsMessage::text(
        json!({
            "type": "hello", "tenant": "demo", "visitor_token": welcome["visitor_token"],
            "conversation_id": welcome["conversation_id"], "last_seq": 0,
        })
        .to_string(),
    ))
    .await?;
    next_json(&mut on_b).await?;

    let mut remote = Histogram::<u64>::new(3)?;
    let mut local = Histogram::<u64>::new(3)?;
    let warmup = messages / 10;
    for n in 0..messages + warmup {
        let text = format!("m{n}");
        let sent = Instant::now();
        on_a.send(WsMessage::text(
            json!({"type": "message", "client_id": text, "text": text}).to_string(),
        ))
        .await?;
        let (a, b) = tokio::join!(
            async {
                until_user_message(&mut on_a, &text)
                    .await
                    .map(|()| sent.elapsed())
            },
            async {
                until_user_message(&mut on_b, &text)
                    .await
                    .map(|()| sent.elapsed())
            }
        );
        if n >= warmup {
            local.record(a?.as_micros() as u64)?;
            remote.record(b?.as_micros() as u64)?;
        }
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!("cross-node delivery, {messages} messages (send on node A → message frame):");
    println!(
        "  socket on A (owner, local bus): p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(&local, 0.5),
        ms(&local, 0.99),
        local.max() as f64 / 1000.0
    );
    println!(
        "  socket on B (through Redis):    p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(&remote, 0.5),
        ms(&remote, 0.99),
        remote.max() as f64 / 1000.0
    );
    println!(
        "  added by the hop to B:          p50 {:.2} ms  p99 {:.2} ms",
        ms(&remote, 0.5) - ms(&local, 0.5),
        ms(&remote, 0.99) - ms(&local, 0.99)
    );
    std::fs::create_dir_all("bench/results")?;
    std::fs::write(
        "bench/results/cross_node.json",
        serde_json::to_string_pretty(&json!({
            "messages": messages,
            "local_ms": {"p50": ms(&local, 0.5), "p99": ms(&local, 0.99), "max": local.max() as f64 / 1000.0},
            "remote_ms": {"p50": ms(&remote, 0.5), "p99": ms(&remote, 0.99), "max": remote.max() as f64 / 1000.0},
        }))?,
    )?;
    let _ = on_a.close(None).await;
    let _ = on_b.close(None).await;
    tokio::time::timeout(Duration::from_secs(10), node_a.shutdown())
        .await
        .ok();
    tokio::time::timeout(Duration::from_secs(10), node_b.shutdown())
        .await
        .ok();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    Ok(())
}
