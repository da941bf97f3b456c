//! [`AdaptorClient`]: performs adaptor calls. One cheap-to-clone handle per process
//! (it wraps a pooled `reqwest::Client`), shared by every conversation.
//!
//! The HTTP client is locked down once, at construction: no redirects (a 3xx is an
//! error, so an API cannot bounce us to an internal address), no proxies from the
//! environment, no automatic retries, and a DNS resolver that connects only to
//! addresses the [`NetworkPolicy`] allows. Each call then gets one deadline covering
//! everything (resolve, connect, send, headers, body) and a response size cap.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::adaptors::error::{AdaptorError, chain};
use crate::adaptors::policy::NetworkPolicy;
use crate::adaptors::request::PreparedRequest;
use crate::adaptors::resolver::VettedResolver;
use crate::adaptors::response::{map_response, parse_body, read_capped};
use crate::adaptors::spec::{AdaptorSecret, AdaptorSpec, MAX_TIMEOUT_MS, MIN_TIMEOUT_MS};

/// Default response size cap: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How an [`AdaptorClient`] is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptorClientConfig {
    pub policy: NetworkPolicy,
    /// Larger response bodies fail with [`AdaptorError::InvalidResponse`].
    pub max_response_bytes: usize,
}

impl Default for AdaptorClientConfig {
    fn default() -> Self {
        Self {
            policy: NetworkPolicy::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Calls tenant APIs as described by [`AdaptorSpec`]s.
#[derive(Debug, Clone)]
pub struct AdaptorClient {
    /// Pooled connections; its resolver enforces `policy` on every new connection.
    http: reqwest::Client,
    /// Also needed here for IP-literal URLs, which never reach the resolver.
    policy: NetworkPolicy,
    max_response_bytes: usize,
}

impl AdaptorClient {
    /// A client with the default 1 MiB response cap.
    pub fn new(policy: NetworkPolicy) -> Result<Self, AdaptorError> {
        Self::with_config(AdaptorClientConfig {
            policy,
            ..AdaptorClientConfig::default()
        })
    }

    pub fn with_config(config: AdaptorClientConfig) -> Result<Self, AdaptorError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .retry(reqwest::retry::never())
            .referer(false)
            .dns_resolver(VettedResolver::new(config.policy))
            .user_agent(concat!("switchboard-adaptors/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| {
                AdaptorError::Network(format!("cannot build HTTP client: {}", chain(&e)))
            })?;
        Ok(Self {
            http,
            policy: config.policy,
            max_response_bytes: config.max_response_bytes,
        })
    }

    pub fn policy(&self) -> NetworkPolicy {
        self.policy
    }

    /// Performs the call described by `spec` with `args` and returns the mapped
    /// object (`{field: value|null}`, or the whole body if `spec.response` is empty).
    /// The deadline is `timeout_override_ms`, else `spec.timeout_ms`, for the whole call.
    pub async fn call(
        &self,
        spec: &AdaptorSpec,
        secret: Option<&AdaptorSecret>,
        args: &Map<String, Value>,
        timeout_override_ms: Option<u64>,
    ) -> Result<Value, AdaptorError> {
        let after_ms = timeout_override_ms.unwrap_or(spec.timeout_ms);
        if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&after_ms) {
            return Err(AdaptorError::InvalidRequest(format!(
                "timeout must be between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS} ms, got {after_ms}"
            )));
        }
        let started = Instant::now();
        let result = tokio::time::timeout(
            Duration::from_millis(after_ms),
            self.execute(spec, secret, args),
        )
        .await
        .unwrap_or(Err(AdaptorError::Timeout { after_ms }));
        let elapsed_ms = started.elapsed().as_millis();
        match &result {
            Ok(_) => tracing::debug!(method = %spec.method, elapsed_ms, "adaptor call succeeded"),
            Err(e) => tracing::debug!(
                method = %spec.method,
                elapsed_ms,
                code = e.code(),
                error = %e,
                "adaptor call failed"
            ),
        }
        result
    }

    async fn execute(
        &self,
        spec: &AdaptorSpec,
        secret: Option<&AdaptorSecret>,
        args: &Map<String, Value>,
    ) -> Result<Value, AdaptorError> {
        let request = PreparedRequest::build(spec, secret, args, &self.policy)?;
        tracing::debug!(
            method = %request.method,
            host = request.url.host_str().unwrap_or_default(),
            "adaptor call starting"
        );
        let mut builder = self
            .http
            .request(request.method.to_reqwest(), request.url)
            .headers(request.headers);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(send_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(AdaptorError::Status {
                status: status.as_u16(),
            });
        }
        let body = read_capped(&mut response, self.max_response_bytes).await?;
        map_response(parse_body(status.as_u16(), &body)?, &spec.response)
    }
}

/// An HTTP client locked down like the adaptors' (no redirects, no proxies, no retries,
/// only addresses `policy` allows, checked at connect time) for other tenant-given URLs:
/// a tenant's own model provider. IP-literal URLs never reach the resolver, so callers
/// check them with [`NetworkPolicy`] first.
pub fn vetted_http_client(
    policy: NetworkPolicy,
    connect_timeout: Duration,
) -> Result<reqwest::Client, AdaptorError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .retry(reqwest::retry::never())
        .referer(false)
        .dns_resolver(VettedResolver::new(policy))
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| AdaptorError::Network(format!("cannot build HTTP client: {}", chain(&e))))
}

impl AdaptorClient {
    /// POSTs a JSON `body` to `url` with `headers` under the same locked-down client and
    /// network policy as adaptor calls (no redirects, no proxies, vetted addresses only),
    /// within `timeout`. Returns the response status; the body is read up to the cap and
    /// dropped. Used for tenants' alert webhooks.
    pub async fn post_json(
        &self,
        url: &url::Url,
        headers: reqwest::header::HeaderMap,
        body: String,
        timeout: Duration,
    ) -> Result<u16, AdaptorError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(AdaptorError::InvalidRequest(
                "the URL must be http:// or https://".into(),
            ));
        }
        self.policy.check_url(url, false)?;
        let send = async {
            let mut response = self
                .http
                .post(url.clone())
                .headers(headers)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(send_error)?;
            let status = response.status().as_u16();
            let _ = read_capped(&mut response, self.max_response_bytes).await;
            Ok(status)
        };
        let after_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        tokio::time::timeout(timeout, send)
            .await
            .unwrap_or(Err(AdaptorError::Timeout { after_ms }))
    }
}

/// Maps a failed send: a refusal (or resolution failure) from our resolver comes back
/// as itself; anything else is a network error, described without the URL.
fn send_error(error: reqwest::Error) -> AdaptorError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(ours) = cause.downcast_ref::<AdaptorError>() {
            return ours.clone();
        }
        source = cause.source();
    }
    AdaptorError::Network(chain(&error.without_url()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn out_of_range_timeouts_are_invalid_requests() {
        let client = AdaptorClient::new(NetworkPolicy::default()).unwrap();
        let spec: AdaptorSpec = serde_json::from_value(
            serde_json::json!({"method": "GET", "url": "https://a.example/"}),
        )
        .unwrap();
        for timeout in [Some(0), Some(60_001)] {
            let result = client.call(&spec, None, &Map::new(), timeout).await;
            assert!(
                matches!(result, Err(AdaptorError::InvalidRequest(_))),
                "{result:?}"
            );
        }
    }
}
