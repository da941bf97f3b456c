//! `/v1/admin/tenants/{tenant}/widget`: the web widget's settings. Today that is the
//! identity secret, the HS256 key the tenant's own backend signs visitor identity tokens
//! with (`Switchboard.identify(token)`, see docs/widget.md).
//!
//! The secret is write-only: `PUT` seals it with the secrets key before it reaches the
//! store, `GET` says only whether one is set and since when, `DELETE` removes it. Only
//! an owner may change it, as with channel secrets; every change is audited without the
//! secret.

use actix_web::{HttpResponse, delete, get, put, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::store::widget::WidgetSettingsRow;

/// Shortest accepted identity secret, in bytes: HS256 wants a key at least as long as
/// its 256-bit output (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest accepted identity secret, in bytes.
pub const MAX_SECRET_BYTES: usize = 512;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_widget)
        .service(put_widget)
        .service(delete_widget);
}

/// The widget settings as the API shows them: never the secret itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetView {
    /// Whether an identity secret is set (identified visitors need one).
    pub identity_secret_set: bool,
    /// When the secret was last set (ms since the epoch), or null.
    pub identity_secret_updated_at: Option<i64>,
}

impl From<Option<WidgetSettingsRow>> for WidgetView {
    fn from(row: Option<WidgetSettingsRow>) -> Self {
        WidgetView {
            identity_secret_set: row.is_some(),
            identity_secret_updated_at: row.map(|r| r.updated_at),
        }
    }
}

/// `PUT` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutWidget {
    /// The HS256 key identity tokens are signed with: 32 to 512 bytes. Generate it
    /// randomly (e.g. `openssl rand -base64 48`) and keep it on your backend only.
    pub identity_secret: String,
}

#[utoipa::path(tag = "widget", params(("tenant" = String, Path)),
    responses((status = 200, body = WidgetView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/widget")]
async fn get_widget(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<WidgetView>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let row = ctx.store().widget_settings(&tenant_id).await?;
    Ok(web::Json(row.into()))
}

#[utoipa::path(tag = "widget", params(("tenant" = String, Path)), request_body = PutWidget,
    responses((status = 200, body = WidgetView, description = "the secret was replaced"),
        (status = 201, body = WidgetView, description = "the first secret was set"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[put("/tenants/{tenant}/widget")]
async fn put_widget(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    // Parsed from a `Value` so that only an object is accepted (serde would also take
    // a one-element array for the struct).
    let body = body.into_inner();
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the body must be an object: {\"identity_secret\": \"…\"}",
        ));
    }
    let secret = serde_json::from_value::<PutWidget>(body)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?
        .identity_secret;
    if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&secret.len()) {
        return Err(ApiError::bad_request(format!(
            "`identity_secret` must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes \
             (it has {}); generate a random one",
            secret.len()
        )));
    }
    let sealed = ctx.secrets.seal(&secret);
    let created = ctx
        .store()
        .put_widget_identity_secret(&tenant_id, &sealed)
        .await?;
    ctx.audit(
        &principal,
        &tenant_id,
        "widget.identity_secret.put",
        &tenant_id,
        serde_json::json!({ "replaced": !created }),
    )
    .await?;
    let view = WidgetView::from(ctx.store().widget_settings(&tenant_id).await?);
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

#[utoipa::path(tag = "widget", params(("tenant" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such tenant, or no secret is set")))]
#[delete("/tenants/{tenant}/widget")]
async fn delete_widget(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    if !ctx
        .store()
        .delete_widget_identity_secret(&tenant_id)
        .await?
    {
        return Err(ApiError::NotFound {
            what: "widget identity secret",
        });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "widget.identity_secret.delete",
        &tenant_id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
