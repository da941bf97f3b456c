//! A tenant's rate limits on model calls: `GET /tenants/{tenant}/model-limits`
//! (viewer), `PUT` and `DELETE` (operator: the platform protects itself and its
//! providers' quotas).

use actix_web::{HttpResponse, delete, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::store::{ModelLimitsRow, now_ms};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_limits)
        .service(put_limits)
        .service(delete_limits);
}

/// The longest a call may wait for the next minute.
const MAX_WAIT_MS: i64 = 60_000;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelLimitsBody {
    /// Model calls per minute across the cluster (none: unlimited).
    pub requests_per_minute: Option<i64>,
    /// Prompt and completion tokens per minute across the cluster.
    pub tokens_per_minute: Option<i64>,
    /// `message` (default: the user is told `message`) or `wait` (the call waits for the
    /// next minute when that is within `max_wait_ms`, then the message).
    pub on_limit: Option<String>,
    /// 0–60000 (default 5000).
    pub max_wait_ms: Option<i64>,
    pub message: Option<String>,
}

fn body_of(row: ModelLimitsRow) -> ModelLimitsBody {
    ModelLimitsBody {
        requests_per_minute: row.requests_per_minute,
        tokens_per_minute: row.tokens_per_minute,
        on_limit: Some(row.on_limit),
        max_wait_ms: Some(row.max_wait_ms),
        message: row.message,
    }
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)),
    responses((status = 200, body = ModelLimitsBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/model-limits")]
async fn get_limits(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<ModelLimitsBody>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let row = ctx
        .store()
        .model_limits(&tenant_id)
        .await?
        .ok_or(ApiError::NotFound {
            what: "model limits",
        })?;
    Ok(web::Json(body_of(row)))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)), request_body = ModelLimitsBody,
    responses((status = 200, body = ModelLimitsBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[put("/tenants/{tenant}/model-limits")]
async fn put_limits(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<ModelLimitsBody>,
) -> Result<web::Json<ModelLimitsBody>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require_operator()?;
    ctx.tenant(&tenant_id).await?;
    let body = body.into_inner();
    for (name, value) in [
        ("requests_per_minute", body.requests_per_minute),
        ("tokens_per_minute", body.tokens_per_minute),
    ] {
        if value.is_some_and(|v| v < 1) {
            return Err(ApiError::bad_request(format!(
                "`{name}` must be at least 1"
            )));
        }
    }
    let on_limit = body.on_limit.unwrap_or_else(|| "message".into());
    if on_limit != "message" && on_limit != "wait" {
        return Err(ApiError::bad_request("`on_limit` must be message or wait"));
    }
    let max_wait_ms = body.max_wait_ms.unwrap_or(5_000);
    if !(0..=MAX_WAIT_MS).contains(&max_wait_ms) {
        return Err(ApiError::bad_request(format!(
            "`max_wait_ms` must be between 0 and {MAX_WAIT_MS}"
        )));
    }
    let row = ModelLimitsRow {
        tenant_id: tenant_id.clone(),
        requests_per_minute: body.requests_per_minute,
        tokens_per_minute: body.tokens_per_minute,
        on_limit,
        max_wait_ms,
        message: body.message.filter(|m| !m.trim().is_empty()),
        updated_at: now_ms(),
        updated_by: principal.actor(),
    };
    ctx.store().put_model_limits(&row).await?;
    ctx.runtime.services().limits.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "model_limits.put",
        &tenant_id,
        serde_json::json!({"requests_per_minute": row.requests_per_minute,
            "tokens_per_minute": row.tokens_per_minute, "on_limit": row.on_limit}),
    )
    .await?;
    Ok(web::Json(body_of(row)))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/model-limits")]
async fn delete_limits(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require_operator()?;
    ctx.tenant(&tenant_id).await?;
    if !ctx.store().delete_model_limits(&tenant_id).await? {
        return Err(ApiError::NotFound {
            what: "model limits",
        });
    }
    ctx.runtime.services().limits.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "model_limits.delete",
        &tenant_id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
