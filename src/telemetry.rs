//! Logging: key/value `tracing` events, as text or JSON. `RUST_LOG` overrides the
//! configured filter. Metrics: `metrics.rs`, rendered at `GET /metrics`.
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

pub mod metrics;
mod redact;
pub mod request_id;

use std::io::{IsTerminal, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};
pub use redact::redact;

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(config.filter.as_str()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(Redacted);
    let _ = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
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
