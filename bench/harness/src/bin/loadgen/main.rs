//! The load generator of bench/run.sh. It speaks web chat protocol v1 to Switchboard,
//! the same bytes to plain echo servers, and OpenAI SSE to the fake upstream or the
//! LiteLLM proxy. Each subcommand is one scenario; each prints one JSON object (and
//! writes it to `--out`).
//!
//! ```text
//! loadgen idle   --url ws://127.0.0.1:8080/v1/ws --proto sb --pid 1234 --n 10000
//! loadgen echo   --url ws://127.0.0.1:8080/v1/ws --proto sb --conns 100 --size 20 --secs 10
//! loadgen chat   --url ws://127.0.0.1:8080/v1/ws --conns 50 --secs 10
//! loadgen stream --target sb|http --url … --conns 100 --secs 6
//! ```
//!
//! Every connection is opened from one of several 127.0.0.x source addresses (so one
//! destination can take more connections than one source has ephemeral ports), and the
//! process raises its own file limit to the hard limit.

mod chat;
mod echo;
mod idle;
mod stream;
mod v1;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(clap::Args, Clone)]
pub struct Common {
    /// Label of the system under test, copied into the report.
    #[arg(long, default_value = "switchboard")]
    label: String,
    /// Where to write the JSON report (it is printed to stdout too).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Number of 127.0.0.x source addresses (127.0.0.2 onwards).
    #[arg(long, default_value_t = 8)]
    sources: usize,
    /// Tenant named in `hello`.
    #[arg(long, default_value = "demo")]
    tenant: String,
    /// Processes whose CPU use over the measured window is reported (the server under
    /// test, the fake upstream); the load generator's own is always reported.
    #[arg(long = "cpu-pid")]
    cpu_pids: Vec<u32>,
}

#[derive(Subcommand)]
enum Scenario {
    /// Memory per idle, helloed connection: RSS of `--pid` before and after `--n` joins.
    Idle(idle::Args),
    /// Round trips of small messages over `--conns` sockets, one in flight each.
    Echo(echo::Args),
    /// Full chat turns: message stored, LLM reply streamed, reply stored.
    Chat(chat::Args),
    /// Time to first token, relay latency and gaps of streamed LLM replies.
    Stream(stream::Args),
}

/// CPU use of `pids` (and the load generator) over `window` from `from`, measured in
/// the background.
pub fn meter(
    pids: &[u32],
    from: tokio::time::Instant,
    window: std::time::Duration,
) -> tokio::task::JoinHandle<serde_json::Value> {
    let pids = pids.to_vec();
    tokio::spawn(async move {
        tokio::time::sleep_until(from).await;
        let meter = switchboard_bench::CpuMeter::start(&pids);
        tokio::time::sleep(window).await;
        meter.stop()
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let limit = switchboard_bench::raise_nofile();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        match cli.scenario {
            Scenario::Idle(args) => idle::run(args, limit).await,
            Scenario::Echo(args) => echo::run(args).await,
            Scenario::Chat(args) => chat::run(args).await,
            Scenario::Stream(args) => stream::run(args).await,
        }
    })?;
    let out = report
        .get("out")
        .and_then(|v| v.as_str())
        .map(PathBuf::from);
    let mut report = report;
    if let Some(map) = report.as_object_mut() {
        map.remove("out");
    }
    switchboard_bench::emit(out.as_deref(), &report)?;
    // Thousands of sockets may still be open; exit without tearing each one down.
    std::process::exit(0);
}
