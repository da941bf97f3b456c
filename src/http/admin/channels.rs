//! `/v1/admin/tenants/{tenant}/channels`: the tenant's WhatsApp, Slack and Teams
//! accounts. The `{id}` is the `{channel_id}` of the webhook URL
//! (`/v1/channels/{provider}/{id}`). Secrets are written encrypted and never returned.

use actix_web::{HttpResponse, delete, get, put, web};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::store::ChannelAccountRow;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_channels)
        .service(get_channel)
        .service(put_channel)
        .service(delete_channel);
}

/// Required settings and secrets per provider.
fn requirements(provider: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    match provider {
        "whatsapp" => Some((
            &["phone_number_id"],
            &["app_secret", "verify_token", "access_token"],
        )),
        "slack" => Some((&[], &["signing_secret", "bot_token"])),
        "teams" => Some((&["app_id"], &["app_password"])),
        _ => None,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    /// `whatsapp`, `slack` or `teams`.
    pub provider: String,
    /// The non-secret settings.
    #[schema(value_type = Object)]
    pub config: Value,
    /// The webhook path to give the provider.
    pub webhook_path: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `PUT` body: `{"provider": "whatsapp", "config": {...}, "secrets": {...}}`; leave
/// `secrets` out on an update to keep the stored ones.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body; parsed by hand to tell "absent" from present
pub struct PutChannel {
    pub provider: String,
    #[schema(value_type = Object)]
    pub config: Value,
    #[schema(value_type = Option<Object>)]
    pub secrets: Option<Value>,
}

impl From<ChannelAccountRow> for ChannelView {
    fn from(row: ChannelAccountRow) -> Self {
        ChannelView {
            webhook_path: format!("/v1/channels/{}/{}", row.provider, row.id),
            config: serde_json::from_str(&row.config).unwrap_or(Value::Null),
            id: row.id,
            provider: row.provider,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A non-empty string under `key`.
fn present(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key)
        .and_then(Value::as_str)
        .is_some_and(|v| !v.is_empty())
}

async fn owned(
    ctx: &AdminContext,
    tenant_id: &str,
    id: &str,
) -> Result<ChannelAccountRow, ApiError> {
    ctx.store()
        .channel_account(id)
        .await?
        .filter(|row| row.tenant_id == tenant_id)
        .ok_or(ApiError::NotFound { what: "channel" })
}

#[utoipa::path(tag = "channels", params(("tenant" = String, Path)),
    responses((status = 200, body = [ChannelView]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/channels")]
async fn list_channels(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<ChannelView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let rows = ctx.store().list_channel_accounts(&tenant_id).await?;
    Ok(web::Json(rows.into_iter().map(ChannelView::from).collect()))
}

#[utoipa::path(tag = "channels", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ChannelView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/channels/{id}")]
async fn get_channel(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ChannelView>, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    Ok(web::Json(owned(&ctx, &tenant_id, &id).await?.into()))
}

#[utoipa::path(tag = "channels", params(("tenant" = String, Path), ("id" = String, Path)), request_body = PutChannel,
    responses((status = 200, body = ChannelView), (status = 201, body = ChannelView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "another tenant uses this id")))]
#[put("/tenants/{tenant}/channels/{id}")]
async fn put_channel(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    if !super::tenants::is_slug(&id) {
        return Err(ApiError::bad_request(
            "the channel id must match [a-z0-9][a-z0-9_-]{0,62}",
        ));
    }
    let Value::Object(mut body) = body.into_inner() else {
        return Err(ApiError::bad_request("the body must be an object"));
    };
    if let Some(unknown) = body
        .keys()
        .find(|k| !["provider", "config", "secrets"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown field `{unknown}`; expected `provider`, `config`, `secrets`"
        )));
    }
    let provider = body
        .remove("provider")
        .and_then(|p| p.as_str().map(str::to_string))
        .unwrap_or_default();
    let (needed_config, needed_secrets) = requirements(&provider)
        .ok_or_else(|| ApiError::bad_request("`provider` must be whatsapp, slack or teams"))?;
    let config = match body.remove("config").unwrap_or(Value::Object(Map::new())) {
        Value::Object(map) => map,
        _ => return Err(ApiError::bad_request("`config` must be an object")),
    };
    let existing = ctx.store().channel_account(&id).await?;
    let secrets = match body.remove("secrets") {
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad_request("`secrets` must be an object")),
        None => match existing
            .as_ref()
            .filter(|row| row.tenant_id == tenant_id && row.provider == provider)
        {
            Some(row) => {
                let plain = ctx
                    .secrets
                    .open(&row.secrets_encrypted)
                    .map_err(|_| ApiError::Internal)?;
                serde_json::from_str(&plain).map_err(|_| ApiError::Internal)?
            }
            None => {
                return Err(ApiError::bad_request(
                    "`secrets` are required for a new channel",
                ));
            }
        },
    };
    let missing: Vec<String> = needed_config
        .iter()
        .filter(|k| !present(&config, k))
        .map(|k| format!("config.{k}"))
        .chain(
            needed_secrets
                .iter()
                .filter(|k| !present(&secrets, k))
                .map(|k| format!("secrets.{k}")),
        )
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::BadRequest {
            message: format!("missing {}", missing.join(", ")),
            details: serde_json::json!({ "missing": missing }),
        });
    }
    let sealed = ctx.secrets.seal(&Value::Object(secrets).to_string());
    let created = ctx
        .store()
        .put_channel_account(
            &tenant_id,
            &id,
            &provider,
            &Value::Object(config).to_string(),
            &sealed,
        )
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                ApiError::Conflict(format!("channel id `{id}` is taken"))
            }
            other => other.into(),
        })?;
    ctx.hub.reload(&id);
    ctx.audit(
        &principal,
        &tenant_id,
        "channel.put",
        &id,
        serde_json::json!({ "provider": provider }),
    )
    .await?;
    let view = ChannelView::from(owned(&ctx, &tenant_id, &id).await?);
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

#[utoipa::path(tag = "channels", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/channels/{id}")]
async fn delete_channel(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    if !ctx.store().delete_channel_account(&tenant_id, &id).await? {
        return Err(ApiError::NotFound { what: "channel" });
    }
    ctx.hub.reload(&id);
    ctx.audit(
        &principal,
        &tenant_id,
        "channel.delete",
        &id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
