//! Scenario 1, idle connections: the server's resident memory growth per connected,
//! helloed and then silent WebSocket.
//!
//! `--warmup` connections join first and stay (so lazily built things — thread stacks,
//! allocator arenas, the tenant, caches — are in the baseline), the server's RSS is read
//! once it is stable, then `--n` more join (at most `--concurrency` handshakes at a
//! time), and RSS is read again once stable. Bytes per connection = growth ÷ n. Every
//! connection keeps a reader, so server pings are answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_bench::{connect, source_addr, tree_rss_kib};
use tokio::sync::{Mutex, Semaphore, watch};

use crate::Common;
use crate::v1::{Proto, join, next_text};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "sb")]
    proto: Proto,
    /// The server's process id (its RSS is read from /proc; children are included).
    #[arg(long)]
    pid: u32,
    /// Connections measured.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Connections opened before the baseline is read.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// Handshakes in flight at a time.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Least time to wait before reading RSS.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
}

struct Held {
    ok: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

/// Opens `count` connections (ids from `first`), each held open until `stop` changes.
async fn open(
    args: &Args,
    first: usize,
    count: usize,
    held: &Arc<Held>,
    stop: &watch::Receiver<bool>,
) {
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut joins = Vec::with_capacity(count);
    for i in first..first + count {
        let permit = gate.clone().acquire_owned().await.expect("semaphore open");
        let (url, proto, tenant) = (args.url.clone(), args.proto, args.common.tenant.clone());
        let source = source_addr(i, args.common.sources);
        let (held, mut stop) = (held.clone(), stop.clone());
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        joins.push(done_rx);
        tokio::spawn(async move {
            let joined = async {
                let mut ws = connect(&url, source).await?;
                // Wait for the flow's first prompt too: the conversation has started.
                tokio::time::timeout(
                    Duration::from_secs(60),
                    join(&mut ws, proto, &tenant, proto == Proto::Sb),
                )
                .await
                .map_err(|_| anyhow::anyhow!("no welcome within 60 s"))??;
                anyhow::Ok(ws)
            }
            .await;
            drop(permit);
            let mut ws = match joined {
                Ok(ws) => ws,
                Err(e) => {
                    held.failed.fetch_add(1, Ordering::Relaxed);
                    held.first_error
                        .lock()
                        .await
                        .get_or_insert(format!("{e:#}"));
                    let _ = done_tx.send(());
                    return;
                }
            };
            held.ok.fetch_add(1, Ordering::Relaxed);
            let _ = done_tx.send(());
            // Hold the socket: keep reading (pongs, stray frames) until told to stop.
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    frame = next_text(&mut ws) => if !matches!(frame, Ok(Some(_))) { return },
                }
            }
        });
    }
    for done in joins {
        let _ = done.await;
    }
}

/// Reads RSS until two readings 500 ms apart differ by less than 0.5 % (at most 30 s).
async fn stable_rss(pid: u32, settle: Duration) -> anyhow::Result<u64> {
    tokio::time::sleep(settle).await;
    let mut last = tree_rss_kib(pid)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = tree_rss_kib(pid)?;
        if now.abs_diff(last) * 200 < now.max(1) || Instant::now() > deadline {
            return Ok(now);
        }
        last = now;
    }
}

pub async fn run(args: Args, nofile: u64) -> anyhow::Result<Value> {
    let needed = (args.n + args.warmup + 64) as u64;
    if needed > nofile {
        anyhow::bail!(
            "{} connections need about {needed} file descriptors; the limit is {nofile}",
            args.n + args.warmup
        );
    }
    let held = Arc::new(Held {
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first_error: Mutex::new(None),
    });
    let (stop_tx, stop) = watch::channel(false);
    let settle = Duration::from_millis(args.settle_ms);
    let rss_start = tree_rss_kib(args.pid)?;
    open(&args, 0, args.warmup, &held, &stop).await;
    let rss_before = stable_rss(args.pid, settle).await?;
    let warm_ok = held.ok.load(Ordering::Relaxed);
    let started = Instant::now();
    open(&args, args.warmup, args.n, &held, &stop).await;
    let connect_secs = started.elapsed().as_secs_f64();
    let rss_after = stable_rss(args.pid, settle).await?;
    let ok = held.ok.load(Ordering::Relaxed) - warm_ok;
    let failed = held.failed.load(Ordering::Relaxed);
    let growth = rss_after.saturating_sub(rss_before) * 1024;
    let per_conn = if ok > 0 {
        growth as f64 / ok as f64
    } else {
        f64::NAN
    };
    let own_rss = switchboard_bench::rss_kib(std::process::id()).unwrap_or(0);
    let _ = stop_tx.send(true);
    Ok(json!({
        "scenario": "idle",
        "target": args.common.label,
        "n": args.n,
        "warmup": args.warmup,
        "joined": ok,
        "failed": failed,
        "first_error": held.first_error.lock().await.clone(),
        "connect_secs": connect_secs,
        "joins_per_sec": ok as f64 / connect_secs,
        "rss_start_kib": rss_start,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "bytes_per_conn": per_conn,
        "loadgen_rss_kib": own_rss,
        "out": args.common.out,
    }))
}
