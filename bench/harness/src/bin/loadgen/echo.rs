//! Scenario 2, echo: `--conns` sockets each keep one message in flight for `--secs`
//! (after `--warmup-secs`), and every round trip is timed.
//!
//! Peers get a `--size`-byte text frame and send it back. Switchboard gets a protocol v1
//! `message` whose `text` is `--size` bytes; its echo flow says the text back, and the
//! round trip ends at the bot `message` frame carrying that text (the `ack` and the
//! stored user message arrive before it and are skipped).

use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use switchboard_bench::{Latency, connect, source_addr};
use tokio::sync::Barrier;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::v1::{Proto, join, message_frame, next_json, next_text};
use crate::{Common, meter};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "sb")]
    proto: Proto,
    #[arg(long, default_value_t = 100)]
    conns: usize,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 20)]
    size: usize,
    #[arg(long, default_value_t = 10)]
    secs: u64,
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
}

/// A payload of exactly `size` bytes, unique per connection and message.
fn payload(conn: usize, seq: u64, size: usize) -> String {
    let mut p = format!("c{conn}m{seq}");
    while p.len() < size {
        p.push('x');
    }
    p
}

#[derive(Default)]
struct Tally {
    rtt: Latency,
    in_window: u64,
    errors: u64,
    error_codes: Vec<String>,
}

pub async fn run(args: Args) -> anyhow::Result<Value> {
    let barrier = Arc::new(Barrier::new(args.conns + 1));
    let window = Duration::from_secs(args.secs);
    let warmup = Duration::from_secs(args.warmup_secs);
    let (start_tx, start_rx) = tokio::sync::watch::channel(None::<Instant>);
    let mut tasks = Vec::new();
    for conn in 0..args.conns {
        let (url, proto, tenant, size) = (
            args.url.clone(),
            args.proto,
            args.common.tenant.clone(),
            args.size,
        );
        let source = source_addr(conn, args.common.sources);
        let barrier = barrier.clone();
        let mut start_rx = start_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let ws = async {
                let mut ws = connect(&url, source).await?;
                join(&mut ws, proto, &tenant, proto == Proto::Sb).await?;
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
            let (measure_from, end) = (begin + warmup, begin + warmup + window);
            let mut seq = 0u64;
            while Instant::now() < end {
                seq += 1;
                let p = payload(conn, seq, size);
                let sent = Instant::now();
                match proto {
                    Proto::Echo => {
                        ws.send(Message::text(p.clone())).await?;
                        loop {
                            match next_text(&mut ws).await? {
                                Some(text) if text == p => break,
                                Some(_) => {}
                                None => anyhow::bail!("closed"),
                            }
                        }
                    }
                    Proto::Sb => {
                        ws.send(Message::text(message_frame(&p, &p))).await?;
                        loop {
                            let frame = next_json(&mut ws).await?;
                            match frame["type"].as_str() {
                                Some("message")
                                    if frame["role"] == "bot" && frame["text"] == p.as_str() =>
                                {
                                    break;
                                }
                                Some("error") => {
                                    tally.errors += 1;
                                    if tally.error_codes.len() < 5 {
                                        tally.error_codes.push(frame["code"].to_string());
                                    }
                                    if frame["client_id"] == p.as_str() {
                                        break; // refused: this one will not come back
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
                let done = Instant::now();
                // Throughput counts what completes inside the window; latency, what was
                // also sent inside it.
                if done >= measure_from && done <= end {
                    tally.in_window += 1;
                    if sent >= measure_from {
                        tally.rtt.record(done - sent);
                    }
                }
            }
            anyhow::Ok(tally)
        }));
    }
    barrier.wait().await;
    let begin = Instant::now();
    start_tx.send(Some(begin))?;
    let cpu = meter(&args.common.cpu_pids, begin + warmup, window);
    let mut total = Tally::default();
    let mut failed_conns = 0;
    let mut first_error = None;
    for task in tasks {
        match task.await? {
            Ok(t) => {
                total.rtt.add(&t.rtt);
                total.in_window += t.in_window;
                total.errors += t.errors;
                total.error_codes.extend(t.error_codes.into_iter().take(5));
            }
            Err(e) => {
                failed_conns += 1;
                first_error.get_or_insert(format!("{e:#}"));
            }
        }
    }
    total.error_codes.truncate(5);
    Ok(json!({
        "scenario": "echo",
        "target": args.common.label,
        "conns": args.conns,
        "size": args.size,
        "secs": args.secs,
        "messages": total.in_window,
        "messages_per_sec": total.in_window as f64 / args.secs as f64,
        "rtt": total.rtt.summary(),
        "errors": total.errors,
        "error_codes": total.error_codes,
        "failed_conns": failed_conns,
        "first_error": first_error,
        "cpu": cpu.await?,
        "out": args.common.out,
    }))
}
