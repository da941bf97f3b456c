//! `/v1/admin/tenants/{tenant}/adaptors`: the tenant's HTTP adaptors. The secret is
//! written encrypted and never returned (`has_secret` says whether one is set). A spec
//! whose URL points at a private or loopback address is refused unless the tenant was
//! allowed private adaptors by the operator.

use actix_web::{HttpResponse, delete, get, put, web};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::adaptors::{AdaptorSpec, NetworkPolicy, validate_spec};
use crate::store::{AdaptorRow, SecretUpdate};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_adaptors)
        .service(get_adaptor)
        .service(put_adaptor)
        .service(delete_adaptor);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdaptorView {
    pub name: String,
    /// method, url, headers, body, auth, timeout_ms, response (see docs/admin-api.md).
    #[schema(value_type = Object)]
    pub spec: Value,
    pub has_secret: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `PUT` body: `{"spec": {...}, "secret": "…"}`. Leave `secret` out to keep the stored
/// one; send `null` to remove it.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body; parsed by hand to tell "absent" from `null`
pub struct PutAdaptor {
    #[schema(value_type = Object)]
    pub spec: Value,
    pub secret: Option<String>,
}

impl From<AdaptorRow> for AdaptorView {
    fn from(row: AdaptorRow) -> Self {
        AdaptorView {
            spec: serde_json::from_str(&row.spec).unwrap_or(Value::Null),
            has_secret: row.secret_encrypted.is_some(),
            name: row.name,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[utoipa::path(tag = "adaptors", params(("tenant" = String, Path)),
    responses((status = 200, body = [AdaptorView]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/adaptors")]
async fn list_adaptors(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<AdaptorView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let rows = ctx.store().list_adaptors(&tenant_id).await?;
    Ok(web::Json(rows.into_iter().map(AdaptorView::from).collect()))
}

#[utoipa::path(tag = "adaptors", params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = AdaptorView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/adaptors/{name}")]
async fn get_adaptor(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<AdaptorView>, ApiError> {
    let (tenant_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    let row = ctx
        .store()
        .adaptor(&tenant_id, &name)
        .await?
        .ok_or(ApiError::NotFound { what: "adaptor" })?;
    Ok(web::Json(row.into()))
}

#[utoipa::path(tag = "adaptors", params(("tenant" = String, Path), ("name" = String, Path)),
    request_body = PutAdaptor,
    responses((status = 200, body = AdaptorView), (status = 201, body = AdaptorView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the spec is invalid or targets a refused address")))]
#[put("/tenants/{tenant}/adaptors/{name}")]
async fn put_adaptor(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    let tenant = ctx.tenant(&tenant_id).await?;
    if !super::tenants::is_slug(&name) {
        return Err(ApiError::bad_request(
            "the adaptor name must match [a-z0-9][a-z0-9_-]{0,62}",
        ));
    }
    let Value::Object(mut body) = body.into_inner() else {
        return Err(ApiError::bad_request(
            "the body must be an object with `spec` and optionally `secret`",
        ));
    };
    if let Some(unknown) = body.keys().find(|k| *k != "spec" && *k != "secret") {
        return Err(ApiError::bad_request(format!(
            "unknown field `{unknown}`; expected `spec`, `secret`"
        )));
    }
    let spec: AdaptorSpec = serde_json::from_value(body.remove("spec").unwrap_or(Value::Null))
        .map_err(|e| ApiError::bad_request(format!("invalid `spec`: {e}")))?;
    let secret = match body.remove("secret") {
        None => SecretUpdate::Keep,
        Some(Value::Null) => SecretUpdate::Clear,
        Some(Value::String(secret)) if !secret.is_empty() => {
            SecretUpdate::Set(ctx.secrets.seal(&secret))
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "`secret` must be a non-empty string or null",
            ));
        }
    };
    let policy = NetworkPolicy {
        allow_private: tenant.allows_private_adaptors(),
    };
    if let Err(errors) = validate_spec(&spec, &policy) {
        let details: Vec<Value> = errors
            .iter()
            .map(|e| serde_json::json!({ "field": e.field, "message": e.message }))
            .collect();
        return Err(ApiError::Validation {
            message: "the adaptor spec is invalid".into(),
            details: Value::Array(details),
        });
    }
    let spec_json = serde_json::to_string(&spec).map_err(|_| ApiError::Internal)?;
    let created = ctx
        .store()
        .put_adaptor(&tenant_id, &name, &spec_json, &secret)
        .await?;
    let secret_change = match secret {
        SecretUpdate::Keep => "kept",
        SecretUpdate::Clear => "cleared",
        SecretUpdate::Set(_) => "set",
    };
    ctx.audit(
        &principal,
        &tenant_id,
        "adaptor.put",
        &name,
        serde_json::json!({ "url": spec.url, "method": spec.method, "secret": secret_change }),
    )
    .await?;
    let row = ctx
        .store()
        .adaptor(&tenant_id, &name)
        .await?
        .ok_or(ApiError::Internal)?;
    let view = AdaptorView::from(row);
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

#[utoipa::path(tag = "adaptors", params(("tenant" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/adaptors/{name}")]
async fn delete_adaptor(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    if !ctx.store().delete_adaptor(&tenant_id, &name).await? {
        return Err(ApiError::NotFound { what: "adaptor" });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "adaptor.delete",
        &name,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
