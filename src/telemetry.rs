//! Logging: key/value `tracing` events, as text or JSON. `RUST_LOG` overrides the
//! configured filter. Metrics: `metrics.rs`, rendered at `GET /metrics`. Traces: the
//! same spans, exported over OTLP when `[telemetry.otlp]` names a collector (`otlp.rs`).
//!
//! Three rules hold for every line, whatever the format:
//! - colour codes only when stdout is a terminal (a log collector gets plain text);
//! - personal data in what users write never reaches the log: every line goes through
//!   [`redact`] (`redact.rs`: e-mail addresses, phone numbers, payment card numbers) on
//!   its way out, at every level. It works on the formatted line, so it holds for fields,
//!   messages, error texts that quote input and span fields alike; the timestamp is left
//!   alone;
//! - request outcomes are logged by `http::request_log`: a 4xx is the client's business
//!   (DEBUG), a 5xx is an ERROR.
//!
//! The subscriber is installed once per process, before the configuration's other
//! sections are acted on, so it holds an empty slot for the OTLP layer that
//! [`otlp::install`] fills when the node starts (a `reload` layer: the filter and the
//! formatter stay as they are).

pub mod metrics;
pub mod otlp;
mod redact;
pub mod request_id;

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::{LogConfig, LogFormat};
pub use redact::redact;

/// The slot of the OTLP layer, right above the registry.
type OtelSlot = Option<otlp::OtelLayer>;

/// Filled by [`init`] when it installed the subscriber.
static OTEL_SLOT: OnceLock<reload::Handle<OtelSlot, Registry>> = OnceLock::new();

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(config.filter.as_str()));
    let (otel, slot) = reload::Layer::new(OtelSlot::None);
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(Redacted);
    let fmt = match config.format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    let installed = Registry::default()
        .with(otel)
        .with(filter)
        .with(fmt)
        .try_init();
    if installed.is_ok() {
        let _ = OTEL_SLOT.set(slot);
    }
}

/// Standard output, through [`redact`].
#[derive(Clone, Copy)]
struct Redacted;

impl<'a> MakeWriter<'a> for Redacted {
    type Writer = RedactedLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine(Vec::new())
    }
}

/// One formatted event: buffered, then redacted and written at once when dropped (the
/// formatter writes each event through a fresh writer).
struct RedactedLine(Vec<u8>);

impl Write for RedactedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.0);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(redact(&line).as_bytes());
        let _ = out.flush();
    }
}
