//! What the model gateway adds to time to first token: the same streamed completion from
//! the local fake OpenAI upstream, read four ways, one call at a time (so queueing never
//! hides in the numbers), interleaved round by round so drift hits every variant alike:
//!
//! - `direct`: reqwest posts the request and reads the SSE body up to the first content
//!   chunk (what any client must do at least);
//! - `gateway`: `LlmGateway::stream` with no budgets and metering to nowhere;
//! - `metered`: the same, metered into the store (`model_calls` and the daily rollup);
//! - `governed`: metered, plus the Governor: a rate limit and a daily budget (reserve
//!   before the call, settle after), on the store;
//! - `litellm`: the LiteLLM proxy in front of the same upstream, read like `direct`
//!   (when bench/install-peers.sh installed it; LITELLM names another binary).
//!
//! `cargo bench --bench gateway_overhead` (env: CALLS per variant, default 2000;
//! BENCH_DATABASE_URL for PostgreSQL instead of a temporary SQLite file). Prints
//! p50/p90/p99/max per variant and the overhead over `direct`, and writes
//! bench/results/gateway_overhead.json.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;
use switchboard::cluster::Cluster;
use switchboard::config::{ClusterConfig, DatabaseConfig, LlmConfig};
use switchboard::governance::{Alerts, Budgets, Governor, ModelLimits};
use switchboard::llm::{CallOrigin, ChatMessage, CompletionRequest, LlmGateway, ModelPrice};
use switchboard::metering::UsageRecorder;
use switchboard::secret_box::SecretBox;
use switchboard::store::{BudgetRow, ModelLimitsRow, NewTenant, Store};
use switchboard::testkit::fake_openai::{FakeBehaviour, FakeOpenAi};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn request() -> CompletionRequest {
    let mut req = CompletionRequest::new(vec![
        ChatMessage::system("You are the support assistant of a shop. Be brief."),
        ChatMessage::user("Where is my order 1234? It was due yesterday."),
    ]);
    req.origin = CallOrigin {
        tenant_id: "bench".into(),
        conversation_id: Some("c-bench".into()),
        flow_id: Some("support".into()),
        flow_version: Some(1),
        state: Some("answer".into()),
        channel: Some("webchat".into()),
    };
    req
}

/// Time to the first content chunk, reading the SSE body by hand.
async fn direct(http: &reqwest::Client, url: &str, key: &str) -> Duration {
    let body = json!({
        "model": "gpt-bench", "stream": true, "max_tokens": 64,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Where is my order 1234?"}],
    });
    let started = Instant::now();
    let response = http
        .post(format!("{url}/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("the fake answers");
    let mut stream = response.bytes_stream();
    let mut seen = Vec::new();
    let mut first = None;
    while let Some(chunk) = stream.next().await {
        seen.extend_from_slice(&chunk.expect("body"));
        if first.is_none() && seen.windows(11).any(|w| w == b"\"content\":\"") {
            first = Some(started.elapsed());
        }
    }
    first.expect("a content chunk")
}

/// Time to the first fragment through the gateway; the rest is read to the end.
async fn through(gateway: &LlmGateway) -> Duration {
    let started = Instant::now();
    let mut stream = gateway.stream(request()).await.expect("a stream");
    let first = stream.next().await.expect("a fragment").expect("no error");
    let elapsed = started.elapsed();
    assert!(!first.is_empty());
    while stream.next().await.is_some() {}
    elapsed
}

const LITELLM_KEY: &str = "sk-bench-master";

/// A running LiteLLM proxy, stopped when dropped.
struct LiteLlm {
    url: String,
    version: String,
    child: std::process::Child,
}

impl Drop for LiteLlm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts LiteLLM in front of `upstream`, if it is installed.
async fn start_litellm(upstream: &str, dir: &std::path::Path) -> anyhow::Result<Option<LiteLlm>> {
    let bin = std::env::var("LITELLM").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/bench/.peers/litellm/bin/litellm"
        )
        .into()
    });
    if !std::path::Path::new(&bin).exists() {
        println!("litellm: not installed (bench/install-peers.sh litellm); left out");
        return Ok(None);
    }
    let python = std::path::Path::new(&bin).with_file_name("python");
    let version = std::process::Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.join("litellm.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: gpt-bench\n    litellm_params:\n      model: openai/gpt-bench\n      api_base: {upstream}\n      api_key: sk-bench\nlitellm_settings:\n  telemetry: false\n  drop_params: true\n"
        ),
    )?;
    let child = std::process::Command::new(&bin)
        .args([
            "--config",
            &config.display().to_string(),
            "--host",
            "127.0.0.1",
        ])
        .args(["--port", &port.to_string(), "--num_workers", "1"])
        .env("LITELLM_MASTER_KEY", LITELLM_KEY)
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_LOG", "ERROR")
        .env("NO_DOCS", "True")
        .env("DISABLE_ADMIN_UI", "True")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let proxy = LiteLlm {
        url: format!("http://127.0.0.1:{port}/v1"),
        version,
        child,
    };
    let health = format!("http://127.0.0.1:{port}/health/liveliness");
    for _ in 0..600 {
        if reqwest::get(&health)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(Some(proxy));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("litellm did not start within a minute")
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let calls: usize = env("CALLS", 2000);
    let tokens: Vec<String> = (0..20).map(|i| format!(" token{i}")).collect();
    let fake = FakeOpenAi::start(FakeBehaviour::tokens(tokens)).await?;
    let dir = tempfile::tempdir()?;
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = Store::connect(&DatabaseConfig {
        url: url.clone(),
        ..DatabaseConfig::default()
    })
    .await?;
    store.migrate().await?;
    store
        .create_tenant(&NewTenant {
            id: "bench",
            name: "bench",
            entry_flow: "support",
            allowed_origins: &[],
            allow_private_adaptors: false,
            llm_model: None,
        })
        .await?;
    store
        .put_budget(&BudgetRow {
            tenant_id: "bench".into(),
            flow_id: String::new(),
            period: "day".into(),
            limit_micros: Some(i64::MAX / 4),
            hard: 1,
            credit_micros: 0,
            thresholds: "[]".into(),
            message: None,
            updated_at: 0,
            updated_by: "bench".into(),
        })
        .await?;
    store
        .put_model_limits(&ModelLimitsRow {
            tenant_id: "bench".into(),
            requests_per_minute: Some(1_000_000),
            tokens_per_minute: None,
            on_limit: "message".into(),
            max_wait_ms: 0,
            message: None,
            updated_at: 0,
            updated_by: "bench".into(),
        })
        .await?;

    let mut cfg = LlmConfig {
        base_url: fake.base_url.clone(),
        api_key: "sk-bench".into(),
        model: "gpt-bench".into(),
        max_tokens: 64,
        ..LlmConfig::default()
    };
    cfg.prices.insert(
        "gpt-bench".into(),
        ModelPrice {
            input: 150_000,
            output: 600_000,
        },
    );
    let plain = LlmGateway::from_config(&cfg)?;
    let recorder = UsageRecorder::start(store.clone());
    let metered = LlmGateway::from_config(&cfg)?.with_usage_sink(Arc::new(recorder.clone()));
    let secrets = Arc::new(SecretBox::from_hex(&SecretBox::generate_key_hex())?);
    let single = Cluster::single(&ClusterConfig::default());
    let governor = Governor {
        limits: ModelLimits::new(store.clone(), single.clone()),
        budgets: Budgets::new(store.clone(), Alerts::new(store.clone(), secrets), single),
    };
    let governed = LlmGateway::from_config(&cfg)?
        .with_usage_sink(Arc::new(recorder.clone()))
        .with_spend_guard(Arc::new(governor));
    let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let litellm = start_litellm(&fake.base_url, dir.path()).await?;

    let mut names = vec!["direct", "gateway", "metered", "governed"];
    if litellm.is_some() {
        names.push("litellm");
    }
    let mut hists: Vec<Histogram<u64>> = names
        .iter()
        .map(|_| Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds"))
        .collect();
    // Warm-up: connections, caches, the database's first pages.
    for _ in 0..50 {
        direct(&http, &fake.base_url, "sk-bench").await;
        through(&plain).await;
        through(&metered).await;
        through(&governed).await;
        if let Some(proxy) = &litellm {
            direct(&http, &proxy.url, LITELLM_KEY).await;
        }
    }
    for _ in 0..calls {
        let mut times = vec![
            direct(&http, &fake.base_url, "sk-bench").await,
            through(&plain).await,
            through(&metered).await,
            through(&governed).await,
        ];
        if let Some(proxy) = &litellm {
            times.push(direct(&http, &proxy.url, LITELLM_KEY).await);
        }
        for (hist, time) in hists.iter_mut().zip(times) {
            hist.record(time.as_micros().max(1) as u64)?;
        }
    }
    recorder.flush().await;
    let store_name = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    println!("time to first token, {calls} calls per variant, one at a time, store {store_name}");
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9}   (µs)",
        "variant", "p50", "p90", "p99", "max"
    );
    let mut results = serde_json::Map::new();
    let base = &hists[0];
    for (name, hist) in names.iter().zip(&hists) {
        let q = |p: f64| hist.value_at_quantile(p);
        println!(
            "{name:<10} {:>9} {:>9} {:>9} {:>9}   overhead p50 {:+}, p99 {:+}",
            q(0.5),
            q(0.9),
            q(0.99),
            hist.max(),
            q(0.5) as i64 - base.value_at_quantile(0.5) as i64,
            q(0.99) as i64 - base.value_at_quantile(0.99) as i64,
        );
        results.insert(
            name.to_string(),
            json!({"p50_us": q(0.5), "p90_us": q(0.9), "p99_us": q(0.99), "max_us": hist.max()}),
        );
    }
    let version = litellm.as_ref().map(|p| p.version.clone());
    let out = json!({"calls": calls, "store": store_name, "litellm": version, "ttft": results});
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/bench/results/gateway_overhead.json"
    );
    std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
    println!("wrote {path}");
    Ok(())
}
