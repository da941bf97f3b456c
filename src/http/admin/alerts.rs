//! Alert webhooks: `POST|GET /tenants/{tenant}/alert-hooks`, `DELETE …/{id}` (owners
//! write, viewers read) and `GET /tenants/{tenant}/alert-deliveries` (viewer). A hook's
//! signing secret is shown once, in the answer that creates it; it is stored encrypted.

use actix_web::{HttpResponse, delete, get, post, web};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::adaptors::NetworkPolicy;
use crate::governance::alerts::EVENTS;
use crate::store::{AlertHookRow, now_ms};
use crate::transcript::new_id;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_hook)
        .service(list_hooks)
        .service(delete_hook)
        .service(list_deliveries);
}

/// Hooks per tenant at most.
const MAX_HOOKS: usize = 10;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHook {
    /// `https://…` (or `http://`); it must pass the tenant's network policy.
    pub url: String,
    /// Event types to receive (default: all): `budget.threshold`, `budget.exhausted`,
    /// `breaker.opened`, `breaker.closed`, `delivery.failed`.
    pub events: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedHook {
    #[serde(flatten)]
    pub hook: HookView,
    /// The HMAC-SHA256 signing secret. Shown only in this response.
    pub secret: String,
}

fn hook_view(row: AlertHookRow) -> HookView {
    HookView {
        events: serde_json::from_str(&row.events).unwrap_or_default(),
        id: row.id,
        url: row.url,
        created_at: row.created_at,
        created_by: row.created_by,
    }
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)), request_body = CreateHook,
    responses((status = 201, body = CreatedHook), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/tenants/{tenant}/alert-hooks")]
async fn create_hook(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<CreateHook>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    let tenant = ctx.tenant(&tenant_id).await?;
    let body = body.into_inner();
    let url = url::Url::parse(body.url.trim())
        .map_err(|e| ApiError::bad_request(format!("`url` is not a URL: {e}")))?;
    let policy = NetworkPolicy {
        allow_private: tenant.allows_private_adaptors(),
    };
    policy
        .check_url(&url, true)
        .map_err(|e| ApiError::bad_request(format!("`url` is refused: {e}")))?;
    let events = body.events.unwrap_or_default();
    if let Some(unknown) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown event {unknown:?}; known: {}",
            EVENTS.join(", ")
        )));
    }
    if ctx.store().alert_hooks(&tenant_id).await?.len() >= MAX_HOOKS {
        return Err(ApiError::Conflict(format!(
            "a tenant has at most {MAX_HOOKS} alert hooks"
        )));
    }
    let mut raw = [0u8; 24];
    rand::rng().fill_bytes(&mut raw);
    let secret = format!("whsec_{}", hex::encode(raw));
    let row = AlertHookRow {
        id: new_id(),
        tenant_id: tenant_id.clone(),
        url: url.to_string(),
        events: serde_json::to_string(&events).unwrap_or_else(|_| "[]".into()),
        secret_encrypted: ctx.secrets.seal(&secret),
        created_at: now_ms(),
        created_by: principal.actor(),
    };
    ctx.store().create_alert_hook(&row).await?;
    ctx.audit(
        &principal,
        &tenant_id,
        "alert_hook.create",
        &row.id,
        serde_json::json!({"url": row.url, "events": events}),
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedHook {
        hook: hook_view(row),
        secret,
    }))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)),
    responses((status = 200, body = [HookView]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/alert-hooks")]
async fn list_hooks(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<HookView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let hooks = ctx.store().alert_hooks(&tenant_id).await?;
    Ok(web::Json(hooks.into_iter().map(hook_view).collect()))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/alert-hooks/{id}")]
async fn delete_hook(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    if !ctx.store().delete_alert_hook(&tenant_id, &id).await? {
        return Err(ApiError::NotFound { what: "alert hook" });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "alert_hook.delete",
        &id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Also the `X-Switchboard-Delivery` header of every attempt.
    pub id: String,
    pub hook_id: String,
    pub event: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), DeliveriesQuery),
    responses((status = 200, body = [DeliveryView]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/alert-deliveries")]
async fn list_deliveries(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<web::Json<Vec<DeliveryView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 500"));
    }
    let rows = ctx.store().alert_deliveries(&tenant_id, limit).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| DeliveryView {
                payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
                id: r.id,
                hook_id: r.hook_id,
                event: r.event,
                status: r.status,
                attempts: r.attempts,
                next_attempt_at: r.next_attempt_at,
                last_status: r.last_status,
                last_error: r.last_error,
                created_at: r.created_at,
                delivered_at: r.delivered_at,
            })
            .collect(),
    ))
}
