//! `/v1/admin/tenants`: create (operator), list, get.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::store::{NewTenant, TenantRow};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_tenant)
        .service(list_tenants)
        .service(get_tenant);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// `[a-z0-9][a-z0-9_-]{0,62}`
    pub id: String,
    pub name: String,
    /// The flow new conversations start; publish it before opening conversations.
    #[serde(default = "default_entry_flow")]
    pub entry_flow: String,
    /// Origins allowed to open the web chat; empty allows any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Let this tenant's adaptors call private and loopback addresses (off by default).
    #[serde(default)]
    pub allow_private_adaptors: bool,
    /// The model this tenant's LLM states use; default: `llm.model` of the config.
    #[serde(default)]
    pub llm_model: Option<String>,
}

fn default_entry_flow() -> String {
    "main".into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub entry_flow: String,
    pub allowed_origins: Vec<String>,
    pub allow_private_adaptors: bool,
    pub llm_model: Option<String>,
    pub created_at: i64,
}

impl From<TenantRow> for TenantView {
    fn from(row: TenantRow) -> Self {
        TenantView {
            allowed_origins: row.allowed_origins(),
            allow_private_adaptors: row.allows_private_adaptors(),
            id: row.id,
            name: row.name,
            entry_flow: row.entry_flow,
            llm_model: row.llm_model,
            created_at: row.created_at,
        }
    }
}

/// A slug: lowercase letters, digits, `_` and `-`, starting with a letter or digit.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[utoipa::path(
    tag = "tenants",
    request_body = CreateTenant,
    responses(
        (status = 201, body = TenantView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
#[post("/tenants")]
async fn create_tenant(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    body: web::Json<CreateTenant>,
) -> Result<HttpResponse, ApiError> {
    principal.require_operator()?;
    let body = body.into_inner();
    if !is_slug(&body.id) {
        return Err(ApiError::bad_request(
            "`id` must match [a-z0-9][a-z0-9_-]{0,62}",
        ));
    }
    if body.name.trim().is_empty() || body.name.len() > 200 {
        return Err(ApiError::bad_request("`name` must be 1 to 200 characters"));
    }
    if body
        .llm_model
        .as_ref()
        .is_some_and(|m| m.len() > 200 || m.chars().any(char::is_control))
    {
        return Err(ApiError::bad_request("`llm_model` must be a model name"));
    }
    if !is_slug(&body.entry_flow) {
        return Err(ApiError::bad_request("`entry_flow` must be a flow id"));
    }
    let created = ctx
        .store()
        .create_tenant(&NewTenant {
            id: &body.id,
            name: body.name.trim(),
            entry_flow: &body.entry_flow,
            allowed_origins: &body.allowed_origins,
            allow_private_adaptors: body.allow_private_adaptors,
            llm_model: body.llm_model.as_deref().filter(|m| !m.trim().is_empty()),
        })
        .await?;
    if !created {
        return Err(ApiError::Conflict(format!(
            "tenant `{}` already exists",
            body.id
        )));
    }
    ctx.audit(
        &principal,
        &body.id,
        "tenant.create",
        &body.id,
        serde_json::json!({ "name": body.name, "entry_flow": body.entry_flow,
            "allow_private_adaptors": body.allow_private_adaptors }),
    )
    .await?;
    let row = ctx.tenant(&body.id).await?;
    Ok(HttpResponse::Created().json(TenantView::from(row)))
}

#[utoipa::path(tag = "tenants", responses((status = 200, body = [TenantView]), (status = 401, body = ErrorBody)))]
#[get("/tenants")]
async fn list_tenants(
    ctx: web::Data<AdminContext>,
    principal: Principal,
) -> Result<web::Json<Vec<TenantView>>, ApiError> {
    let rows = match &principal {
        Principal::Operator => ctx.store().list_tenants().await?,
        Principal::Key { tenant_id, .. } => {
            ctx.store().tenant(tenant_id).await?.into_iter().collect()
        }
    };
    Ok(web::Json(rows.into_iter().map(TenantView::from).collect()))
}

#[utoipa::path(
    tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 200, body = TenantView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[get("/tenants/{tenant}")]
async fn get_tenant(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<TenantView>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    Ok(web::Json(ctx.tenant(&tenant_id).await?.into()))
}
