//! The bot's own access token for calling the Bot Connector: an OAuth 2.0
//! client-credentials grant (`grant_type=client_credentials`, `client_id`,
//! `client_secret`, `scope=https://api.botframework.com/.default`, form-encoded) against
//! `https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token`. The token is
//! cached until `expires_in` minus a safety margin (5 min, or half the lifetime when that
//! is shorter); concurrent callers share one in-flight fetch. The app password and the
//! tokens are [`Secret`]s: never printed by `Debug`, never put in errors or logs.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::http::{DEFAULT_TIMEOUT, truncate};
use crate::channels::inbound::SendError;
use crate::channels::provider_http::{classify_status, classify_transport, read_capped};

/// Production token endpoint for multi-tenant bots.
pub const DEFAULT_TOKEN_URL: &str =
    "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";
/// Scope of Bot Connector tokens.
pub const DEFAULT_SCOPE: &str = "https://api.botframework.com/.default";
/// Largest token response accepted.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;
/// Preferred refresh margin before expiry.
const SAFETY_MARGIN: Duration = Duration::from_secs(300);
/// Longest a token is cached, whatever `expires_in` claims (AAD issues 1 h tokens).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A string that must not be shown: `Debug` prints `Secret(***)`, there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Settings of a [`TokenClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    pub token_url: String,
    /// Microsoft App ID (`client_id`).
    pub app_id: String,
    /// App password (`client_secret`).
    pub app_password: Secret,
    pub scope: String,
}

impl TokenConfig {
    /// Production endpoint and scope for this app.
    pub fn new(app_id: impl Into<String>, app_password: Secret) -> Self {
        Self {
            token_url: DEFAULT_TOKEN_URL.to_owned(),
            app_id: app_id.into(),
            app_password,
            scope: DEFAULT_SCOPE.to_owned(),
        }
    }
}

/// Cached client-credentials token source. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct TokenClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: TokenConfig,
    cached: Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

struct Cached {
    token: Secret,
    refresh_at: Instant,
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClient")
            .field("token_url", &self.inner.config.token_url)
            .field("app_id", &self.inner.config.app_id)
            .finish_non_exhaustive()
    }
}

/// When a token fetched at `now`, valid for `lifetime`, is replaced: a safety margin
/// before it expires (half its lifetime for short-lived tokens), and never later than
/// [`MAX_LIFETIME`].
fn refresh_at(now: Instant, lifetime: Duration) -> Instant {
    let lifetime = lifetime.min(MAX_LIFETIME);
    let margin = SAFETY_MARGIN.min(lifetime / 2);
    now.checked_add(lifetime.saturating_sub(margin))
        .unwrap_or(now)
}

impl TokenClient {
    pub fn new(http: reqwest::Client, config: TokenConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                config,
                cached: Mutex::new(None),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    pub fn app_id(&self) -> &str {
        &self.inner.config.app_id
    }

    /// Number of token requests made so far.
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::SeqCst)
    }

    /// A valid access token, from the cache or freshly fetched. Callers arriving during
    /// a fetch wait for it (the cache mutex is held across the request).
    pub async fn access_token(&self) -> Result<Secret, SendError> {
        let mut cached = self.inner.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at: refresh_at(Instant::now(), lifetime),
        });
        Ok(token)
    }

    /// Drops the cached token (e.g. after the connector answered 401).
    pub async fn invalidate(&self) {
        *self.inner.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<(Secret, Duration), SendError> {
        self.inner.fetches.fetch_add(1, Ordering::SeqCst);
        let config = &self.inner.config;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &config.app_id)
            .append_pair("client_secret", config.app_password.expose())
            .append_pair("scope", &config.scope)
            .finish();
        let response = self
            .inner
            .http
            .post(&config.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(DEFAULT_TIMEOUT)
            .body(form)
            .send()
            .await
            .map_err(|e| {
                let err = classify_transport("token endpoint", &e);
                tracing::warn!(error = %err, "Bot Framework token request failed");
                err
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response, MAX_TOKEN_RESPONSE)
            .await
            .map_err(|e| SendError::Transient(format!("token response: {e}")))?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            // Only the AAD error code (e.g. `invalid_client`): never the body, never the form.
            let code = json
                .get("error")
                .and_then(Value::as_str)
                .map(|c| truncate(c, 64));
            let err = classify_status(
                "token endpoint",
                status,
                &headers,
                code.as_deref().unwrap_or(""),
            );
            tracing::warn!(error = %err, "Bot Framework token request rejected");
            return Err(err);
        }
        let token = json
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SendError::Transient("token response without access_token".into()))?;
        let expires_in = json
            .get("expires_in")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0);
        tracing::debug!(expires_in, "Bot Framework access token obtained");
        Ok((Secret::new(token), Duration::from_secs(expires_in)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced_before_they_expire() {
        let now = Instant::now();
        let secs = |s| Duration::from_secs(s);
        // An hour-long token: five minutes early.
        assert_eq!(refresh_at(now, secs(3600)), now + secs(3300));
        // A short-lived one: at half its lifetime.
        assert_eq!(refresh_at(now, secs(2)), now + secs(1));
        // One already expired, and a lifetime past the cap.
        assert_eq!(refresh_at(now, Duration::ZERO), now);
        assert_eq!(
            refresh_at(now, secs(10 * 24 * 3600)),
            now + MAX_LIFETIME - SAFETY_MARGIN
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let config = TokenConfig::new("app", Secret::new("hunter2"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let client = TokenClient::new(reqwest::Client::new(), config);
        assert!(!format!("{client:?}").contains("hunter2"));
    }
}
