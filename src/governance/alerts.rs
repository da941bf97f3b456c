//! Alerts: signed JSON events to tenants' webhooks, delivered from a durable outbox.
//!
//! [`Alerts::raise`] stores one delivery per subscribed hook; a dispatcher task sends
//! due deliveries through the SSRF-guarded adaptor client and retries failures with
//! backoff (1 s, 4 s, 16 s, 1 min, 4 min, 15 min, 1 h, 2 h; then `failed`). Each request
//! carries `X-Switchboard-Event`, `X-Switchboard-Delivery` (the same id on every retry,
//! for deduplication) and `X-Switchboard-Signature: t=<unix seconds>,v1=<hex>`, where
//! v1 is HMAC-SHA256 with the hook's secret over `"<t>.<body>"`.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::llm::breaker::{BreakerKey, BreakerListener};
use crate::secret_box::SecretBox;
use crate::services::AdaptorClients;
use crate::store::{AlertDeliveryRow, Store, now_ms};

/// The events a hook may subscribe to.
pub const EVENTS: [&str; 10] = [
    "budget.threshold",
    "budget.exhausted",
    "breaker.opened",
    "breaker.closed",
    "delivery.failed",
    "handoff.queued",
    "handoff.assigned",
    "handoff.transferred",
    "handoff.resolved",
    "handoff.sla_breached",
];

/// Waits between attempts; after the last one a delivery is `failed`.
const BACKOFF_MS: [i64; 8] = [
    1_000, 4_000, 16_000, 60_000, 240_000, 900_000, 3_600_000, 7_200_000,
];
/// How long a node holds a claimed delivery before another may take it.
const CLAIM_MS: i64 = 30_000;
/// One attempt's deadline.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Cheap-clone handle: raise alerts, and the dispatcher behind them.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    secrets: Arc<SecretBox>,
    /// The adaptors' locked-down clients: a hook gets the tenant's network policy
    /// (public addresses only, unless the operator allows private ones).
    http: Option<AdaptorClients>,
    wake: Notify,
}

impl Alerts {
    pub fn new(store: Store, secrets: Arc<SecretBox>) -> Self {
        let http = match AdaptorClients::new() {
            Ok(clients) => Some(clients),
            Err(error) => {
                warn!(%error, "no HTTP client for alerts; they stay queued");
                None
            }
        };
        Self {
            inner: Arc::new(Inner {
                store,
                secrets,
                http,
                wake: Notify::new(),
            }),
        }
    }

    /// Starts the dispatcher on the current runtime; it stops when `stop` fires.
    pub fn start(&self, stop: tokio_util::sync::CancellationToken) {
        let alerts = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = alerts.dispatch_forever() => {}
            }
        });
    }

    /// Queues `event` for the tenant's hooks that want it. Failures are logged: an alert
    /// never fails the work that raised it.
    pub async fn raise(&self, tenant_id: &str, event: &str, data: Value) {
        let store = &self.inner.store;
        let hooks = match store.alert_hooks(tenant_id).await {
            Ok(hooks) => hooks,
            Err(error) => {
                warn!(%error, tenant_id, event, "could not read alert hooks; alert dropped");
                return;
            }
        };
        let ids: Vec<String> = hooks
            .into_iter()
            .filter(|h| h.wants(event))
            .map(|h| h.id)
            .collect();
        info!(tenant_id, event, hooks = ids.len(), "alert raised");
        if ids.is_empty() {
            return;
        }
        let payload = json!({
            "id": crate::transcript::new_id(),
            "type": event,
            "tenant": tenant_id,
            "created_at": now_ms(),
            "data": data,
        })
        .to_string();
        match store.queue_alert(tenant_id, &ids, event, &payload).await {
            Ok(()) => self.inner.wake.notify_one(),
            Err(error) => warn!(%error, tenant_id, event, "could not queue an alert"),
        }
    }

    /// Raises `event` for every tenant with a hook that names it (a breaker is shared by
    /// all tenants whose calls go to its target).
    pub async fn raise_everywhere(&self, event: &str, data: Value) {
        let hooks = match self.inner.store.all_alert_hooks().await {
            Ok(hooks) => hooks,
            Err(error) => {
                warn!(%error, event, "could not read alert hooks; alert dropped");
                return;
            }
        };
        let mut tenants: Vec<String> = hooks
            .into_iter()
            .filter(|h| h.wants(event))
            .map(|h| h.tenant_id)
            .collect();
        tenants.dedup();
        for tenant in tenants {
            self.raise(&tenant, event, data.clone()).await;
        }
    }

    async fn dispatch_forever(&self) {
        loop {
            let wait = match self.dispatch_due().await {
                Ok(wait) => wait,
                Err(error) => {
                    warn!(%error, "alert dispatch failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends every due delivery; returns how long until the next one is due.
    async fn dispatch_due(&self) -> Result<Duration, crate::store::StoreError> {
        let store = &self.inner.store;
        loop {
            let due = store.due_alerts(now_ms(), 32).await?;
            if due.is_empty() {
                break;
            }
            for delivery in due {
                let until = now_ms() + CLAIM_MS;
                if store
                    .claim_alert(&delivery.id, delivery.next_attempt_at, until)
                    .await?
                {
                    self.attempt(delivery).await?;
                }
            }
        }
        let next = store.next_alert_due().await?;
        Ok(match next {
            Some(at) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0).max(50)),
            None => Duration::from_secs(60),
        })
    }

    async fn attempt(&self, delivery: AlertDeliveryRow) -> Result<(), crate::store::StoreError> {
        let store = &self.inner.store;
        let outcome = self.send(&delivery).await;
        let attempts = delivery.attempts + 1;
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                metrics::counter!("switchboard_alerts_total", "outcome" => "delivered")
                    .increment(1);
                debug!(id = %delivery.id, event = %delivery.event, "alert delivered");
                store
                    .record_alert_attempt(
                        &delivery.id,
                        "delivered",
                        now_ms(),
                        Some(i64::from(status)),
                        None,
                    )
                    .await
            }
            outcome => {
                let (status, error) = match outcome {
                    Ok(status) => (Some(i64::from(status)), format!("HTTP {status}")),
                    Err(error) => (None, error),
                };
                let backoff = usize::try_from(attempts - 1)
                    .ok()
                    .and_then(|i| BACKOFF_MS.get(i));
                metrics::counter!("switchboard_alerts_total", "outcome" => "failed_attempt")
                    .increment(1);
                match backoff {
                    Some(wait) => {
                        warn!(id = %delivery.id, event = %delivery.event, attempts, %error,
                            retry_in_ms = wait, "alert delivery failed; retrying");
                        store
                            .record_alert_attempt(
                                &delivery.id,
                                "pending",
                                now_ms() + wait,
                                status,
                                Some(&error),
                            )
                            .await
                    }
                    None => {
                        warn!(id = %delivery.id, event = %delivery.event, attempts, %error,
                            "alert delivery failed for good");
                        store
                            .record_alert_attempt(
                                &delivery.id,
                                "failed",
                                now_ms(),
                                status,
                                Some(&error),
                            )
                            .await
                    }
                }
            }
        }
    }

    /// One POST; the status, or why there was none.
    async fn send(&self, delivery: &AlertDeliveryRow) -> Result<u16, String> {
        let hook = self
            .inner
            .store
            .alert_hook(&delivery.hook_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the hook was deleted")?;
        let secret = self
            .inner
            .secrets
            .open(&hook.secret_encrypted)
            .map_err(|e| format!("the hook's secret cannot be read: {e}"))?;
        let url = url::Url::parse(&hook.url).map_err(|e| format!("invalid URL: {e}"))?;
        let timestamp = now_ms() / 1000;
        let mut headers = reqwest::header::HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            if let Ok(value) = reqwest::header::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        put("x-switchboard-event", delivery.event.clone());
        put("x-switchboard-delivery", delivery.id.clone());
        put(
            "x-switchboard-signature",
            format!(
                "t={timestamp},v1={}",
                sign(&secret, timestamp, &delivery.payload)
            ),
        );
        let allow_private = self
            .inner
            .store
            .tenant(&delivery.tenant_id)
            .await
            .map_err(|e| e.to_string())?
            .is_some_and(|t| t.allows_private_adaptors());
        let http = self.inner.http.as_ref().ok_or("no HTTP client")?;
        http.for_tenant(allow_private)
            .post_json(&url, headers, delivery.payload.clone(), SEND_TIMEOUT)
            .await
            .map_err(|e| e.to_string())
    }
}

impl BreakerListener for Alerts {
    fn opened(&self, key: &BreakerKey, _open_for: Duration) {
        let alerts = self.clone();
        let data = json!({"provider": key.provider, "model": key.model});
        tokio::spawn(async move { alerts.raise_everywhere("breaker.opened", data).await });
    }

    fn closed(&self, key: &BreakerKey) {
        let alerts = self.clone();
        let data = json!({"provider": key.provider, "model": key.model});
        tokio::spawn(async move { alerts.raise_everywhere("breaker.closed", data).await });
    }
}

/// The hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // The MAC over exactly `t.body`, computed directly.
        let expected = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec").unwrap();
            mac.update(b"1700000000.{\"a\":1}");
            hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(sign("whsec", 1_700_000_000, r#"{"a":1}"#), expected);
        assert_ne!(sign("other", 1_700_000_000, r#"{"a":1}"#), expected);
    }
}
