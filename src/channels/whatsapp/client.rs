//! The outbound side of WhatsApp: a small Graph API client that sends one text
//! message (`POST {base}/{version}/{phone_number_id}/messages`) and classifies every
//! failure into [`SendError`] so the shared sender knows whether and when to retry.
//! It does no retrying itself.
//!
//! Classification, in order:
//! - transport errors (connect, timeout, reset, connection closed without a response,
//!   body read failure) → `Transient`;
//! - HTTP 429 → `RateLimited` (`Retry-After` seconds, default 1000 ms);
//! - Graph error codes Meta uses for throttling (4, 80007, 130429, 131048, 131056;
//!   usually sent with HTTP 400) → `RateLimited` (Retry-After or 1000 ms; 6000 ms for
//!   the per-recipient pair limit 131056), and codes for temporary outages (1, 2,
//!   131000, 131016, 133004) → `Transient`;
//! - other 5xx → `Transient`, other non-2xx → `Permanent`;
//! - 2xx whose body lacks `messages[0].id` → `Permanent` (Meta accepted the request,
//!   so retrying could deliver twice).
//!
//! The access token is sent as a sensitive header and is scrubbed from every error
//! string; `Debug` on the config and client redacts it.

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use url::Url;

use crate::channels::inbound::SendError;
use crate::channels::provider_http::{self, DEFAULT_RETRY_AFTER_MS, rate_limited, read_capped};

/// Default per-request timeout (connect + send + full response).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Delay for Meta's per-recipient pair rate limit (about one message per 6 s).
const PAIR_RATE_RETRY_AFTER_MS: u64 = 6000;
/// Largest WhatsApp text body Meta accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Responses larger than this are not read further (Meta's are a few hundred bytes).
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Where and as whom to send. `Debug` redacts `access_token`.
#[derive(Clone)]
pub struct WhatsappConfig {
    /// Graph API root, e.g. `https://graph.facebook.com` (a path prefix is allowed).
    pub base_url: String,
    /// Graph API version path segment, e.g. `v21.0`.
    pub api_version: String,
    /// System-user or business access token (sent as `Authorization: Bearer …`).
    pub access_token: String,
    /// Per-request timeout; [`DEFAULT_TIMEOUT`] from [`WhatsappConfig::new`].
    pub timeout: Duration,
}

impl WhatsappConfig {
    pub fn new(
        base_url: impl Into<String>,
        api_version: impl Into<String>,
        access_token: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            api_version: api_version.into(),
            access_token: access_token.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for WhatsappConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsappConfig")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("access_token", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The configuration cannot produce a working client. Carries no secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientConfigError {
    #[error("base_url is not an absolute http(s) URL: {0}")]
    BaseUrl(String),
    #[error("api_version must be a non-empty path segment without `/`")]
    ApiVersion,
    #[error("access token is empty or not a valid HTTP header value")]
    Token,
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// Sends WhatsApp text messages for one access token. Cheap to clone; share one
/// `reqwest::Client` between many tenants' clients via [`WhatsappClient::with_http_client`].
#[derive(Clone)]
pub struct WhatsappClient {
    http: reqwest::Client,
    base: Url,
    api_version: String,
    access_token: String,
    auth_header: HeaderValue,
    timeout: Duration,
}

impl fmt::Debug for WhatsappClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsappClient")
            .field("base", &self.base.as_str())
            .field("api_version", &self.api_version)
            .field("access_token", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl WhatsappClient {
    /// Builds a client with its own connection pool.
    pub fn new(config: WhatsappConfig) -> Result<Self, ClientConfigError> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ClientConfigError::Http(e.to_string()))?;
        Self::with_http_client(config, http)
    }

    /// Builds a client on a shared `reqwest::Client` (its own timeout still applies
    /// per request).
    pub fn with_http_client(
        config: WhatsappConfig,
        http: reqwest::Client,
    ) -> Result<Self, ClientConfigError> {
        let base =
            Url::parse(&config.base_url).map_err(|e| ClientConfigError::BaseUrl(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientConfigError::BaseUrl(
                "scheme must be http or https".into(),
            ));
        }
        let version = config.api_version.trim_matches('/');
        if version.is_empty() || version.contains('/') {
            return Err(ClientConfigError::ApiVersion);
        }
        if config.access_token.is_empty() {
            return Err(ClientConfigError::Token);
        }
        let mut auth_header = HeaderValue::from_str(&format!("Bearer {}", config.access_token))
            .map_err(|_| ClientConfigError::Token)?;
        auth_header.set_sensitive(true);
        Ok(Self {
            http,
            base,
            api_version: version.to_owned(),
            access_token: config.access_token,
            auth_header,
            timeout: config.timeout,
        })
    }

    /// Sends `text` to the WhatsApp user `to` from the business number
    /// `phone_number_id`; returns the wamid Meta assigned to our message.
    /// `text` must be 1..=4096 characters (use [`super::split_text`] first).
    pub async fn send_text(
        &self,
        phone_number_id: &str,
        to: &str,
        text: &str,
    ) -> Result<String, SendError> {
        if phone_number_id.is_empty() || to.is_empty() {
            return Err(SendError::Permanent(
                "phone_number_id and recipient must not be empty".into(),
            ));
        }
        if text.trim().is_empty() {
            return Err(SendError::Permanent("message text is empty".into()));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(SendError::Permanent(format!(
                "message text exceeds {MAX_TEXT_CHARS} characters"
            )));
        }
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": { "preview_url": false, "body": text },
        });
        self.send_message(phone_number_id, body).await
    }

    /// Sends the approved template `name` in `language` (no parameters) to `to`: the one
    /// kind of message allowed outside the 24-hour customer-service window.
    pub async fn send_template(
        &self,
        phone_number_id: &str,
        to: &str,
        name: &str,
        language: &str,
    ) -> Result<String, SendError> {
        if phone_number_id.is_empty() || to.is_empty() || name.is_empty() {
            return Err(SendError::Permanent(
                "phone_number_id, recipient and template name must not be empty".into(),
            ));
        }
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": { "name": name, "language": { "code": language } },
        });
        self.send_message(phone_number_id, body).await
    }

    async fn send_message(
        &self,
        phone_number_id: &str,
        body: serde_json::Value,
    ) -> Result<String, SendError> {
        let url = self.messages_url(phone_number_id);
        let response = self
            .http
            .post(url)
            .header(AUTHORIZATION, self.auth_header.clone())
            .header(CONTENT_TYPE, "application/json")
            .timeout(self.timeout)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| self.transport(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| self.transport(&e))?;
        if status.is_success() {
            return message_id(&body).ok_or_else(|| {
                SendError::Permanent(format!(
                    "whatsapp HTTP {}: response has no messages[0].id",
                    status.as_u16()
                ))
            });
        }
        Err(self.classify_failure(status.as_u16(), &headers, &body))
    }

    fn messages_url(&self, phone_number_id: &str) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .push(&self.api_version)
                .push(phone_number_id)
                .push("messages");
        }
        url
    }

    fn classify_failure(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> SendError {
        let graph = graph_error(body);
        let detail = self.scrub(&format!(
            "whatsapp HTTP {status}{}",
            graph
                .as_ref()
                .map(|(code, msg)| format!(": ({code}) {msg}"))
                .unwrap_or_default()
        ));
        if status == 429 {
            return rate_limited(headers, DEFAULT_RETRY_AFTER_MS);
        }
        match graph.as_ref().map(|(code, _)| *code) {
            Some(131056) => rate_limited(headers, PAIR_RATE_RETRY_AFTER_MS),
            Some(4 | 80007 | 130429 | 131048) => rate_limited(headers, DEFAULT_RETRY_AFTER_MS),
            Some(1 | 2 | 131000 | 131016 | 133004) => SendError::Transient(detail),
            _ if status >= 500 => SendError::Transient(detail),
            _ => SendError::Permanent(detail),
        }
    }

    /// A call that got no answer, without the access token.
    fn transport(&self, error: &reqwest::Error) -> SendError {
        match provider_http::classify_transport("whatsapp", error) {
            SendError::Transient(text) => SendError::Transient(self.scrub(&text)),
            SendError::Permanent(text) => SendError::Permanent(self.scrub(&text)),
            other => other,
        }
    }

    /// Removes the access token from provider- or transport-supplied text and bounds
    /// its length.
    fn scrub(&self, text: &str) -> String {
        provider_http::scrub(text, &self.access_token)
    }
}

/// `messages[0].id` of a successful send response.
fn message_id(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value
        .get("messages")?
        .get(0)?
        .get("id")?
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// `(code, message)` of a Graph API error body `{"error":{"message":…,"code":…}}`.
fn graph_error(body: &[u8]) -> Option<(i64, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let code = match error.get("code")? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((code, message))
}
