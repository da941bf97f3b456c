//! The Bot Connector REST client used to reply:
//! `POST {serviceUrl}/v3/conversations/{conversationId}/activities` with the bot's
//! bearer token from a [`TokenClient`]. Failures are classified for the shared sender:
//! 429 → `RateLimited` (from `Retry-After`), 5xx/408/network/timeout → `Transient`,
//! 401/403/404/other 4xx → `Permanent` (a 401 also drops the cached token so that a
//! later attempt fetches a new one). No retries here: that is the sender's job.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use super::http::{DEFAULT_TIMEOUT, encode_path_segment, truncate};
use super::outbound::OutboundActivity;
use super::target::ReplyTarget;
use super::token::TokenClient;
use crate::channels::inbound::SendError;
use crate::channels::provider_http::{classify_status, classify_transport, read_capped};

/// Largest connector response accepted.
const MAX_RESPONSE: usize = 256 * 1024;

/// Sends activities to the Bot Connector. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectorClient {
    http: reqwest::Client,
    tokens: TokenClient,
    timeout: Duration,
}

impl ConnectorClient {
    pub fn new(http: reqwest::Client, tokens: TokenClient) -> Self {
        Self {
            http,
            tokens,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Overrides the per-request timeout (default 15 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn tokens(&self) -> &TokenClient {
        &self.tokens
    }

    /// Posts `activity` into the conversation of `reply_to`; returns the new activity's
    /// id (empty when the connector returns none, e.g. for typing).
    pub async fn send_activity(
        &self,
        reply_to: &ReplyTarget,
        activity: &OutboundActivity,
    ) -> Result<String, SendError> {
        let url = activities_url(&reply_to.service_url, &reply_to.conversation_id)?;
        let body = serde_json::to_vec(&activity.to_json(reply_to))
            .map_err(|e| SendError::Permanent(format!("serialising activity: {e}")))?;
        let token = self.tokens.access_token().await?;
        let response = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(self.timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| classify_transport("bot connector", &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response, MAX_RESPONSE).await;
        if !status.is_success() {
            if status == StatusCode::UNAUTHORIZED {
                self.tokens.invalidate().await;
            }
            let code = body
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| {
                    v.pointer("/error/code")
                        .and_then(Value::as_str)
                        .map(|c| truncate(c, 64))
                })
                .unwrap_or_default();
            let err = classify_status("bot connector", status, &headers, &code);
            tracing::debug!(error = %err, kind = activity.kind(), "Teams activity not sent");
            return Err(err);
        }
        // The activity may have been accepted even if the body got lost; still transient.
        let body =
            body.map_err(|e| SendError::Transient(format!("bot connector response: {e}")))?;
        let id = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        Ok(id)
    }
}

/// `{serviceUrl}/v3/conversations/{id}/activities`, the id encoded as one segment.
pub fn activities_url(service_url: &str, conversation_id: &str) -> Result<Url, SendError> {
    if conversation_id.is_empty() {
        return Err(SendError::Permanent("empty conversation id".into()));
    }
    let base = service_url.trim_end_matches('/');
    let raw = format!(
        "{base}/v3/conversations/{}/activities",
        encode_path_segment(conversation_id)
    );
    let url = Url::parse(&raw).map_err(|e| SendError::Permanent(format!("bad serviceUrl: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(SendError::Permanent("bad serviceUrl: not http(s)".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SendError::Permanent(
            "bad serviceUrl: has query or fragment".into(),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_activity_urls() {
        let url = activities_url(
            "https://smba.trafficmanager.net/amer/",
            "19:a@thread.skype;messageid=1",
        )
        .expect("url");
        assert_eq!(
            url.as_str(),
            "https://smba.trafficmanager.net/amer/v3/conversations/19%3Aa%40thread.skype%3Bmessageid%3D1/activities"
        );
        assert!(activities_url("ftp://x/", "a").is_err());
        assert!(activities_url("not a url", "a").is_err());
        assert!(activities_url("https://x/?q=1", "a").is_err());
        assert!(activities_url("https://x/", "").is_err());
    }
}
