//! Scenario 3, chat turns: `--conns` visitors each hold one turn in flight: send a
//! message (stored, acked), receive the reply streamed as `reply.delta` frames from the
//! model (the fake upstream), then the stored bot `message` with the same id. Timed
//! from the send: the first `reply.delta`, and the final `message`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use switchboard_bench::{Latency, connect, source_addr};
use tokio::sync::Barrier;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::v1::{Proto, join, message_frame, next_json};
use crate::{Common, meter};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 50)]
    conns: usize,
    #[arg(long, default_value_t = 10)]
    secs: u64,
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// Store backend, copied into the report.
    #[arg(long, default_value = "sqlite")]
    store: String,
}

/// The text of a failed reply (src/actors/conversation.rs, `LLM_APOLOGY`).
const APOLOGY_PREFIX: &str = "Sorry, I couldn't come up with an answer";

#[derive(Default)]
pub struct Turns {
    pub first_delta: Latency,
    pub final_message: Latency,
    pub turns: u64,
    pub llm_failures: u64,
    pub errors: Vec<String>,
}

/// One turn: returns (time to first delta, time to final message, reply failed).
pub async fn turn(
    ws: &mut switchboard_bench::Ws,
    client_id: &str,
    text: &str,
    mut on_delta: impl FnMut(&Value, Instant),
) -> anyhow::Result<(Duration, Duration, bool)> {
    let sent = Instant::now();
    ws.send(Message::text(message_frame(client_id, text)))
        .await?;
    let mut acked = false;
    let mut reply_id: Option<String> = None;
    let mut first = None;
    loop {
        let frame = next_json(ws).await?;
        let now = Instant::now();
        match frame["type"].as_str() {
            Some("ack") if frame["client_id"] == client_id => acked = true,
            Some("reply.delta") if acked => {
                if reply_id.is_none() {
                    reply_id = frame["message_id"].as_str().map(str::to_owned);
                    first = Some(now - sent);
                }
                if frame["message_id"].as_str() == reply_id.as_deref() {
                    on_delta(&frame, now);
                }
            }
            Some("message") if acked && frame["role"] == "bot" => {
                let text = frame["text"].as_str().unwrap_or("");
                let failed = text.starts_with(APOLOGY_PREFIX);
                // The reply itself (after its deltas), or an apology that never streamed.
                if reply_id.is_some() && frame["message_id"].as_str() == reply_id.as_deref() {
                    return Ok((first.unwrap_or(now - sent), now - sent, failed));
                }
                if reply_id.is_none() && failed {
                    return Ok((now - sent, now - sent, true));
                }
            }
            Some("error") => anyhow::bail!("error frame: {frame}"),
            _ => {}
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<Value> {
    let barrier = Arc::new(Barrier::new(args.conns + 1));
    let (warmup, window) = (
        Duration::from_secs(args.warmup_secs),
        Duration::from_secs(args.secs),
    );
    let (start_tx, start_rx) = tokio::sync::watch::channel(None::<Instant>);
    let mut tasks = Vec::new();
    for conn in 0..args.conns {
        let (url, tenant) = (args.url.clone(), args.common.tenant.clone());
        let source = source_addr(conn, args.common.sources);
        let barrier = barrier.clone();
        let mut start_rx = start_rx.clone();
        tasks.push(tokio::spawn(async move {
            let ws = async {
                let mut ws = connect(&url, source).await?;
                join(&mut ws, Proto::Sb, &tenant, true).await?;
                anyhow::Ok(ws)
            }
            .await;
            barrier.wait().await;
            let mut ws = ws?;
            let begin = loop {
                if let Some(at) = *start_rx.borrow_and_update() {
                    break at;
                }
                start_rx.changed().await?;
            };
            let (from, end) = (begin + warmup, begin + warmup + window);
            let mut t = Turns::default();
            let mut seq = 0;
            while Instant::now() < end {
                seq += 1;
                let id = format!("c{conn}t{seq}");
                let sent = Instant::now();
                let (first, last, failed) = turn(
                    &mut ws,
                    &id,
                    &format!("question {seq} from visitor {conn}"),
                    |_, _| {},
                )
                .await?;
                let done = sent + last;
                if done >= from && done <= end {
                    t.turns += 1;
                    t.llm_failures += failed as u64;
                    if sent >= from {
                        t.first_delta.record(first);
                        t.final_message.record(last);
                    }
                }
            }
            anyhow::Ok(t)
        }));
    }
    barrier.wait().await;
    let begin = Instant::now();
    start_tx.send(Some(begin))?;
    let cpu = meter(&args.common.cpu_pids, begin + warmup, window);
    let mut all = Turns::default();
    let mut failed_conns = 0;
    for task in tasks {
        match task.await? {
            Ok(t) => {
                all.first_delta.add(&t.first_delta);
                all.final_message.add(&t.final_message);
                all.turns += t.turns;
                all.llm_failures += t.llm_failures;
            }
            Err(e) => {
                failed_conns += 1;
                if all.errors.len() < 3 {
                    all.errors.push(format!("{e:#}"));
                }
            }
        }
    }
    Ok(json!({
        "scenario": "chat",
        "target": args.common.label,
        "store": args.store,
        "conns": args.conns,
        "secs": args.secs,
        "turns": all.turns,
        "turns_per_sec": all.turns as f64 / args.secs as f64,
        "first_delta": all.first_delta.summary(),
        "final_message": all.final_message.summary(),
        "llm_failures": all.llm_failures,
        "failed_conns": failed_conns,
        "errors": all.errors,
        "cpu": cpu.await?,
        "out": args.common.out,
    }))
}
