//! Publishing and versions: `POST …/flows/{flow}/publish` turns the draft into immutable
//! version N (content hash, author, time); `activate` and `rollback` choose which version
//! new conversations start. Running conversations keep the version they started with.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use super::flows::{FlowView, compile_for_tenant};
use crate::store::FlowVersionRow;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(publish)
        .service(list_versions)
        .service(get_version)
        .service(activate)
        .service(rollback);
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// Also make the new version the live one.
    #[serde(default)]
    pub activate: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub content_hash: String,
    pub author: String,
    pub created_at: i64,
    pub active: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub view: VersionView,
    pub source: String,
    /// The canonical JSON of the flow.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

fn view(row: &FlowVersionRow, active: Option<i64>) -> VersionView {
    VersionView {
        version: row.version,
        content_hash: row.content_hash.clone(),
        author: row.author.clone(),
        created_at: row.created_at,
        active: active == Some(row.version),
    }
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    request_body(content = PublishRequest, description = "optional"),
    responses((status = 201, body = VersionView, description = "a new version"),
        (status = 200, body = VersionView, description = "the draft equals the latest version"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the draft does not compile; details hold the diagnostics")))]
#[post("/tenants/{tenant}/flows/{flow}/publish")]
async fn publish(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Option<web::Json<PublishRequest>>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    let request = body.map(|b| b.into_inner()).unwrap_or_default();
    let flow = ctx
        .store()
        .flow(&tenant_id, &flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    let source = flow
        .draft_source
        .ok_or(ApiError::NotFound { what: "draft" })?;
    let compiled =
        match compile_for_tenant(&ctx, &tenant_id, &format!("{flow_id}.yaml"), &source).await? {
            Ok(compiled) => compiled,
            Err(diagnostics) => {
                return Err(ApiError::Validation {
                    message: "the draft does not compile; nothing was published".into(),
                    details: serde_json::json!({ "diagnostics": diagnostics }),
                });
            }
        };
    let (row, created) = ctx
        .store()
        .publish_version(
            &tenant_id,
            &flow_id,
            compiled.content_hash(),
            &compiled.definition_json().to_string(),
            &source,
            &principal.actor(),
        )
        .await?;
    let mut active = flow.active_version;
    if request.activate {
        ctx.store()
            .activate_version(&tenant_id, &flow_id, row.version)
            .await?;
        ctx.flow_activated(&tenant_id, &flow_id).await;
        active = Some(row.version);
    }
    ctx.audit(&principal, &tenant_id, "flow.publish", &flow_id, serde_json::json!({
        "version": row.version, "content_hash": row.content_hash, "new": created, "activated": request.activate,
    }))
    .await?;
    let body = view(&row, active);
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    responses((status = 200, body = [VersionView]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/flows/{flow}/versions")]
async fn list_versions(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Vec<VersionView>>, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    let flow = ctx
        .store()
        .flow(&tenant_id, &flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    let versions = ctx.store().list_versions(&tenant_id, &flow_id).await?;
    Ok(web::Json(
        versions
            .iter()
            .map(|v| view(v, flow.active_version))
            .collect(),
    ))
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = VersionDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/flows/{flow}/versions/{version}")]
async fn get_version(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String, i64)>,
) -> Result<web::Json<VersionDetail>, ApiError> {
    let (tenant_id, flow_id, version) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    let flow = ctx
        .store()
        .flow(&tenant_id, &flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    let row = ctx
        .store()
        .flow_version(&tenant_id, &flow_id, version)
        .await?
        .ok_or(ApiError::NotFound { what: "version" })?;
    Ok(web::Json(VersionDetail {
        view: view(&row, flow.active_version),
        definition: serde_json::from_str(&row.definition).unwrap_or(serde_json::Value::Null),
        source: row.source,
    }))
}

async fn switch_to(
    ctx: &AdminContext,
    principal: &Principal,
    tenant_id: &str,
    flow_id: &str,
    version: i64,
    action: &str,
) -> Result<FlowView, ApiError> {
    let before = ctx
        .store()
        .flow(tenant_id, flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    if !ctx
        .store()
        .activate_version(tenant_id, flow_id, version)
        .await?
    {
        return Err(ApiError::NotFound { what: "version" });
    }
    ctx.flow_activated(tenant_id, flow_id).await;
    ctx.audit(
        principal,
        tenant_id,
        action,
        flow_id,
        serde_json::json!({ "from": before.active_version, "to": version }),
    )
    .await?;
    let after = ctx
        .store()
        .flow(tenant_id, flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    Ok(after.into())
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    request_body = ActivateRequest,
    responses((status = 200, body = FlowView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/tenants/{tenant}/flows/{flow}/activate")]
async fn activate(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<ActivateRequest>,
) -> Result<web::Json<FlowView>, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    Ok(web::Json(
        switch_to(
            &ctx,
            &principal,
            &tenant_id,
            &flow_id,
            body.version,
            "flow.activate",
        )
        .await?,
    ))
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    responses((status = 200, body = FlowView, description = "the version before the active one is live again"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no earlier version")))]
#[post("/tenants/{tenant}/flows/{flow}/rollback")]
async fn rollback(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<FlowView>, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    let flow = ctx
        .store()
        .flow(&tenant_id, &flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    let active = flow.active_version.ok_or_else(|| {
        ApiError::Conflict("the flow has no active version to roll back from".into())
    })?;
    let previous = ctx
        .store()
        .list_versions(&tenant_id, &flow_id)
        .await?
        .into_iter()
        .map(|v| v.version)
        .find(|v| *v < active)
        .ok_or_else(|| ApiError::Conflict(format!("no version before {active}")))?;
    Ok(web::Json(
        switch_to(
            &ctx,
            &principal,
            &tenant_id,
            &flow_id,
            previous,
            "flow.rollback",
        )
        .await?,
    ))
}
