//! Scenario 4, streaming overhead: `--conns` concurrent streamed completions, closed
//! loop for `--secs` (after `--warmup-secs`), each worker starting at its own offset so
//! the streams are spread over time rather than synchronised.
//!
//! `--target http` calls an OpenAI-compatible `POST {url}/chat/completions` with
//! `stream: true` and reads the SSE: the fake upstream itself (the baseline) or the
//! LiteLLM proxy in front of it. `--target sb` sends protocol v1 messages to Switchboard,
//! whose flow streams the same upstream's reply as `reply.delta` frames.
//!
//! Figures per stream: time to first token (from the send), relay latency of every token
//! (the reader's wall clock minus the `t<micros>` stamp the upstream wrote into the
//! token as it sent it: how long the token spent in whatever sits between), and the gap
//! between two consecutive fragments.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchboard_bench::{Latency, connect, source_addr, token_stamps, wall_micros};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::Common;
use crate::chat::turn;
use crate::v1::{Proto, join};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// OpenAI-compatible HTTP SSE (the fake upstream, or a proxy in front of it).
    Http,
    /// Switchboard over web chat protocol v1.
    Sb,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    #[arg(long, value_enum)]
    target: Target,
    /// `http://host:port/v1` for http, `ws://host:port/v1/ws` for sb.
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "")]
    api_key: String,
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    #[arg(long, default_value_t = 100)]
    conns: usize,
    #[arg(long, default_value_t = 6)]
    secs: u64,
    /// Tokens the upstream sends per stream (a shorter stream counts as incomplete).
    #[arg(long, default_value_t = 20)]
    tokens: usize,
    /// Worker start offsets are spread over this many milliseconds.
    #[arg(long, default_value_t = 500)]
    spread_ms: u64,
}

#[derive(Default)]
struct Stats {
    ttft: Latency,
    relay: Latency,
    gap: Latency,
    total: Latency,
    streams: u64,
    incomplete: u64,
    failures: u64,
    errors: Vec<String>,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.ttft.add(&o.ttft);
        self.relay.add(&o.relay);
        self.gap.add(&o.gap);
        self.total.add(&o.total);
        self.streams += o.streams;
        self.incomplete += o.incomplete;
        self.failures += o.failures;
        for e in o.errors {
            if self.errors.len() < 3 {
                self.errors.push(e);
            }
        }
    }
}

/// What one stream saw.
#[derive(Default)]
struct One {
    ttft: Option<Duration>,
    relay: Vec<u64>,
    gaps: Vec<Duration>,
    tokens: usize,
    total: Duration,
    last: Option<Instant>,
}

impl One {
    fn fragment(&mut self, text: &str, at: Instant, sent: Instant) {
        let now_wall = wall_micros();
        if self.ttft.is_none() {
            self.ttft = Some(at - sent);
        }
        if let Some(last) = self.last {
            self.gaps.push(at - last);
        }
        self.last = Some(at);
        for stamp in token_stamps(text) {
            self.relay.push(now_wall.saturating_sub(stamp));
            self.tokens += 1;
        }
    }
}

async fn http_stream(client: &reqwest::Client, args: &Args) -> anyhow::Result<One> {
    let body = json!({
        "model": args.model, "stream": true, "max_tokens": 64,
        "messages": [{"role": "user", "content": "Say something."}],
    });
    let sent = Instant::now();
    let mut request = client
        .post(format!(
            "{}/chat/completions",
            args.url.trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .body(body.to_string());
    if !args.api_key.is_empty() {
        request = request.header("authorization", format!("Bearer {}", args.api_key));
    }
    let response = request.send().await?;
    if !response.status().is_success() {
        let status = response.status();
        anyhow::bail!(
            "HTTP {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let mut one = One::default();
    let mut buffer = Vec::<u8>::new();
    let mut body = response.bytes_stream();
    'read: while let Some(chunk) = body.next().await {
        buffer.extend_from_slice(&chunk?);
        let at = Instant::now();
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            for line in String::from_utf8_lossy(&event).lines() {
                let Some(data) = line.strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    break 'read;
                }
                let Ok(value) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                if let Some(text) = value["choices"][0]["delta"]["content"].as_str()
                    && !text.is_empty()
                {
                    one.fragment(text, at, sent);
                }
            }
        }
    }
    one.total = sent.elapsed();
    Ok(one)
}

/// One stream over HTTP (no socket) or over the worker's Switchboard socket.
async fn one_stream(
    client: &reqwest::Client,
    args: &Args,
    socket: Option<&mut switchboard_bench::Ws>,
    id: String,
) -> anyhow::Result<One> {
    let Some(ws) = socket else {
        return http_stream(client, args).await;
    };
    let sent = Instant::now();
    let mut one = One::default();
    let turned = tokio::time::timeout(
        Duration::from_secs(120),
        turn(ws, &id, "Say something.", |frame, at| {
            one.fragment(frame["text"].as_str().unwrap_or(""), at, sent)
        }),
    )
    .await
    .map_err(|_| anyhow::anyhow!("no reply within 120 s"))??;
    let (_, last, failed) = turned;
    one.total = last;
    if failed {
        one.tokens = 0;
    }
    Ok(one)
}

pub async fn run(args: Args) -> anyhow::Result<Value> {
    let args = Arc::new(args);
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(120))
        .build()?;
    // Switchboard: every worker joins its own conversation before the clock starts.
    let mut sockets = Vec::new();
    if args.target == Target::Sb {
        let gate = Arc::new(tokio::sync::Semaphore::new(200));
        let mut joins = Vec::new();
        for conn in 0..args.conns {
            let (url, tenant, gate) = (args.url.clone(), args.common.tenant.clone(), gate.clone());
            let source = source_addr(conn, args.common.sources);
            joins.push(tokio::spawn(async move {
                let _permit = gate.acquire().await?;
                let mut ws = connect(&url, source).await?;
                join(&mut ws, Proto::Sb, &tenant, true).await?;
                anyhow::Ok(ws)
            }));
        }
        for j in joins {
            sockets.push(Some(j.await??));
        }
    } else {
        sockets.resize_with(args.conns, || None);
    }
    // Warm-up: a few streams first (connection pools, caches, lazily built state).
    let warm = args.conns.min(20);
    let mut warmups = Vec::new();
    for socket in sockets.iter_mut().take(warm) {
        let ws = socket.take();
        let (args, client) = (args.clone(), client.clone());
        warmups.push(tokio::spawn(async move {
            let mut ws = ws;
            let _ = one_stream(&client, &args, ws.as_mut(), "warmup".into()).await;
            ws
        }));
    }
    for (i, w) in warmups.into_iter().enumerate() {
        sockets[i] = w.await?;
    }
    // Measured: every worker starts streams back to back until `--secs` have passed;
    // every stream started is waited for and counted, however long it takes (a server
    // that cannot keep up shows it in its time to first token, not in lost samples).
    let begin = Instant::now();
    let end = begin + Duration::from_secs(args.secs);
    let cpu = switchboard_bench::CpuMeter::start(&args.common.cpu_pids);
    let total = Arc::new(Mutex::new(Stats::default()));
    let mut tasks = Vec::new();
    for (worker, mut socket) in sockets.into_iter().enumerate() {
        let (args, client, total) = (args.clone(), client.clone(), total.clone());
        let offset =
            Duration::from_millis(args.spread_ms) * worker as u32 / args.conns.max(1) as u32;
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            tokio::time::sleep_until(begin + offset).await;
            let mut seq = 0u64;
            while Instant::now() < end {
                seq += 1;
                let result =
                    one_stream(&client, &args, socket.as_mut(), format!("w{worker}s{seq}")).await;
                match result {
                    Ok(one) => {
                        stats.streams += 1;
                        if one.tokens < args.tokens {
                            stats.incomplete += 1;
                        }
                        if let Some(ttft) = one.ttft {
                            stats.ttft.record(ttft);
                        }
                        for r in one.relay {
                            stats.relay.record_micros(r);
                        }
                        for g in one.gaps {
                            stats.gap.record(g);
                        }
                        stats.total.record(one.total);
                    }
                    Err(e) => {
                        stats.failures += 1;
                        if stats.errors.is_empty() {
                            stats.errors.push(format!("{e:#}"));
                        }
                        if socket.is_some() {
                            break; // the socket is in an unknown state
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            total.lock().await.merge(stats);
        }));
    }
    for task in tasks {
        task.await?;
    }
    let wall = begin.elapsed().as_secs_f64();
    let cpu = cpu.stop();
    let s = std::mem::take(&mut *total.lock().await);
    Ok(json!({
        "scenario": "stream",
        "target": args.common.label,
        "conns": args.conns,
        "secs": args.secs,
        "streams": s.streams,
        "wall_secs": wall,
        "streams_per_sec": s.streams as f64 / wall,
        "incomplete": s.incomplete,
        "failures": s.failures,
        "errors": s.errors,
        "ttft": s.ttft.summary(),
        "relay": s.relay.summary(),
        "gap": s.gap.summary(),
        "total": s.total.summary(),
        "cpu": cpu,
        "out": args.common.out,
    }))
}
