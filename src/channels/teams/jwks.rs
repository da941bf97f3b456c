//! The Bot Framework signing-key cache. It fetches the OpenID metadata document
//! (`https://login.botframework.com/v1/.well-known/openidconfiguration` in production),
//! follows its `jwks_uri`, and keeps the RSA keys by `kid`. Keys are refreshed when the
//! cache is older than `max_age`, and on an unknown `kid` (key rotation): the first miss
//! always refetches, later miss-triggered refetches are throttled to one per
//! `min_refetch_interval` so forged `kid`s cannot make us hammer the endpoint. Fetches
//! are single-flight. If a scheduled refresh fails, the last known keys keep serving.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

use crate::channels::provider_http::{describe_reqwest_error, read_capped};

/// Largest metadata or JWKS document accepted.
const MAX_DOC_BYTES: usize = 1024 * 1024;
/// After a failed fetch, callers within this window get the failure (or a stale key)
/// instead of another fetch, so an outage of the metadata endpoint is not hammered.
const FAILURE_BACKOFF: Duration = Duration::from_secs(5);

/// Refresh behaviour of a [`JwksCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksPolicy {
    /// Minimum time between two refetches caused by unknown `kid`s (the first is free).
    pub min_refetch_interval: Duration,
    /// Keys older than this are refetched before use.
    pub max_age: Duration,
    /// Timeout of each HTTP request.
    pub fetch_timeout: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        Self {
            min_refetch_interval: Duration::from_secs(60),
            max_age: Duration::from_secs(24 * 3600),
            fetch_timeout: Duration::from_secs(10),
        }
    }
}

/// Why no key could be produced for a `kid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Not in the key set, even after a refetch (or the refetch was throttled).
    #[error("unknown signing key id")]
    UnknownKey,
    /// Metadata or key set could not be fetched or understood.
    #[error("fetching signing keys failed: {0}")]
    Fetch(String),
}

/// Shared, cheaply clonable key cache.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("metadata_url", &self.inner.metadata_url)
            .field("fetches", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    metadata_url: String,
    policy: JwksPolicy,
    state: RwLock<State>,
    fetch_lock: Mutex<()>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    last_miss_refetch: Option<Instant>,
    last_failure: Option<Instant>,
}

impl State {
    fn is_fresh(&self, now: Instant, max_age: Duration) -> bool {
        self.fetched_at
            .is_some_and(|t| now.saturating_duration_since(t) < max_age)
    }
}

impl JwksCache {
    /// A cache reading the OpenID metadata at `metadata_url`. Nothing is fetched yet.
    pub fn new(http: reqwest::Client, metadata_url: impl Into<String>, policy: JwksPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                metadata_url: metadata_url.into(),
                policy,
                state: RwLock::new(State::default()),
                fetch_lock: Mutex::new(()),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// How many times the key set was (re)fetched, successfully or not.
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::SeqCst)
    }

    /// The verification key for `kid`, fetching or refetching the key set as needed.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, JwksError> {
        let max_age = self.inner.policy.max_age;
        {
            let state = self.inner.state.read().await;
            if state.is_fresh(Instant::now(), max_age)
                && let Some(key) = state.keys.get(kid)
            {
                return Ok(key.clone());
            }
        }
        // Single flight: whoever gets the lock fetches; the others re-check afterwards.
        let _guard = self.inner.fetch_lock.lock().await;
        let now = Instant::now();
        {
            let mut state = self.inner.state.write().await;
            if state.is_fresh(now, max_age) {
                if let Some(key) = state.keys.get(kid) {
                    return Ok(key.clone());
                }
                let throttled = state.last_miss_refetch.is_some_and(|t| {
                    now.saturating_duration_since(t) < self.inner.policy.min_refetch_interval
                });
                if throttled {
                    tracing::debug!(kid, "unknown JWT kid; JWKS refetch throttled");
                    return Err(JwksError::UnknownKey);
                }
                state.last_miss_refetch = Some(now);
            } else if state
                .last_failure
                .is_some_and(|t| now.saturating_duration_since(t) < FAILURE_BACKOFF)
            {
                return state
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| JwksError::Fetch("recent fetch failed; backing off".into()));
            }
        }
        match self.fetch().await {
            Ok(keys) => {
                tracing::debug!(count = keys.len(), "Bot Framework signing keys fetched");
                let mut state = self.inner.state.write().await;
                state.keys = keys;
                state.fetched_at = Some(Instant::now());
                state.last_failure = None;
                state.keys.get(kid).cloned().ok_or(JwksError::UnknownKey)
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching Bot Framework signing keys failed");
                // Last known good: a stale key still verifies while the endpoint is down.
                let mut state = self.inner.state.write().await;
                state.last_failure = Some(Instant::now());
                state.keys.get(kid).cloned().ok_or(JwksError::Fetch(e))
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        self.inner.fetches.fetch_add(1, Ordering::SeqCst);
        let metadata = self.get_json(&self.inner.metadata_url).await?;
        let jwks_uri = metadata
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("OpenID metadata has no jwks_uri")?;
        let jwks = self.get_json(jwks_uri).await?;
        let keys = parse_jwks(&jwks);
        if keys.is_empty() {
            return Err("JWKS contains no usable RSA signing key".to_owned());
        }
        Ok(keys)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .inner
            .http
            .get(url)
            .timeout(self.inner.policy.fetch_timeout)
            .send()
            .await
            .map_err(|e| describe_reqwest_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        let body = read_capped(response, MAX_DOC_BYTES)
            .await
            .map_err(|e| describe_reqwest_error(&e))?;
        serde_json::from_slice(&body).map_err(|e| format!("invalid JSON: {e}"))
    }
}

/// Usable keys of a JWKS document: RSA, with a `kid`, `n` and `e`, not marked for
/// encryption, and not declaring an algorithm other than RS256. Bad entries are skipped.
pub fn parse_jwks(doc: &Value) -> HashMap<String, DecodingKey> {
    let mut out = HashMap::new();
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        return out;
    };
    for key in keys {
        let field = |name: &str| key.get(name).and_then(Value::as_str);
        let (Some(kid), Some("RSA"), Some(n), Some(e)) =
            (field("kid"), field("kty"), field("n"), field("e"))
        else {
            continue;
        };
        if field("use").is_some_and(|u| u != "sig") || field("alg").is_some_and(|a| a != "RS256") {
            continue;
        }
        match DecodingKey::from_rsa_components(n, e) {
            Ok(decoding) => {
                out.insert(kid.to_owned(), decoding);
            }
            Err(err) => tracing::debug!(kid, error = %err, "skipping unusable JWKS key"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn skips_unusable_keys() {
        let doc = json!({"keys": [
            {"kty": "EC", "kid": "ec", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ok", "use": "sig", "n": "AQAB", "e": "AQAB",
             "x5c": ["..."], "endorsements": ["msteams"]},
            "junk"
        ]});
        let keys = parse_jwks(&doc);
        assert_eq!(keys.len(), 1);
        assert!(keys.contains_key("ok"));
        assert!(parse_jwks(&json!({"keys": 3})).is_empty());
        assert!(parse_jwks(&json!(null)).is_empty());
    }
}
