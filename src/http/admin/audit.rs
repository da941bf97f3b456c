//! `GET /v1/admin/tenants/{tenant}/audit`: who changed what, when (owners).

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_audit);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// `operator` or `key:<id>`.
    pub actor: String,
    /// e.g. `flow.publish`.
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: i64,
}

#[utoipa::path(tag = "audit", params(("tenant" = String, Path), AuditQuery),
    responses((status = 200, body = [AuditEntry]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/audit")]
async fn list_audit(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<Vec<AuditEntry>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 500"));
    }
    let rows = ctx.store().list_audit(&tenant_id, limit).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| AuditEntry {
                details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
                id: r.id,
                actor: r.actor,
                action: r.action,
                target: r.target,
                created_at: r.created_at,
            })
            .collect(),
    ))
}
