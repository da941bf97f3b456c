//! `/v1/admin/tenants/{tenant}/keys`: create (the key is shown once), list, revoke.
//! Owners only.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role, generate_key, hash_key};
use super::error::{ApiError, ErrorBody};
use crate::store::{ApiKeyRow, NewApiKey};
use crate::transcript::new_id;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_key)
        .service(list_keys)
        .service(revoke_key);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub role: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub view: KeyView,
    /// The secret key. Shown only in this response; store it now.
    pub key: String,
}

impl From<ApiKeyRow> for KeyView {
    fn from(row: ApiKeyRow) -> Self {
        KeyView {
            id: row.id,
            name: row.name,
            role: row.role,
            prefix: row.prefix,
            created_at: row.created_at,
            created_by: row.created_by,
            revoked_at: row.revoked_at,
        }
    }
}

/// Creates a key; shared with the `switchboard keys create` command.
pub async fn create(
    store: &crate::store::Store,
    tenant_id: &str,
    name: &str,
    role: Role,
    created_by: &str,
) -> Result<CreatedKey, crate::store::StoreError> {
    let (key, prefix) = generate_key();
    let id = new_id();
    let created_at = store
        .insert_api_key(&NewApiKey {
            id: &id,
            tenant_id,
            name,
            role: role.as_str(),
            key_hash: &hash_key(&key),
            prefix: &prefix,
            created_by,
        })
        .await?;
    Ok(CreatedKey {
        view: KeyView {
            id,
            name: name.to_string(),
            role: role.as_str().to_string(),
            prefix,
            created_at,
            created_by: created_by.to_string(),
            revoked_at: None,
        },
        key,
    })
}

#[utoipa::path(
    tag = "keys",
    params(("tenant" = String, Path)),
    request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[post("/tenants/{tenant}/keys")]
async fn create_key(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<CreateKey>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad_request("`name` must be 1 to 100 characters"));
    }
    let created = create(ctx.store(), &tenant_id, name, body.role, &principal.actor()).await?;
    ctx.audit(
        &principal,
        &tenant_id,
        "key.create",
        &created.view.id,
        serde_json::json!({ "name": name, "role": body.role.as_str(), "prefix": created.view.prefix }),
    )
    .await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(
    tag = "keys",
    params(("tenant" = String, Path)),
    responses((status = 200, body = [KeyView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[get("/tenants/{tenant}/keys")]
async fn list_keys(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<KeyView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let keys = ctx.store().list_api_keys(&tenant_id).await?;
    Ok(web::Json(keys.into_iter().map(KeyView::from).collect()))
}

#[utoipa::path(
    tag = "keys",
    params(("tenant" = String, Path), ("key_id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[delete("/tenants/{tenant}/keys/{key_id}")]
async fn revoke_key(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, key_id) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    if !ctx.store().revoke_api_key(&tenant_id, &key_id).await? {
        return Err(ApiError::NotFound { what: "key" });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "key.revoke",
        &key_id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
