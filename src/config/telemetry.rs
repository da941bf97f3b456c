//! The `[telemetry]` section: trace export. Logs are `[log]`, metrics `[metrics]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub otlp: OtlpConfig,
}

/// OTLP trace export over HTTP/protobuf (`src/telemetry/otlp.rs`). Off while `endpoint`
/// is empty. `Debug` redacts the header values (they are usually API keys).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// The collector's base URL, e.g. `http://otel-collector:4318`; spans are posted to
    /// `<endpoint>/v1/traces`. Empty: no export.
    pub endpoint: String,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// Share of new traces kept, 0.0 to 1.0 (a trace continued from a sampled parent is
    /// always kept).
    pub sampling_ratio: f64,
    /// Longest an export request may take.
    pub timeout_ms: u64,
    /// Extra request headers, e.g. a vendor's API key.
    pub headers: BTreeMap<String, String>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            service_name: "switchboard".into(),
            sampling_ratio: 1.0,
            timeout_ms: 10_000,
            headers: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.keys().map(String::as_str).collect();
        f.debug_struct("OtlpConfig")
            .field("endpoint", &self.endpoint)
            .field("service_name", &self.service_name)
            .field("sampling_ratio", &self.sampling_ratio)
            .field("timeout_ms", &self.timeout_ms)
            .field("headers (values redacted)", &headers)
            .finish()
    }
}
