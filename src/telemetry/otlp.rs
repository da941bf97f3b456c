//! Optional trace export: the node's `tracing` spans (HTTP requests, web chat connections,
//! conversation turns and their model and adaptor calls, with `tenant` and
//! `conversation` attributes where known) sent to an OpenTelemetry collector over
//! OTLP/HTTP with protobuf bodies. Off unless `telemetry.otlp.endpoint` is set.
//!
//! Shape: `tracing-opentelemetry` turns spans into OpenTelemetry spans; the SDK's batch
//! processor queues them and exports from a thread of its own; `opentelemetry-otlp`
//! encodes each batch and hands it to [`RuntimeClient`], which sends it with a reqwest
//! 0.13 client (the version the rest of the node uses: no second HTTP stack) on the
//! node's tokio runtime, because the batch thread runs no reactor of its own.
//! [`Exporter::shutdown`] flushes what is queued; the node calls it after its drain, so
//! the spans of the last requests leave too. A collector that is down costs a WARN at
//! most once a minute (the exporter retries each batch) and nothing else: export never
//! blocks a request.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use tracing::{debug, info, warn};
use tracing_subscriber::Registry;

use super::OTEL_SLOT;
use crate::config::OtlpConfig;

/// The layer that turns spans into OpenTelemetry spans.
pub(super) type OtelLayer = tracing_opentelemetry::OpenTelemetryLayer<Registry, SdkTracer>;

/// Why export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("telemetry.otlp: could not build the HTTP client: {0}")]
    Client(String),
    #[error("telemetry.otlp: could not build the exporter: {0}")]
    Exporter(String),
}

/// A running export; [`Exporter::shutdown`] flushes it.
pub struct Exporter {
    provider: SdkTracerProvider,
}

/// Starts exporting when `config` names a collector. `None`: export is off, or no
/// subscriber of ours is installed (a test that runs the app in process).
pub fn install(config: &OtlpConfig) -> Result<Option<Exporter>, OtlpError> {
    if config.endpoint.is_empty() {
        return Ok(None);
    }
    let Some(slot) = OTEL_SLOT.get() else {
        warn!("telemetry.otlp is set but the process has another log subscriber: no export");
        return Ok(None);
    };
    let timeout = Duration::from_millis(config.timeout_ms);
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| OtlpError::Client(e.to_string()))?;
    let client = RuntimeClient {
        client,
        runtime: tokio::runtime::Handle::current(),
        warned: Arc::default(),
    };
    let url = traces_url(&config.endpoint);
    let headers: HashMap<String, String> = config
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .with_timeout(timeout)
        .with_headers(headers)
        .build()
        .map_err(|e| OtlpError::Exporter(e.to_string()))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sampling_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("switchboard");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer);
    if let Err(e) = slot.modify(|current| *current = Some(layer)) {
        warn!(error = %e, "could not start trace export");
        return Ok(None);
    }
    info!(endpoint = %url, service_name = %config.service_name,
          sampling_ratio = config.sampling_ratio, "exporting traces over OTLP");
    Ok(Some(Exporter { provider }))
}

/// `<endpoint>/v1/traces`, the OTLP/HTTP path of traces.
fn traces_url(endpoint: &str) -> String {
    format!("{}/v1/traces", endpoint.trim_end_matches('/'))
}

impl Exporter {
    /// Stops taking spans and exports every queued one (bounded by the export timeout).
    pub async fn shutdown(self) {
        if let Some(slot) = OTEL_SLOT.get() {
            let _ = slot.modify(|current| *current = None);
        }
        let provider = self.provider;
        // The SDK's shutdown blocks until its thread has exported; that export runs on
        // this runtime (see `RuntimeClient`), so wait for it off the runtime's workers.
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "trace export did not flush at shutdown"),
            Err(e) => warn!(error = %e, "trace export did not flush at shutdown"),
        }
    }
}

/// The exporter's HTTP client: reqwest on the node's runtime. The SDK's batch processor
/// calls it from its own thread, which has no tokio reactor, so each request is spawned
/// onto the runtime and awaited from there.
#[derive(Debug, Clone)]
struct RuntimeClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    warned: Arc<Throttle>,
}

/// At most one `true` a minute.
#[derive(Debug, Default)]
struct Throttle {
    /// When `due` last said yes, in seconds since `UNIX_EPOCH` (0: never).
    last: AtomicU64,
}

impl Throttle {
    fn due(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last.load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= 60)
            && self
                .last
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let sent = self
            .runtime
            .spawn(async move { client.send_bytes(request).await })
            .await;
        let result = match sent {
            Ok(result) => result,
            Err(e) => Err(Box::new(e) as HttpError),
        };
        let failure = match &result {
            Ok(response) if !response.status().is_success() => Some(format!(
                "the collector answered {}",
                response.status().as_u16()
            )),
            Ok(_) => None,
            // reqwest's error names the URL, never the headers.
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = failure {
            // The exporter retries each batch: one WARN a minute is enough to be seen.
            if self.warned.due() {
                warn!(error = %error, "trace export failed (said at most once a minute)");
            } else {
                debug!(error = %error, "trace export failed");
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn failures_are_warned_once_a_minute() {
        let throttle = super::Throttle::default();
        assert!(throttle.due());
        assert!(!throttle.due());
    }

    #[test]
    fn the_traces_path_is_appended_once() {
        assert_eq!(
            super::traces_url("http://c:4318"),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            super::traces_url("http://c:4318/"),
            "http://c:4318/v1/traces"
        );
    }
}
