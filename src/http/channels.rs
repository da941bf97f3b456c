//! Provider webhooks: `POST /v1/channels/{whatsapp|slack|teams}/{channel_id}` and the
//! `GET` subscription handshake of WhatsApp.
//!
//! Order of work, for every provider: find the channel account, verify the request on the
//! raw body (HMAC signature or Bot Framework JWT) before anything else, parse, then store
//! each message with its provider event id as dedup key, and only then answer 200. A
//! forged request gets 401/403 and leaves nothing behind; a message that could not be
//! stored in time gets 503, and the provider's retry is deduplicated. U+0000, which
//! PostgreSQL cannot store, becomes U+FFFD in a message's text (the provider cannot send
//! it any other way, so refusing would only make it retry); in an id it is refused with
//! 400 `invalid_text`, on both stores alike.

// The helpers return a ready `HttpResponse` as their error: it is the answer to send.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use dashmap::DashMap;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::actors::Runtime;
use crate::channels::delivery::ChannelHub;
use crate::channels::delivery::driver::account_secrets;
use crate::channels::inbound::{InboundEvent, InboundMessage, Provider};
use crate::channels::ingress::take_in;
use crate::channels::{slack, teams, whatsapp};
use crate::store::ChannelAccountRow;

/// What the webhook handlers share.
pub struct ChannelContext {
    pub runtime: Runtime,
    pub hub: ChannelHub,
    /// One Bot Framework authenticator (and its JWKS cache) per Teams app id.
    pub teams_auth: DashMap<String, Arc<teams::TeamsAuthenticator>>,
    pub http: reqwest::Client,
}

fn error(status: actix_web::http::StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .json(json!({ "error": { "code": code, "message": message, "details": null } }))
}

fn unauthorized(reason: impl std::fmt::Display) -> HttpResponse {
    warn!(reason = %reason, "webhook refused");
    error(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the request could not be verified",
    )
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn account(
    ctx: &ChannelContext,
    provider: &str,
    channel_id: &str,
) -> Result<ChannelAccountRow, HttpResponse> {
    match ctx
        .runtime
        .services()
        .store
        .live_channel_account(channel_id)
        .await
    {
        Ok(Some(row)) if row.provider == provider => {
            // The request span learns the tenant here (its path names only the channel).
            tracing::Span::current().record("tenant", row.tenant_id.as_str());
            Ok(row)
        }
        Ok(_) => Err(error(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            "no such channel",
        )),
        Err(_) => Err(error(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "retry later",
        )),
    }
}

fn secret<'a>(secrets: &'a Value, name: &str) -> &'a str {
    secrets[name].as_str().unwrap_or("")
}

/// `POST /v1/channels/{provider}/{channel_id}`
pub async fn receive(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    ctx: web::Data<ChannelContext>,
) -> HttpResponse {
    let provider = path.0.clone();
    let response = receive_inner(req, path, body, ctx).await;
    let kind = match provider.as_str() {
        "whatsapp" | "slack" | "teams" => provider.as_str(),
        _ => "other",
    };
    let class = match response.status().as_u16() {
        200..=299 => "2xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!("switchboard_webhooks_total", "provider" => kind.to_owned(), "status" => class)
        .increment(1);
    response
}

async fn receive_inner(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    ctx: web::Data<ChannelContext>,
) -> HttpResponse {
    let (provider, channel_id) = path.into_inner();
    let account = match account(&ctx, &provider, &channel_id).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let services = ctx.runtime.services();
    let Ok(secrets) = account_secrets(&account, &services.secrets) else {
        return error(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "channel misconfigured",
        );
    };
    let messages = match provider.as_str() {
        "whatsapp" => match whatsapp_events(&req, &body, &account, &secrets) {
            Ok(messages) => messages,
            Err(response) => return response,
        },
        "slack" => match slack_events(&req, &body, &secrets) {
            Ok(Ok(messages)) => messages,
            Ok(Err(challenge)) => {
                return HttpResponse::Ok().json(json!({ "challenge": challenge }));
            }
            Err(response) => return response,
        },
        "teams" => match teams_events(&ctx, &req, &body, &account).await {
            Ok(messages) => messages,
            Err(response) => return response,
        },
        _ => {
            return error(
                actix_web::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such provider",
            );
        }
    };
    let messages = match without_nul(messages) {
        Ok(messages) => messages,
        Err(response) => return response,
    };
    let provider = match provider.as_str() {
        "whatsapp" => Provider::Whatsapp,
        "slack" => Provider::Slack,
        _ => Provider::Teams,
    };
    let ack_timeout = Duration::from_millis(services.config.channels.ack_timeout_ms);
    for message in &messages {
        if let Err(e) = take_in(
            &ctx.runtime,
            &ctx.hub,
            &account,
            provider,
            message,
            ack_timeout,
        )
        .await
        {
            warn!(account = %account.id, error = %e, "inbound message not stored; the provider will retry");
            return HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "1"))
                .json(json!({ "error": { "code": "unavailable", "message": e.to_string(), "details": null } }));
        }
    }
    HttpResponse::Ok().json(json!({ "ok": true }))
}

/// Messages with U+0000 replaced in their text; a NUL in an id or in the reply address is
/// refused.
fn without_nul(messages: Vec<InboundMessage>) -> Result<Vec<InboundMessage>, HttpResponse> {
    messages
        .into_iter()
        .map(|mut message| {
            let ids = [&message.event_id, &message.user_id, &message.thread_key];
            if ids.iter().any(|id| id.contains('\0'))
                || crate::transcript::has_nul(&message.reply_to)
            {
                return Err(error(
                    actix_web::http::StatusCode::BAD_REQUEST,
                    "invalid_text",
                    crate::transcript::NUL_REFUSED,
                ));
            }
            if message.text.contains('\0') {
                message.text = message.text.replace('\0', "\u{FFFD}");
            }
            Ok(message)
        })
        .collect()
}

fn whatsapp_events(
    req: &HttpRequest,
    body: &[u8],
    account: &ChannelAccountRow,
    secrets: &Value,
) -> Result<Vec<InboundMessage>, HttpResponse> {
    whatsapp::verify_signature(
        body,
        header(req, "x-hub-signature-256"),
        secret(secrets, "app_secret"),
    )
    .map_err(unauthorized)?;
    let events = whatsapp::parse(body).map_err(|e| {
        error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "invalid_request",
            &e.to_string(),
        )
    })?;
    let settings: Value = serde_json::from_str(&account.config).unwrap_or(Value::Null);
    let own_number = settings["phone_number_id"].as_str().unwrap_or("");
    let mut messages = Vec::new();
    for (phone_number_id, event) in events {
        if phone_number_id != own_number {
            warn!(account = %account.id, phone_number_id = %phone_number_id, "event for another number; ignored");
            continue;
        }
        collect(event, &mut messages, &account.id);
    }
    Ok(messages)
}

/// `Ok(Err(challenge))` answers Slack's URL verification.
fn slack_events(
    req: &HttpRequest,
    body: &[u8],
    secrets: &Value,
) -> Result<Result<Vec<InboundMessage>, String>, HttpResponse> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    slack::verify(
        body,
        header(req, "x-slack-request-timestamp"),
        header(req, "x-slack-signature"),
        secret(secrets, "signing_secret"),
        now,
    )
    .map_err(unauthorized)?;
    match slack::parse(body) {
        Ok(slack::SlackPayload::UrlVerification { challenge }) => Ok(Err(challenge)),
        Ok(slack::SlackPayload::Event { event, .. }) => {
            let mut messages = Vec::new();
            collect(event, &mut messages, "slack");
            Ok(Ok(messages))
        }
        Err(e) => Err(error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "invalid_request",
            &e.to_string(),
        )),
    }
}

#[derive(Deserialize)]
struct TeamsSettings {
    app_id: String,
}

async fn teams_events(
    ctx: &ChannelContext,
    req: &HttpRequest,
    body: &[u8],
    account: &ChannelAccountRow,
) -> Result<Vec<InboundMessage>, HttpResponse> {
    let settings: TeamsSettings = serde_json::from_str(&account.config).map_err(|_| {
        error(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "channel misconfigured",
        )
    })?;
    // The activity's serviceUrl must match the token's claim, so it is read first; nothing
    // is acted on before the token is verified.
    let parsed = teams::parse(body).map_err(|e| {
        error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "invalid_request",
            &e.to_string(),
        )
    })?;
    let config = &ctx.runtime.services().config.channels;
    let authenticator = ctx
        .teams_auth
        .entry(settings.app_id.clone())
        .or_insert_with(|| {
            let mut auth = teams::TeamsAuthConfig::new(settings.app_id.clone());
            auth.openid_metadata_url = config.teams_openid_metadata_url.clone();
            auth.expected_issuer = config.teams_issuer.clone();
            Arc::new(teams::TeamsAuthenticator::new(ctx.http.clone(), auth))
        })
        .clone();
    authenticator
        .validate(header(req, "authorization"), &parsed.service_url)
        .await
        .map_err(unauthorized)?;
    let mut messages = Vec::new();
    collect(parsed.event, &mut messages, &account.id);
    Ok(messages)
}

fn collect(event: InboundEvent, messages: &mut Vec<InboundMessage>, account: &str) {
    match event {
        InboundEvent::Message(message) => messages.push(message),
        InboundEvent::Status(status) => {
            if status.status == "failed" {
                warn!(account, message = %status.provider_message_id, error = ?status.error, "provider reports a failed delivery");
            } else {
                tracing::debug!(account, message = %status.provider_message_id, status = %status.status, "delivery status");
            }
        }
        InboundEvent::Ignored { reason } => {
            tracing::debug!(account, reason = %reason, "event ignored")
        }
    }
}

#[derive(Deserialize)]
pub struct SubscriptionQuery {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /v1/channels/whatsapp/{channel_id}`: Meta's subscription handshake.
pub async fn whatsapp_subscribe(
    path: web::Path<String>,
    query: web::Query<SubscriptionQuery>,
    ctx: web::Data<ChannelContext>,
) -> HttpResponse {
    let account = match account(&ctx, "whatsapp", &path.into_inner()).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let Ok(secrets) = account_secrets(&account, &ctx.runtime.services().secrets) else {
        return error(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "channel misconfigured",
        );
    };
    match whatsapp::verify_subscription(
        query.mode.as_deref(),
        query.verify_token.as_deref(),
        query.challenge.as_deref(),
        secret(&secrets, "verify_token"),
    ) {
        Ok(challenge) => {
            info!(account = %account.id, "WhatsApp webhook subscription verified");
            HttpResponse::Ok()
                .content_type("text/plain")
                .body(challenge)
        }
        Err(e) => {
            warn!(account = %account.id, reason = %e, "WhatsApp subscription refused");
            error(
                actix_web::http::StatusCode::FORBIDDEN,
                "forbidden",
                "verification failed",
            )
        }
    }
}
