//! Shared pieces of the benchmark tools: latency histograms, the process file limit,
//! resident memory of another process, WebSocket connections from a chosen 127.0.0.x
//! source address, and the timestamps the fake upstream writes into its tokens.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A latency histogram in microseconds (1 µs to 10 min, 3 significant digits).
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"))
    }
}

impl Latency {
    pub fn record(&mut self, d: Duration) {
        self.record_micros(d.as_micros() as u64);
    }

    pub fn record_micros(&mut self, micros: u64) {
        self.0.saturating_record(micros.max(1));
    }

    pub fn add(&mut self, other: &Latency) {
        let _ = self.0.add(&other.0);
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn ms(&self, q: f64) -> f64 {
        self.0.value_at_quantile(q) as f64 / 1000.0
    }

    /// `{count, p50_ms, p90_ms, p99_ms, max_ms, mean_ms}`; nulls when empty.
    pub fn summary(&self) -> Value {
        if self.0.is_empty() {
            return json!({"count": 0, "p50_ms": null, "p90_ms": null, "p99_ms": null, "max_ms": null, "mean_ms": null});
        }
        json!({
            "count": self.0.len(),
            "p50_ms": self.ms(0.50),
            "p90_ms": self.ms(0.90),
            "p99_ms": self.ms(0.99),
            "max_ms": self.0.max() as f64 / 1000.0,
            "mean_ms": self.0.mean() / 1000.0,
        })
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (no privilege needed) and returns it.
pub fn raise_nofile() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    limit.rlim_cur
}

/// VmRSS of a process, in KiB, from /proc/<pid>/status.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kib = rest.trim().trim_end_matches("kB").trim();
            return Ok(kib.parse()?);
        }
    }
    bail!("no VmRSS in /proc/{pid}/status")
}

/// The sum of VmRSS over a process and all its descendants, in KiB (a server that
/// forks workers is measured whole).
pub fn tree_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let mut total = rss_kib(pid)?;
    for child in children(pid) {
        total += tree_rss_kib(child).unwrap_or(0);
    }
    Ok(total)
}

fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// CPU time (user + system) used so far by a process and its descendants, in seconds.
pub fn tree_cpu_secs(pid: u32) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let own = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The command name may hold spaces: fields start after its closing ')'.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(0.0);
    own + children(pid).into_iter().map(tree_cpu_secs).sum::<f64>()
}

/// Measures how many CPU cores some processes (and this one) use over a window.
pub struct CpuMeter {
    pids: Vec<u32>,
    start: Vec<f64>,
    own: f64,
    at: std::time::Instant,
}

impl CpuMeter {
    pub fn start(pids: &[u32]) -> Self {
        Self {
            pids: pids.to_vec(),
            start: pids.iter().map(|&p| tree_cpu_secs(p)).collect(),
            own: tree_cpu_secs(std::process::id()),
            at: std::time::Instant::now(),
        }
    }

    /// `{"servers": [cores per pid], "loadgen": cores}` since `start`.
    pub fn stop(&self) -> Value {
        let secs = self.at.elapsed().as_secs_f64().max(1e-9);
        let servers: Vec<f64> = self
            .pids
            .iter()
            .zip(&self.start)
            .map(|(&p, &s)| (tree_cpu_secs(p) - s) / secs)
            .collect();
        json!({
            "pids": self.pids,
            "servers_cores": servers,
            "loadgen_cores": (tree_cpu_secs(std::process::id()) - self.own) / secs,
        })
    }
}

/// Wall-clock microseconds since the Unix epoch: the fake upstream stamps each token
/// with it, and readers in other processes subtract it from their own clock.
pub fn wall_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The emission stamps in a piece of streamed text: every `t<micros>` word.
pub fn token_stamps(text: &str) -> impl Iterator<Item = u64> + '_ {
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix('t'))
        .filter_map(|digits| digits.parse().ok())
}

/// The `i`-th source address: 127.0.0.2, 127.0.0.3, … (`count` of them, round robin),
/// so one destination can take more connections than one source has ephemeral ports.
pub fn source_addr(i: usize, count: usize) -> IpAddr {
    let k = (i % count.max(1)) as u8;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + k))
}

/// Client WebSocket settings: small buffers, so the load generator stays lean at tens
/// of thousands of connections.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Opens a WebSocket to `url` (ws://host:port/path) from `source`.
pub async fn connect(url: &str, source: IpAddr) -> anyhow::Result<Ws> {
    let rest = url
        .strip_prefix("ws://")
        .context("only ws:// URLs are supported")?;
    let host_port = rest.split('/').next().unwrap_or(rest);
    let addr: SocketAddr = host_port
        .parse()
        .with_context(|| format!("{host_port} is not an ip:port"))?;
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        url,
        MaybeTlsStream::Plain(stream),
        Some(client_config()),
    )
    .await?;
    Ok(ws)
}

/// The protocol v1 hello of a new visitor.
pub fn hello_frame(tenant: &str) -> String {
    json!({"type": "hello", "tenant": tenant, "visitor_token": null, "conversation_id": null, "last_seq": null})
        .to_string()
}

/// Writes pretty JSON to `path` (creating its directory) and prints it compactly.
pub fn emit(path: Option<&std::path::Path>, report: &Value) -> anyhow::Result<()> {
    println!("{report}");
    if let Some(path) = path {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_found_in_merged_fragments() {
        let stamps: Vec<u64> = token_stamps("t17 t18 x t19").collect();
        assert_eq!(stamps, vec![17, 18, 19]);
    }

    #[test]
    fn sources_cycle() {
        assert_eq!(source_addr(0, 4).to_string(), "127.0.0.2");
        assert_eq!(source_addr(5, 4).to_string(), "127.0.0.3");
    }
}
