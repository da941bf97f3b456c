//! `/v1/admin/tenants/{tenant}/flows`: list, get, put the draft (YAML or JSON, with
//! `If-Match`), validate, delete. Publishing and versions are in `flow_versions.rs`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::compiling;
use super::error::{ApiError, ErrorBody};
use crate::dialog::{CompileOptions, CompiledFlow, Diagnostic, Severity};
use crate::store::{DraftOutcome, FlowRow};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_flows)
        .service(get_flow)
        .service(put_draft)
        .service(validate_flow)
        .service(delete_flow);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowSummary {
    pub id: String,
    pub active_version: Option<i64>,
    pub latest_version: Option<i64>,
    /// The draft has changes that are not published (false right after publishing it).
    pub has_draft: bool,
    pub updated_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DraftView {
    /// The draft as saved (YAML or JSON).
    pub source: String,
    pub etag: String,
    pub author: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowView {
    pub id: String,
    pub active_version: Option<i64>,
    pub latest_version: Option<i64>,
    /// The draft has changes that are not published (false right after publishing it).
    pub has_draft: bool,
    /// The editor's working copy, kept after publishing so edits go on from it.
    pub draft: Option<DraftView>,
    pub updated_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationReport {
    /// True when there is no error (warnings allowed).
    pub valid: bool,
    #[schema(value_type = Vec<Object>)]
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DraftSaved {
    pub etag: String,
    pub created: bool,
    #[serde(flatten)]
    pub report: ValidationReport,
}

impl From<FlowRow> for FlowView {
    fn from(row: FlowRow) -> Self {
        let has_draft = row.has_unpublished_draft();
        let draft = match (row.draft_source, row.draft_etag) {
            (Some(source), Some(etag)) => Some(DraftView {
                source,
                etag,
                author: row.draft_author,
            }),
            _ => None,
        };
        FlowView {
            id: row.id,
            active_version: row.active_version,
            latest_version: row.latest_version,
            has_draft,
            draft,
            updated_at: row.updated_at,
        }
    }
}

/// Compiles `source` against the tenant's adaptors (off the HTTP worker, bounded:
/// `compiling.rs`).
pub async fn compile_for_tenant(
    ctx: &AdminContext,
    tenant_id: &str,
    file: &str,
    source: &str,
) -> Result<Result<CompiledFlow, Vec<Diagnostic>>, ApiError> {
    let (flow, diagnostics) = compile_and_report(ctx, tenant_id, file, source).await?;
    Ok(flow.ok_or(diagnostics))
}

/// One compile against the tenant's adaptors: the flow when it has no error, and
/// every diagnostic.
async fn compile_and_report(
    ctx: &AdminContext,
    tenant_id: &str,
    file: &str,
    source: &str,
) -> Result<(Option<CompiledFlow>, Vec<Diagnostic>), ApiError> {
    let options = compile_options(ctx, tenant_id).await?;
    compiling::compile_report(file.to_owned(), source.to_owned(), options).await
}

async fn compile_options(ctx: &AdminContext, tenant_id: &str) -> Result<CompileOptions, ApiError> {
    let adaptors = ctx.store().list_adaptors(tenant_id).await?;
    let knowledge_bases = ctx.store().knowledge_bases(tenant_id).await?;
    Ok(CompileOptions {
        adaptors: Some(adaptors.into_iter().map(|a| a.name).collect()),
        knowledge_bases: Some(knowledge_bases.into_iter().map(|b| b.name).collect()),
    })
}

fn report_of(diagnostics: Vec<Diagnostic>) -> ValidationReport {
    let valid = !diagnostics.iter().any(|d| d.severity == Severity::Error);
    ValidationReport { valid, diagnostics }
}

/// Reads a raw body of at most `admin.max_body_bytes`, with the API's error shape.
pub async fn read_body(
    ctx: &AdminContext,
    mut payload: web::Payload,
) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt;
    let limit = ctx.config.admin.max_body_bytes;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge,
            other => ApiError::bad_request(format!("could not read the body: {other}")),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A posted flow must be the one its URL names.
pub fn same_flow(flow: &CompiledFlow, flow_id: &str) -> Result<(), ApiError> {
    if flow.id() == flow_id {
        return Ok(());
    }
    Err(ApiError::Validation {
        message: format!(
            "the body declares flow `{}` but the URL names `{flow_id}`",
            flow.id()
        ),
        details: serde_json::Value::Null,
    })
}

/// A flow body: YAML or JSON text, as UTF-8.
pub fn flow_body(req: &HttpRequest, body: &web::Bytes) -> Result<String, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        None
        | Some(
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml"
            | "application/json" | "text/plain",
        ) => {}
        Some(_) => return Err(ApiError::UnsupportedMediaType),
    }
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty; send the flow as YAML or JSON",
        ));
    }
    Ok(text.to_string())
}

fn etag_of(source: &str) -> String {
    hex::encode(&Sha256::digest(source.as_bytes())[..10])
}

fn if_match(req: &HttpRequest) -> Option<String> {
    let raw = req.headers().get(header::IF_MATCH)?.to_str().ok()?.trim();
    Some(raw.trim_start_matches("W/").trim_matches('"').to_string())
}

async fn existing_flow(
    ctx: &AdminContext,
    tenant_id: &str,
    flow_id: &str,
) -> Result<FlowRow, ApiError> {
    ctx.store()
        .flow(tenant_id, flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path)),
    responses((status = 200, body = [FlowSummary]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/flows")]
async fn list_flows(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<FlowSummary>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let flows = ctx.store().list_flows(&tenant_id).await?;
    Ok(web::Json(
        flows
            .into_iter()
            .map(|f| FlowSummary {
                has_draft: f.has_unpublished_draft(),
                id: f.id,
                active_version: f.active_version,
                latest_version: f.latest_version,
                updated_at: f.updated_at,
            })
            .collect(),
    ))
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    responses((status = 200, body = FlowView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/flows/{flow}")]
async fn get_flow(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    let view = FlowView::from(existing_flow(&ctx, &tenant_id, &flow_id).await?);
    let mut response = HttpResponse::Ok();
    if let Some(draft) = &view.draft {
        response.insert_header((header::ETAG, format!("\"{}\"", draft.etag)));
    }
    Ok(response.json(view))
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path),
        ("If-Match" = Option<String>, Header, description = "the draft's ETag; `*` for any existing draft")),
    request_body(content = String, content_type = "application/yaml", description = "the flow, as YAML or JSON"),
    responses((status = 200, body = DraftSaved), (status = 201, body = DraftSaved), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 412, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[put("/tenants/{tenant}/flows/{flow}")]
async fn put_draft(
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
    if !super::tenants::is_slug(&flow_id) {
        return Err(ApiError::bad_request(
            "the flow id must match [a-z0-9][a-z0-9_-]{0,62}",
        ));
    }
    let source = flow_body(&req, &body)?;
    let (flow, diagnostics) =
        compile_and_report(&ctx, &tenant_id, &format!("{flow_id}.yaml"), &source).await?;
    let report = report_of(diagnostics);
    if let Some(flow) = &flow {
        same_flow(flow, &flow_id)?;
    }
    let etag = etag_of(&source);
    let outcome = ctx
        .store()
        .save_draft(
            &tenant_id,
            &flow_id,
            &source,
            &etag,
            &principal.actor(),
            if_match(&req).as_deref(),
        )
        .await?;
    let created = match outcome {
        DraftOutcome::Saved { created } => created,
        DraftOutcome::EtagMismatch { current } => {
            return Err(ApiError::PreconditionFailed { current });
        }
    };
    ctx.audit(
        &principal,
        &tenant_id,
        "flow.save_draft",
        &flow_id,
        serde_json::json!({ "etag": etag, "valid": report.valid }),
    )
    .await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header((header::ETAG, format!("\"{etag}\"")))
        .json(DraftSaved {
            etag,
            created,
            report,
        }))
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    request_body(content = String, content_type = "application/yaml", description = "optional: a flow to check instead of the saved draft"),
    responses((status = 200, body = ValidationReport), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/tenants/{tenant}/flows/{flow}/validate")]
async fn validate_flow(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<web::Json<ValidationReport>, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    let body = read_body(&ctx, payload).await?;
    ctx.tenant(&tenant_id).await?;
    let source = if body.is_empty() {
        existing_flow(&ctx, &tenant_id, &flow_id)
            .await?
            .draft_source
            .ok_or(ApiError::NotFound { what: "draft" })?
    } else {
        flow_body(&req, &body)?
    };
    let (_, diagnostics) =
        compile_and_report(&ctx, &tenant_id, &format!("{flow_id}.yaml"), &source).await?;
    Ok(web::Json(report_of(diagnostics)))
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[delete("/tenants/{tenant}/flows/{flow}")]
async fn delete_flow(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    let tenant = ctx.tenant(&tenant_id).await?;
    if tenant.entry_flow == flow_id {
        return Err(ApiError::Conflict(format!(
            "`{flow_id}` is the tenant's entry flow; new conversations need it"
        )));
    }
    if !ctx.store().delete_flow(&tenant_id, &flow_id).await? {
        return Err(ApiError::NotFound { what: "flow" });
    }
    ctx.flow_activated(&tenant_id, &flow_id).await;
    ctx.audit(
        &principal,
        &tenant_id,
        "flow.delete",
        &flow_id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
