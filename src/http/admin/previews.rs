//! `POST …/flows/{flow}/previews` (editor): a flow text (the console editor's, saved or
//! not) compiled into a preview version, and a short-lived ticket that lets the real
//! web widget open a conversation on it (`hello.preview`). The conversation runs in the
//! real runtime (model, adaptors, streaming), is stored like any other, and is marked as
//! a preview: its `flow_version` is negative, so default lists and analytics leave it
//! out. Previews are never listed as versions, activated or published.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use super::flows::{compile_for_tenant, flow_body, read_body, same_flow};
use crate::store::now_ms;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_preview);
}

/// How long a preview ticket opens conversations.
const TICKET_TTL_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewCreated {
    /// The preview's version number (negative).
    pub version: i64,
    /// Give it to the widget (`data-preview`): its conversations run this preview.
    pub ticket: String,
    /// When the ticket stops opening new conversations (ms since the epoch).
    pub expires_at: i64,
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    request_body(content = String, content_type = "application/yaml", description = "the flow text to preview, as YAML or JSON"),
    responses((status = 201, body = PreviewCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the text does not compile; details hold the diagnostics")))]
#[post("/tenants/{tenant}/flows/{flow}/previews")]
async fn create_preview(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    let body = read_body(&ctx, payload).await?;
    ctx.tenant(&tenant_id).await?;
    ctx.store()
        .flow(&tenant_id, &flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    let source = flow_body(&req, &body)?;
    let compiled = compile_for_tenant(&ctx, &tenant_id, &format!("{flow_id}.yaml"), &source)
        .await?
        .map_err(|diagnostics| ApiError::Validation {
            message: "the flow does not compile; fix its errors to preview it".into(),
            details: serde_json::json!({ "diagnostics": diagnostics }),
        })?;
    same_flow(&compiled, &flow_id)?;
    let version = ctx
        .store()
        .create_flow_preview(
            &tenant_id,
            &flow_id,
            compiled.content_hash(),
            &compiled.definition_json().to_string(),
            &source,
            &principal.actor(),
        )
        .await?;
    let expires_at = now_ms() + TICKET_TTL_MS;
    let ticket = ctx
        .tokens
        .issue_preview(&tenant_id, &flow_id, version, expires_at);
    ctx.audit(
        &principal,
        &tenant_id,
        "flow.preview",
        &flow_id,
        serde_json::json!({ "version": version, "content_hash": compiled.content_hash() }),
    )
    .await?;
    Ok(HttpResponse::Created().json(PreviewCreated {
        version,
        ticket,
        expires_at,
    }))
}
