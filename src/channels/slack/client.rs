//! The outbound side of Slack: `chat.postMessage` (start a reply, in a thread) and
//! `chat.update` (grow a streaming reply), with failures classified into
//! [`SendError`] for the shared sender. No retrying here.
//!
//! Slack answers most API errors with HTTP 200 and `{"ok":false,"error":"…"}`.
//! Classification, in order:
//! - transport errors (connect, timeout, reset, connection closed without a response,
//!   body read failure) → `Transient`;
//! - HTTP 429 or `error: "ratelimited"` → `RateLimited` (`Retry-After` seconds,
//!   default 1000 ms);
//! - other 5xx → `Transient`; other non-2xx → `Permanent`;
//! - `ok:false` with `internal_error`, `fatal_error`, `service_unavailable`,
//!   `request_timeout` → `Transient`; any other error → `Permanent`;
//! - 2xx that is not Slack JSON (or a post without `ts`) → `Permanent` (Slack may have
//!   accepted it, so a retry could post twice).
//!
//! Outgoing text is escaped as Slack requires (`&`, `<`, `>` → entities), which also
//! stops generated text from producing `<!channel>`-style mass mentions or links.
//! The bot token is a sensitive header, is scrubbed from errors and is redacted in
//! `Debug`.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use url::Url;

use crate::channels::inbound::SendError;
use crate::channels::provider_http::{self, DEFAULT_RETRY_AFTER_MS, rate_limited, read_capped};

/// Default per-request timeout (connect + send + full response).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses larger than this are not read further.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// `ok:false` errors Slack documents as temporary.
const TRANSIENT_ERRORS: [&str; 4] = [
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Where and as whom to post. `Debug` redacts `bot_token`.
#[derive(Clone)]
pub struct SlackConfig {
    /// Web API root, e.g. `https://slack.com/api`.
    pub base_url: String,
    /// Bot token (`xoxb-…`), sent as `Authorization: Bearer …`.
    pub bot_token: String,
    /// Per-request timeout; [`DEFAULT_TIMEOUT`] from [`SlackConfig::new`].
    pub timeout: Duration,
}

impl SlackConfig {
    pub fn new(base_url: impl Into<String>, bot_token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            bot_token: bot_token.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("base_url", &self.base_url)
            .field("bot_token", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The configuration cannot produce a working client. Carries no secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientConfigError {
    #[error("base_url is not an absolute http(s) URL: {0}")]
    BaseUrl(String),
    #[error("bot token is empty or not a valid HTTP header value")]
    Token,
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// Posts and updates messages as one bot token. Cheap to clone; share a
/// `reqwest::Client` between workspaces via [`SlackClient::with_http_client`].
#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base: Url,
    bot_token: String,
    auth_header: HeaderValue,
    timeout: Duration,
}

impl fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackClient")
            .field("base", &self.base.as_str())
            .field("bot_token", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SlackClient {
    /// Builds a client with its own connection pool.
    pub fn new(config: SlackConfig) -> Result<Self, ClientConfigError> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ClientConfigError::Http(e.to_string()))?;
        Self::with_http_client(config, http)
    }

    /// Builds a client on a shared `reqwest::Client`.
    pub fn with_http_client(
        config: SlackConfig,
        http: reqwest::Client,
    ) -> Result<Self, ClientConfigError> {
        let base =
            Url::parse(&config.base_url).map_err(|e| ClientConfigError::BaseUrl(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientConfigError::BaseUrl(
                "scheme must be http or https".into(),
            ));
        }
        if config.bot_token.is_empty() {
            return Err(ClientConfigError::Token);
        }
        let mut auth_header = HeaderValue::from_str(&format!("Bearer {}", config.bot_token))
            .map_err(|_| ClientConfigError::Token)?;
        auth_header.set_sensitive(true);
        Ok(Self {
            http,
            base,
            bot_token: config.bot_token,
            auth_header,
            timeout: config.timeout,
        })
    }

    /// `chat.postMessage`: posts `text` to `channel` (in the thread `thread_ts` when
    /// given); returns the `ts` of the new message (needed for `update_message`).
    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<String, SendError> {
        check_args(channel, text)?;
        let mut body = json!({ "channel": channel, "text": escape_text(text) });
        if let Some(thread_ts) = thread_ts.filter(|t| !t.is_empty()) {
            body["thread_ts"] = Value::String(thread_ts.to_owned());
        }
        let response = self.call("chat.postMessage", &body).await?;
        response
            .get("ts")
            .and_then(Value::as_str)
            .filter(|ts| !ts.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| SendError::Permanent("slack chat.postMessage: no ts in response".into()))
    }

    /// `chat.update`: replaces the text of our message `ts` in `channel`.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
    ) -> Result<(), SendError> {
        check_args(channel, text)?;
        if ts.is_empty() {
            return Err(SendError::Permanent("message ts must not be empty".into()));
        }
        let body = json!({ "channel": channel, "ts": ts, "text": escape_text(text) });
        self.call("chat.update", &body).await.map(drop)
    }

    /// POSTs `body` to `{base}/{method}`; returns the `ok:true` response object.
    async fn call(&self, method: &str, body: &Value) -> Result<Value, SendError> {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(method);
        }
        let response = self
            .http
            .post(url)
            .header(AUTHORIZATION, self.auth_header.clone())
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .timeout(self.timeout)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| self.transport(method, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = read_capped(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| self.transport(method, &e))?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        let error = parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str)
            .map(|e| self.scrub(e));
        if status == StatusCode::TOO_MANY_REQUESTS || error.as_deref() == Some("ratelimited") {
            return Err(rate_limited(&headers, DEFAULT_RETRY_AFTER_MS));
        }
        let what = format!("slack {method}");
        if !status.is_success() {
            let detail = error.as_deref().unwrap_or_default();
            return Err(provider_http::classify_status(
                &what, status, &headers, detail,
            ));
        }
        let detail = format!(
            "{what} HTTP {}{}",
            status.as_u16(),
            error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        let Some(parsed) = parsed else {
            return Err(SendError::Permanent(format!(
                "slack {method}: response is not JSON"
            )));
        };
        if parsed.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(parsed);
        }
        match error.as_deref() {
            Some(e) if TRANSIENT_ERRORS.contains(&e) => Err(SendError::Transient(detail)),
            Some(_) => Err(SendError::Permanent(detail)),
            None => Err(SendError::Permanent(format!(
                "slack {method}: ok is not true and no error given"
            ))),
        }
    }

    /// A call that got no answer, without the bot token.
    fn transport(&self, method: &str, error: &reqwest::Error) -> SendError {
        match provider_http::classify_transport(&format!("slack {method}"), error) {
            SendError::Transient(text) => SendError::Transient(self.scrub(&text)),
            SendError::Permanent(text) => SendError::Permanent(self.scrub(&text)),
            other => other,
        }
    }

    /// Removes the bot token from provider- or transport-supplied text and bounds its
    /// length.
    fn scrub(&self, text: &str) -> String {
        provider_http::scrub(text, &self.bot_token)
    }
}

/// Escapes `&`, `<` and `>` as Slack requires for message text.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(ch),
        }
    }
    out
}

fn check_args(channel: &str, text: &str) -> Result<(), SendError> {
    if channel.is_empty() {
        return Err(SendError::Permanent("channel must not be empty".into()));
    }
    if text.trim().is_empty() {
        return Err(SendError::Permanent("message text is empty".into()));
    }
    Ok(())
}
