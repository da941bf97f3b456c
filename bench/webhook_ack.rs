//! Webhook ingestion latency: signed WhatsApp webhooks at a fixed rate (open loop: each
//! request leaves at its scheduled time, whatever the previous ones are doing), measuring
//! the time to the 200 ack — verification, parsing, conversation lookup and the durable
//! write of the message. Replies go to a local fake WhatsApp.
//!
//! `cargo bench --bench webhook_ack` (env: RATE per second, default 200; SECONDS,
//! default 10; USERS, default 50; BENCH_DATABASE_URL to use PostgreSQL instead of a
//! temporary SQLite file). Prints p50/p90/p99/max and writes bench/results/webhook_ack.json.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use switchboard::channels::whatsapp;
use switchboard::config::Config;
use switchboard::store::NewTenant;
use switchboard::testkit::fake_whatsapp::FakeWhatsapp;
use tokio::sync::Mutex;

const FLOW: &str = "id: main\nslots:\n  q: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: q, prompt: \"Ask me anything.\" }\n    next: done\n  done:\n    end: \"Thanks!\"\n";

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn body(user: usize, n: usize) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1555", "phone_number_id": "PN1"},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": format!("49151{user:06}")}],
        "messages": [{"from": format!("49151{user:06}"), "id": format!("wamid.bench.{n}"), "timestamp": "1700000000",
            "type": "text", "text": {"body": format!("message {n}")}}]}}]}]})
    .to_string()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let rate: u64 = env("RATE", 200);
    let seconds: u64 = env("SECONDS", 10);
    let users: usize = env("USERS", 50);
    let dir = tempfile::tempdir()?;
    let fake = FakeWhatsapp::start()?;
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".parse()?;
    config.server.predrain_secs = 0;
    config.database.url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    config.demo.enabled = false;
    config.log.filter = "error".into();
    config.llm.offline_token_delay_ms = 0;
    config.channels.whatsapp_base_url = fake.base_url();
    switchboard::telemetry::init(&config.log);
    let node = switchboard::app::start(config).await?;
    let services = node.runtime().services().clone();
    services
        .store
        .create_tenant(&NewTenant {
            id: "bench",
            name: "Bench",
            entry_flow: "main",
            allowed_origins: &[],
            allow_private_adaptors: false,
            llm_model: None,
        })
        .await?;
    let flow =
        switchboard::dialog::compile("main.yaml", FLOW).map_err(|d| anyhow::anyhow!("{d:?}"))?;
    let (version, _) = services
        .store
        .publish_version(
            "bench",
            "main",
            flow.content_hash(),
            &flow.definition_json().to_string(),
            FLOW,
            "bench",
        )
        .await?;
    services
        .store
        .activate_version("bench", "main", version.version)
        .await?;
    let secrets = services.secrets.seal(
        &json!({"app_secret": "bench-secret", "verify_token": "v", "access_token": "t"})
            .to_string(),
    );
    services
        .store
        .put_channel_account(
            "bench",
            "wa",
            "whatsapp",
            &json!({"phone_number_id": "PN1"}).to_string(),
            &secrets,
        )
        .await?;

    let url = format!("http://{}/v1/channels/whatsapp/wa", node.addr());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = (rate * seconds) as usize;
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        tokio::time::sleep_until(start + interval * n as u32).await;
        let body = body(n % users, n);
        let signature = whatsapp::sign(body.as_bytes(), "bench-secret");
        let (http, url, histogram, failures) = (
            http.clone(),
            url.clone(),
            histogram.clone(),
            failures.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = http
                .post(&url)
                .header("x-hub-signature-256", signature)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            let micros = sent.elapsed().as_micros() as u64;
            if ok {
                let _ = histogram.lock().await.record(micros.max(1));
            } else {
                failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let h = histogram.lock().await;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let failed = failures.load(std::sync::atomic::Ordering::Relaxed);
    let backend = if services.store.dialect() == switchboard::store::Dialect::Postgres {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "webhook ack latency, {backend}, {rate}/s for {seconds}s over {users} users: {} acked, {failed} failed",
        h.len()
    );
    println!(
        "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        h.max() as f64 / 1000.0
    );
    let report = json!({"scenario": "webhook_ack", "backend": backend, "rate": rate, "seconds": seconds, "users": users,
        "acked": h.len(), "failed": failed, "p50_ms": ms(0.5), "p90_ms": ms(0.9), "p99_ms": ms(0.99), "max_ms": h.max() as f64 / 1000.0});
    std::fs::create_dir_all("bench/results")?;
    std::fs::write(
        format!("bench/results/webhook_ack_{backend}.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    node.shutdown().await;
    Ok(())
}
