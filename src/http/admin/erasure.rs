//! Erasure (GDPR): `DELETE …/conversations/{id}` deletes one conversation and everything
//! said in it; `POST …/erasure` deletes every conversation of one end user. Each goes
//! through the conversation's actor, the single writer, so nothing it is still writing
//! comes back. Model call rows stay (counts and cost, no text). The audit log records the
//! erasure without the user's identity: only a SHA-256 digest of it.

use actix_web::{HttpResponse, delete, post, web};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::conversations::tenant_handle;
use super::error::{ApiError, ErrorBody};
use crate::actors::TenantHandle;
use crate::turn::TurnError;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(erase_conversation).service(erase_end_user);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndUser {
    /// The channel the user writes on: `webchat`, `whatsapp`, `slack` or `teams`.
    pub channel: String,
    /// The user's id on that channel, as in a conversation's `external_user` (a visitor
    /// id, a phone number, a Slack or Teams user id).
    pub external_user: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    /// Conversations deleted.
    pub erased: usize,
    /// The SHA-256 of `channel:external_user`, as recorded in the audit log.
    pub subject_digest: String,
}

#[utoipa::path(tag = "conversations", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "the conversation and everything said in it are deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
#[delete("/tenants/{tenant}/conversations/{id}")]
async fn erase_conversation(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let tenant = tenant_handle(&ctx, &tenant_id, &id).await?;
    erase(&tenant, &id).await?;
    ctx.audit(
        &principal,
        &tenant_id,
        "conversation.erase",
        &id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "conversations", params(("tenant" = String, Path)), request_body = EndUser,
    responses((status = 200, body = Erased, description = "every conversation of the user is deleted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/tenants/{tenant}/erasure")]
async fn erase_end_user(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<EndUser>,
) -> Result<web::Json<Erased>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let EndUser {
        channel,
        external_user,
    } = body.into_inner();
    if !["webchat", "whatsapp", "slack", "teams"].contains(&channel.as_str()) {
        return Err(ApiError::bad_request(
            "`channel` must be one of `webchat`, `whatsapp`, `slack`, `teams`",
        ));
    }
    if external_user.is_empty() || external_user.len() > 512 {
        return Err(ApiError::bad_request(
            "`external_user` must be 1 to 512 bytes",
        ));
    }
    let conversations = ctx
        .store()
        .conversations_of_user(&tenant_id, &channel, &external_user)
        .await?;
    let tenant = ctx
        .runtime
        .tenant(&tenant_id)
        .await
        .map_err(|_| ApiError::Unavailable)?
        .ok_or(ApiError::NotFound { what: "tenant" })?;
    let mut erased = 0;
    for id in &conversations {
        match erase(&tenant, id).await {
            Ok(()) => erased += 1,
            // Gone meanwhile (another erasure, or retention): nothing left to delete.
            Err(ApiError::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    let subject_digest = hex::encode(Sha256::digest(format!("{channel}:{external_user}")));
    ctx.audit(
        &principal,
        &tenant_id,
        "end_user.erase",
        &subject_digest,
        serde_json::json!({ "channel": channel, "conversations": erased }),
    )
    .await?;
    Ok(web::Json(Erased {
        erased,
        subject_digest,
    }))
}

/// Erases one conversation through its actor.
async fn erase(tenant: &TenantHandle, id: &str) -> Result<(), ApiError> {
    tenant.erase(id).await.map_err(|error| match error {
        TurnError::NotFound => ApiError::NotFound {
            what: "conversation",
        },
        _ => ApiError::Unavailable,
    })
}
