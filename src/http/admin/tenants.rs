//! `/v1/admin/tenants`: create (operator), list, get, update (owner; operator for
//! `allow_private_adaptors`), and soft delete and restore (operator).
//!
//! A write tells the actor tree (`Runtime::tenant_changed`), which holds each running
//! tenant's row for the web chat's origin check and new conversations' entry flow, and
//! stops a deleted tenant's conversations.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::store::{NewTenant, TenantRow, TenantUpdate};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_tenant)
        .service(list_tenants)
        .service(get_tenant)
        .service(update_tenant)
        .service(delete_tenant)
        .service(restore_tenant);
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

/// `name`: what people read; 1 to 200 characters, not only spaces.
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "`name` must be 1 to 200 characters, without control characters",
        ));
    }
    Ok(())
}

fn check_entry_flow(flow: &str) -> Result<(), ApiError> {
    if !is_slug(flow) {
        return Err(ApiError::bad_request(
            "`entry_flow` must be a flow id ([a-z0-9][a-z0-9_-]{0,62})",
        ));
    }
    Ok(())
}

fn check_model(model: &str) -> Result<(), ApiError> {
    if model.len() > 200 || model.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "`llm_model` must be a model name (at most 200 characters)",
        ));
    }
    Ok(())
}

/// At most this many allowed origins per tenant.
const MAX_ORIGINS: usize = 100;

/// Each origin must be exactly what a browser sends in `Origin`: scheme, host and port
/// (only when not the default), lowercase, no path: otherwise it could never match.
fn check_origins(origins: &[String]) -> Result<(), ApiError> {
    if origins.len() > MAX_ORIGINS {
        return Err(ApiError::bad_request(format!(
            "`allowed_origins` may hold at most {MAX_ORIGINS} origins"
        )));
    }
    for origin in origins {
        match crate::config::canonical_origin(origin) {
            Some(canonical) if &canonical == origin => {}
            Some(canonical) => {
                return Err(ApiError::bad_request(format!(
                    "`allowed_origins`: `{origin}` is not an origin as browsers send it; \
                     did you mean `{canonical}`?"
                )));
            }
            None => {
                return Err(ApiError::bad_request(format!(
                    "`allowed_origins`: `{origin}` is not an http(s) origin such as \
                     `https://www.example.com`"
                )));
            }
        }
    }
    Ok(())
}

#[utoipa::path(
    tag = "tenants",
    request_body = CreateTenant,
    responses(
        (status = 201, body = TenantView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the id is taken, by a live or a deleted tenant"),
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
    check_name(&body.name)?;
    if let Some(model) = &body.llm_model {
        check_model(model)?;
    }
    check_entry_flow(&body.entry_flow)?;
    check_origins(&body.allowed_origins)?;
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
        return Err(ApiError::Conflict(
            if ctx.store().tenant_deleted_at(&body.id).await?.is_some() {
                format!(
                    "tenant `{0}` was deleted and its id stays taken until it is purged; \
                     restore it with POST /v1/admin/tenants/{0}/restore",
                    body.id
                )
            } else {
                format!("tenant `{}` already exists", body.id)
            },
        ));
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

/// A partial update: absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    /// The display name, 1 to 200 characters.
    pub name: Option<String>,
    /// The flow new conversations start (running ones keep theirs).
    pub entry_flow: Option<String>,
    /// Origins allowed to open the web chat, exactly as browsers send them; empty allows any.
    pub allowed_origins: Option<Vec<String>>,
    /// Operator only.
    pub allow_private_adaptors: Option<bool>,
    /// The tenant's model; `null` (or "") clears it, so `llm.model` of the config applies.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub llm_model: Option<Option<String>>,
}

/// Tells `null` (`Some(None)`) from an absent field (`None`, by `default`).
fn present<'de, D>(deserializer: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Tells the actor tree and the caches that hold the tenant's row. The write is done by
/// then, so a failure here is logged, not returned: the running tenant rereads its row
/// within the root's recheck interval anyway.
async fn tenant_changed(ctx: &AdminContext, tenant_id: &str) {
    ctx.runtime.services().tenant_models.forget(tenant_id);
    if let Err(error) = ctx.runtime.tenant_changed(tenant_id).await {
        tracing::warn!(tenant_id, %error, "the running tenant was not told of its change");
    }
}

#[utoipa::path(
    tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    request_body = UpdateTenant,
    responses(
        (status = 200, body = TenantView, description = "the tenant as it is now"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "not an owner of the tenant, or `allow_private_adaptors` without the operator key"),
        (status = 404, body = ErrorBody),
    )
)]
#[patch("/tenants/{tenant}")]
async fn update_tenant(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<UpdateTenant>,
) -> Result<web::Json<TenantView>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    let body = body.into_inner();
    if body.allow_private_adaptors.is_some() {
        principal.require_operator()?;
    }
    let name = body.name.as_deref().map(str::trim);
    if let Some(name) = name {
        check_name(name)?;
    }
    if let Some(flow) = &body.entry_flow {
        check_entry_flow(flow)?;
    }
    if let Some(origins) = &body.allowed_origins {
        check_origins(origins)?;
    }
    let model = body
        .llm_model
        .as_ref()
        .map(|m| m.as_deref().map(str::trim).filter(|m| !m.is_empty()));
    if let Some(Some(model)) = model {
        check_model(model)?;
    }
    let update = TenantUpdate {
        name,
        entry_flow: body.entry_flow.as_deref(),
        allowed_origins: body.allowed_origins.as_deref(),
        allow_private_adaptors: body.allow_private_adaptors,
        llm_model: model,
    };
    if !ctx.store().update_tenant(&tenant_id, &update).await? {
        return Err(ApiError::NotFound { what: "tenant" });
    }
    if !update.is_empty() {
        let mut changed = serde_json::Map::new();
        let mut note = |field: &str, value: serde_json::Value| {
            changed.insert(field.into(), value);
        };
        if let Some(name) = update.name {
            note("name", name.into());
        }
        if let Some(flow) = update.entry_flow {
            note("entry_flow", flow.into());
        }
        if let Some(origins) = update.allowed_origins {
            note("allowed_origins", origins.into());
        }
        if let Some(allow) = update.allow_private_adaptors {
            note("allow_private_adaptors", allow.into());
        }
        if let Some(model) = update.llm_model {
            note("llm_model", model.into());
        }
        ctx.audit(
            &principal,
            &tenant_id,
            "tenant.update",
            &tenant_id,
            changed.into(),
        )
        .await?;
        tenant_changed(&ctx, &tenant_id).await;
    }
    Ok(web::Json(ctx.tenant(&tenant_id).await?.into()))
}

#[utoipa::path(
    tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    responses(
        (status = 204, description = "deleted: hidden everywhere until restored or purged"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
#[delete("/tenants/{tenant}")]
async fn delete_tenant(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    principal.require_operator()?;
    if !ctx.store().soft_delete_tenant(&tenant_id).await? {
        return Err(ApiError::NotFound { what: "tenant" });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "tenant.delete",
        &tenant_id,
        serde_json::json!({}),
    )
    .await?;
    tenant_changed(&ctx, &tenant_id).await;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    responses(
        (status = 200, body = TenantView, description = "restored, as it was when deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such tenant (or it was purged)"),
        (status = 409, body = ErrorBody, description = "the tenant is not deleted"),
    )
)]
#[post("/tenants/{tenant}/restore")]
async fn restore_tenant(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<TenantView>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require_operator()?;
    if !ctx.store().restore_tenant(&tenant_id).await? {
        return Err(match ctx.store().tenant(&tenant_id).await? {
            Some(_) => ApiError::Conflict(format!("tenant `{tenant_id}` is not deleted")),
            None => ApiError::NotFound { what: "tenant" },
        });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "tenant.restore",
        &tenant_id,
        serde_json::json!({}),
    )
    .await?;
    tenant_changed(&ctx, &tenant_id).await;
    Ok(web::Json(ctx.tenant(&tenant_id).await?.into()))
}
