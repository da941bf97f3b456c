//! A tenant's own model providers and routes (owners write, viewers read):
//! `GET /tenants/{tenant}/model-providers`, `PUT|DELETE …/model-providers/{name}`
//! (`{kind, base_url, api_key?, api_version?}`; the key is write-only, encrypted at rest,
//! never returned: `has_key` says whether one is stored), and
//! `GET /tenants/{tenant}/model-routes`, `PUT|DELETE …/model-routes/{name}`
//! (`{targets: ["provider:model", …]}`); and the prices the operator charges the tenant,
//! over `llm.prices`: `GET /tenants/{tenant}/model-prices` (viewer), `PUT|DELETE`
//! (operator).

use actix_web::{HttpResponse, delete, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::adaptors::NetworkPolicy;
use crate::store::{TenantProviderRow, TenantRouteRow, now_ms};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_providers)
        .service(put_provider)
        .service(delete_provider)
        .service(list_routes)
        .service(put_route)
        .service(delete_route)
        .service(get_prices)
        .service(put_prices)
        .service(delete_prices);
}

/// A tenant's providers and routes at most, each.
const MAX_ENTRIES: usize = 20;

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name != "default"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a name is 1 to 64 letters, digits, `-` or `_`, and not `default`",
        ))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutProvider {
    /// `openai` (any OpenAI-compatible API), `azure` or `anthropic`.
    pub kind: String,
    pub base_url: String,
    /// Write-only. Omit to keep the stored key.
    pub api_key: Option<String>,
    /// Azure OpenAI's `api-version` (required for `azure`).
    pub api_version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub api_version: String,
    pub has_key: bool,
    pub updated_at: i64,
    pub updated_by: String,
}

fn provider_view(row: TenantProviderRow) -> ProviderView {
    ProviderView {
        has_key: row.api_key_encrypted.is_some(),
        name: row.name,
        kind: row.kind,
        base_url: row.base_url,
        api_version: row.api_version,
        updated_at: row.updated_at,
        updated_by: row.updated_by,
    }
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)),
    responses((status = 200, body = [ProviderView]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/model-providers")]
async fn list_providers(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<ProviderView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let rows = ctx.store().tenant_providers(&tenant_id).await?;
    Ok(web::Json(rows.into_iter().map(provider_view).collect()))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), ("name" = String, Path)),
    request_body = PutProvider,
    responses((status = 200, body = ProviderView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[put("/tenants/{tenant}/model-providers/{name}")]
async fn put_provider(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<PutProvider>,
) -> Result<web::Json<ProviderView>, ApiError> {
    let (tenant_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    let tenant = ctx.tenant(&tenant_id).await?;
    check_name(&name)?;
    let body = body.into_inner();
    if !matches!(body.kind.as_str(), "openai" | "azure" | "anthropic") {
        return Err(ApiError::bad_request(
            "`kind` must be openai, azure or anthropic",
        ));
    }
    let api_version = body.api_version.unwrap_or_default();
    if body.kind == "azure" && api_version.trim().is_empty() {
        return Err(ApiError::bad_request("`api_version` is required for azure"));
    }
    let base_url = body.base_url.trim().trim_end_matches('/').to_owned();
    let url = url::Url::parse(&base_url)
        .map_err(|e| ApiError::bad_request(format!("`base_url` is not a URL: {e}")))?;
    NetworkPolicy {
        allow_private: tenant.allows_private_adaptors(),
    }
    .check_url(&url, true)
    .map_err(|e| ApiError::bad_request(format!("`base_url` is refused: {e}")))?;
    if let Some(key) = &body.api_key
        && (key.is_empty() || key.chars().any(|c| c.is_control() || !c.is_ascii()))
    {
        return Err(ApiError::bad_request(
            "`api_key` must be printable ASCII, not empty",
        ));
    }
    let existing = ctx.store().tenant_providers(&tenant_id).await?;
    if existing.len() >= MAX_ENTRIES && !existing.iter().any(|p| p.name == name) {
        return Err(ApiError::Conflict(format!(
            "a tenant has at most {MAX_ENTRIES} model providers"
        )));
    }
    let row = TenantProviderRow {
        tenant_id: tenant_id.clone(),
        name: name.clone(),
        kind: body.kind,
        base_url,
        api_version,
        api_key_encrypted: body.api_key.as_deref().map(|k| ctx.secrets.seal(k)),
        updated_at: now_ms(),
        updated_by: principal.actor(),
    };
    ctx.store().put_tenant_provider(&row).await?;
    ctx.runtime.services().tenant_models.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "model_provider.put",
        &name,
        serde_json::json!({"kind": row.kind, "base_url": row.base_url,
            "api_key_changed": body.api_key.is_some()}),
    )
    .await?;
    let stored = ctx
        .store()
        .tenant_providers(&tenant_id)
        .await?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or(ApiError::NotFound {
            what: "model provider",
        })?;
    Ok(web::Json(provider_view(stored)))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/model-providers/{name}")]
async fn delete_provider(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    if !ctx
        .store()
        .delete_tenant_provider(&tenant_id, &name)
        .await?
    {
        return Err(ApiError::NotFound {
            what: "model provider",
        });
    }
    ctx.runtime.services().tenant_models.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "model_provider.delete",
        &name,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteBody {
    /// `provider:model` targets, tried in turn: the tenant's providers or the operator's.
    pub targets: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RouteView {
    /// `default` is the tenant's route for calls that name none.
    pub name: String,
    pub targets: Vec<String>,
    pub updated_at: i64,
    pub updated_by: String,
}

fn route_view(row: TenantRouteRow) -> RouteView {
    RouteView {
        targets: serde_json::from_str(&row.targets).unwrap_or_default(),
        name: row.name,
        updated_at: row.updated_at,
        updated_by: row.updated_by,
    }
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)),
    responses((status = 200, body = [RouteView]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/model-routes")]
async fn list_routes(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<RouteView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let rows = ctx.store().tenant_routes(&tenant_id).await?;
    Ok(web::Json(rows.into_iter().map(route_view).collect()))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), ("name" = String, Path)),
    request_body = RouteBody,
    responses((status = 200, body = RouteView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[put("/tenants/{tenant}/model-routes/{name}")]
async fn put_route(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<RouteBody>,
) -> Result<web::Json<RouteView>, ApiError> {
    let (tenant_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    if name != "default" {
        check_name(&name)?;
    }
    let targets = body.into_inner().targets;
    if targets.is_empty() || targets.len() > 10 {
        return Err(ApiError::bad_request("a route has 1 to 10 targets"));
    }
    let own = ctx.store().tenant_providers(&tenant_id).await?;
    let operator = &ctx.config.llm.providers;
    for target in &targets {
        let Some((provider, model)) = target.split_once(':') else {
            return Err(ApiError::bad_request(format!(
                "{target:?} is not provider:model"
            )));
        };
        let known = provider == "default"
            || operator.contains_key(provider)
            || own.iter().any(|p| p.name == provider);
        if !known || model.trim().is_empty() {
            return Err(ApiError::bad_request(format!(
                "{target:?} names no provider of the tenant or the operator, or no model"
            )));
        }
    }
    let existing = ctx.store().tenant_routes(&tenant_id).await?;
    if existing.len() >= MAX_ENTRIES && !existing.iter().any(|r| r.name == name) {
        return Err(ApiError::Conflict(format!(
            "a tenant has at most {MAX_ENTRIES} model routes"
        )));
    }
    let row = TenantRouteRow {
        tenant_id: tenant_id.clone(),
        name: name.clone(),
        targets: serde_json::to_string(&targets).unwrap_or_else(|_| "[]".into()),
        updated_at: now_ms(),
        updated_by: principal.actor(),
    };
    ctx.store().put_tenant_route(&row).await?;
    ctx.runtime.services().tenant_models.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "model_route.put",
        &name,
        serde_json::json!({"targets": targets}),
    )
    .await?;
    Ok(web::Json(route_view(row)))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/model-routes/{name}")]
async fn delete_route(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    if !ctx.store().delete_tenant_route(&tenant_id, &name).await? {
        return Err(ApiError::NotFound {
            what: "model route",
        });
    }
    ctx.runtime.services().tenant_models.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "model_route.delete",
        &name,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Prices per model in micro-units per million tokens: `{"gpt-4o-mini": {"input": 150000, "output": 600000}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct PricesBody(pub std::collections::BTreeMap<String, crate::llm::ModelPrice>);

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)),
    responses((status = 200, body = PricesBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/model-prices")]
async fn get_prices(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<PricesBody>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let prices = ctx
        .store()
        .tenant_prices(&tenant_id)
        .await?
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default();
    Ok(web::Json(PricesBody(prices)))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)), request_body = PricesBody,
    responses((status = 200, body = PricesBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[put("/tenants/{tenant}/model-prices")]
async fn put_prices(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<PricesBody>,
) -> Result<web::Json<PricesBody>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require_operator()?;
    ctx.tenant(&tenant_id).await?;
    let prices = body.into_inner().0;
    if prices.len() > 100 || prices.keys().any(|m| m.is_empty() || m.len() > 200) {
        return Err(ApiError::bad_request(
            "at most 100 models, each named in 1 to 200 characters",
        ));
    }
    let text = serde_json::to_string(&prices).unwrap_or_else(|_| "{}".into());
    let stored = (!prices.is_empty()).then_some(text.as_str());
    ctx.store()
        .put_tenant_prices(&tenant_id, stored, &principal.actor())
        .await?;
    ctx.runtime.services().tenant_models.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "model_prices.put",
        &tenant_id,
        serde_json::json!({"prices": prices}),
    )
    .await?;
    Ok(web::Json(PricesBody(prices)))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/model-prices")]
async fn delete_prices(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require_operator()?;
    ctx.tenant(&tenant_id).await?;
    ctx.store()
        .put_tenant_prices(&tenant_id, None, &principal.actor())
        .await?;
    ctx.runtime.services().tenant_models.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "model_prices.delete",
        &tenant_id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
