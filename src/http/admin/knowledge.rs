//! Knowledge bases over the admin API: `GET …/knowledge` (viewer) lists a tenant's
//! knowledge bases, `PUT`/`DELETE …/knowledge/{kb}` (editor) create or remove one,
//! `GET …/knowledge/{kb}/documents` (viewer) lists its documents, `PUT`/`DELETE
//! …/documents/{doc}` (editor) upload (chunk, embed, replace atomically) or remove one,
//! and `POST …/knowledge/search` (viewer) runs the same hybrid search flows use. Every
//! write is audited; embeddings are charged to the tenant like any model call.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::knowledge::{
    Format, Hit, KnowledgeError, Mode, NewDocument, SearchRequest, UploadOutcome, is_name,
};
use crate::llm::CallOrigin;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_bases)
        .service(search)
        .service(put_base)
        .service(delete_base)
        .service(list_documents)
        .service(put_document)
        .service(delete_document);
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeBaseBody {
    /// What the knowledge base holds (at most 500 characters).
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KnowledgeBaseView {
    pub name: String,
    pub description: String,
    pub created_at: i64,
    pub documents: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentBody {
    /// The document's text; for `pdf`, the file's bytes in base64.
    pub content: String,
    /// `markdown` (default), `text`, `html` or `pdf`.
    #[serde(default)]
    pub format: Option<String>,
    /// Default: the document id.
    #[serde(default)]
    pub title: Option<String>,
    /// Where the document lives (a URL); citations link to it with the chunk's anchor.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub doc_id: String,
    pub title: String,
    pub source: String,
    pub format: String,
    pub tags: Vec<String>,
    pub content_hash: String,
    pub embedding_model: String,
    pub version: i64,
    pub chunks: i64,
    pub updated_at: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    pub query: String,
    /// The knowledge bases to search (at least one).
    pub knowledge_bases: Vec<String>,
    /// Only documents carrying every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// How many hits (1–50, default 5).
    #[serde(default)]
    pub top_k: Option<usize>,
    #[serde(default)]
    pub mode: Mode,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
}

/// Maps the knowledge layer's errors (exhaustively, so a new one needs a status).
fn api_error(error: KnowledgeError) -> ApiError {
    match error {
        KnowledgeError::Invalid(message) => ApiError::bad_request(message),
        KnowledgeError::UnknownKnowledgeBase(_) => ApiError::NotFound {
            what: "knowledge base",
        },
        KnowledgeError::Embedding(error) => ApiError::Validation {
            message: format!("the embeddings call failed: {error}"),
            details: serde_json::json!({ "code": error.code() }),
        },
        KnowledgeError::Store(error) => error.into(),
    }
}

/// The text of a PDF sent as base64; a broken one is 400 `invalid_pdf`.
async fn pdf_text(base64_content: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    let invalid = |message: String| ApiError::BadRequest {
        message,
        details: serde_json::json!({ "code": "invalid_pdf" }),
    };
    let compact: String = base64_content.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| invalid("`content` of a PDF is the file's bytes in base64".into()))?;
    crate::knowledge::pdf::text(bytes)
        .await
        .map_err(|error| invalid(error.to_string()))
}

fn check_kb_name(kb: &str) -> Result<(), ApiError> {
    if is_name(kb) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a knowledge base name is 1 to 80 of a-z, 0-9, `-`, `_` and `.`",
        ))
    }
}

#[utoipa::path(tag = "knowledge", params(("tenant" = String, Path)),
    responses((status = 200, body = [KnowledgeBaseView]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/knowledge")]
async fn list_bases(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<KnowledgeBaseView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let rows = ctx.store().knowledge_bases(&tenant_id).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| KnowledgeBaseView {
                name: r.name,
                description: r.description,
                created_at: r.created_at,
                documents: r.documents,
            })
            .collect(),
    ))
}

#[utoipa::path(tag = "knowledge", params(("tenant" = String, Path), ("kb" = String, Path)),
    request_body = KnowledgeBaseBody,
    responses((status = 200, body = KnowledgeBaseView), (status = 201, body = KnowledgeBaseView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[put("/tenants/{tenant}/knowledge/{kb}")]
async fn put_base(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Option<web::Json<KnowledgeBaseBody>>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, kb) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    ctx.tenant(&tenant_id).await?;
    check_kb_name(&kb)?;
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    if body.description.chars().count() > 500 {
        return Err(ApiError::bad_request(
            "a description is at most 500 characters",
        ));
    }
    let created = ctx
        .store()
        .put_knowledge_base(&tenant_id, &kb, &body.description)
        .await?;
    ctx.audit(
        &principal,
        &tenant_id,
        "knowledge.put",
        &kb,
        serde_json::json!({ "created": created }),
    )
    .await?;
    let view = ctx
        .store()
        .knowledge_bases(&tenant_id)
        .await?
        .into_iter()
        .find(|b| b.name == kb)
        .map(|r| KnowledgeBaseView {
            name: r.name,
            description: r.description,
            created_at: r.created_at,
            documents: r.documents,
        })
        .ok_or(ApiError::Internal)?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

#[utoipa::path(tag = "knowledge", params(("tenant" = String, Path), ("kb" = String, Path)),
    responses((status = 204, description = "the knowledge base and its documents are deleted"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/knowledge/{kb}")]
async fn delete_base(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, kb) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    ctx.tenant(&tenant_id).await?;
    if !ctx.store().delete_knowledge_base(&tenant_id, &kb).await? {
        return Err(ApiError::NotFound {
            what: "knowledge base",
        });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "knowledge.delete",
        &kb,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "knowledge", params(("tenant" = String, Path), ("kb" = String, Path)),
    responses((status = 200, body = [DocumentView]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/knowledge/{kb}/documents")]
async fn list_documents(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Vec<DocumentView>>, ApiError> {
    let (tenant_id, kb) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    if !ctx
        .store()
        .knowledge_bases(&tenant_id)
        .await?
        .iter()
        .any(|b| b.name == kb)
    {
        return Err(ApiError::NotFound {
            what: "knowledge base",
        });
    }
    let rows = ctx.store().knowledge_documents(&tenant_id, &kb).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| DocumentView {
                tags: serde_json::from_str(&r.tags).unwrap_or_default(),
                doc_id: r.doc_id,
                title: r.title,
                source: r.source,
                format: r.format,
                content_hash: r.content_hash,
                embedding_model: r.embedding_model,
                version: r.version,
                chunks: r.chunks,
                updated_at: r.updated_at,
            })
            .collect(),
    ))
}

#[utoipa::path(tag = "knowledge", params(("tenant" = String, Path), ("kb" = String, Path), ("doc" = String, Path)),
    request_body = DocumentBody,
    responses((status = 200, body = UploadOutcome, description = "replaced (or unchanged: `embedded` is false)"),
        (status = 201, body = UploadOutcome), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the embeddings call failed (budget, rate limit, upstream)")))]
#[put("/tenants/{tenant}/knowledge/{kb}/documents/{doc}")]
async fn put_document(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String, String)>,
    body: web::Json<DocumentBody>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, kb, doc_id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    ctx.tenant(&tenant_id).await?;
    let body = body.into_inner();
    let format_name = body.format.as_deref().unwrap_or("markdown");
    let format = Format::parse(format_name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`format` must be markdown, text, html or pdf (got {format_name:?})"
        ))
    })?;
    let content = match format {
        Format::Pdf => pdf_text(&body.content).await?,
        Format::Markdown | Format::Text | Format::Html => body.content,
    };
    let document = NewDocument {
        content,
        format,
        title: body.title.unwrap_or_else(|| doc_id.clone()),
        source: body.source.unwrap_or_default(),
        tags: body.tags,
    };
    let outcome = ctx
        .runtime
        .services()
        .knowledge
        .put_document(&tenant_id, &kb, &doc_id, document)
        .await
        .map_err(api_error)?;
    ctx.audit(
        &principal,
        &tenant_id,
        "knowledge.document.put",
        &format!("{kb}/{doc_id}"),
        serde_json::json!({ "version": outcome.version, "chunks": outcome.chunks, "embedded": outcome.embedded }),
    )
    .await?;
    Ok(if outcome.created {
        HttpResponse::Created().json(outcome)
    } else {
        HttpResponse::Ok().json(outcome)
    })
}

#[utoipa::path(tag = "knowledge", params(("tenant" = String, Path), ("kb" = String, Path), ("doc" = String, Path)),
    responses((status = 204, description = "the document and its chunks are deleted"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/knowledge/{kb}/documents/{doc}")]
async fn delete_document(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, kb, doc_id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    ctx.tenant(&tenant_id).await?;
    let deleted = ctx
        .runtime
        .services()
        .knowledge
        .delete_document(&tenant_id, &kb, &doc_id)
        .await
        .map_err(api_error)?;
    if !deleted {
        return Err(ApiError::NotFound { what: "document" });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "knowledge.document.delete",
        &format!("{kb}/{doc_id}"),
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "knowledge", params(("tenant" = String, Path)),
    request_body = SearchBody,
    responses((status = 200, body = SearchResults), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "the embeddings call failed")))]
#[post("/tenants/{tenant}/knowledge/search")]
async fn search(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<SearchBody>,
) -> Result<web::Json<SearchResults>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let body = body.into_inner();
    let known = ctx.store().knowledge_bases(&tenant_id).await?;
    if let Some(unknown) = body
        .knowledge_bases
        .iter()
        .find(|kb| !known.iter().any(|b| &b.name == *kb))
    {
        return Err(ApiError::bad_request(format!(
            "knowledge base `{unknown}` does not exist"
        )));
    }
    let request = SearchRequest {
        query: body.query,
        kbs: body.knowledge_bases,
        tags: body.tags,
        top_k: body.top_k.unwrap_or(5),
        mode: body.mode,
        origin: CallOrigin {
            tenant_id: tenant_id.clone(),
            channel: Some("knowledge".into()),
            ..CallOrigin::default()
        },
    };
    let hits = ctx
        .runtime
        .services()
        .knowledge
        .search(&tenant_id, &request)
        .await
        .map_err(api_error)?;
    Ok(web::Json(SearchResults { hits }))
}
