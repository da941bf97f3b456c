//! A tenant's retention period: `GET /tenants/{tenant}/retention` (viewer), `PUT` and
//! `DELETE` (owner). Messages older than the period are deleted by the retention job
//! (`crate::retention`); without a period of its own, `retention.default_event_days` of
//! the config applies.

use actix_web::{HttpResponse, delete, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_retention)
        .service(put_retention)
        .service(delete_retention);
}

/// Ten years: the longest period a tenant can set.
const MAX_DAYS: i64 = 3650;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// Messages older than this many days are deleted (1–3650).
    pub event_days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionView {
    /// The tenant's own period, when it set one.
    pub event_days: Option<i64>,
    /// The configured default (0: keep forever).
    pub default_event_days: i64,
    /// The period that applies (0: kept forever).
    pub effective_event_days: i64,
}

async fn view(ctx: &AdminContext, tenant_id: &str) -> Result<RetentionView, ApiError> {
    let own = ctx.store().tenant_retention(tenant_id).await?;
    let default = i64::from(ctx.config.retention.default_event_days);
    Ok(RetentionView {
        event_days: own,
        default_event_days: default,
        effective_event_days: own.unwrap_or(default),
    })
}

#[utoipa::path(tag = "tenants", params(("tenant" = String, Path)),
    responses((status = 200, body = RetentionView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/retention")]
async fn get_retention(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<RetentionView>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    Ok(web::Json(view(&ctx, &tenant_id).await?))
}

#[utoipa::path(tag = "tenants", params(("tenant" = String, Path)), request_body = RetentionBody,
    responses((status = 200, body = RetentionView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[put("/tenants/{tenant}/retention")]
async fn put_retention(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<RetentionBody>,
) -> Result<web::Json<RetentionView>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let days = body.event_days;
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_request("`event_days` must be 1 to 3650"));
    }
    ctx.store()
        .set_tenant_retention(&tenant_id, Some(days))
        .await?;
    ctx.audit(
        &principal,
        &tenant_id,
        "retention.set",
        &tenant_id,
        serde_json::json!({ "event_days": days }),
    )
    .await?;
    Ok(web::Json(view(&ctx, &tenant_id).await?))
}

#[utoipa::path(tag = "tenants", params(("tenant" = String, Path)),
    responses((status = 204, description = "the configured default applies again"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/retention")]
async fn delete_retention(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    ctx.store().set_tenant_retention(&tenant_id, None).await?;
    ctx.audit(
        &principal,
        &tenant_id,
        "retention.clear",
        &tenant_id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
