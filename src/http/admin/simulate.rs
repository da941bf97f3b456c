//! `POST /v1/admin/tenants/{tenant}/simulate`: run a flow (posted source, or a stored
//! version) against scripted turns; the model is the offline one, adaptors are stubbed,
//! and states with `knowledge` retrieve from the tenant's knowledge bases.

use std::collections::BTreeMap;

use actix_web::{post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use super::flows::compile_for_tenant;
use crate::dialog::CompiledFlow;
use crate::simulate::{SimulationResult, Stub, TenantKnowledge, simulate_with_knowledge};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(run_simulation);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulationRequest {
    /// A stored flow to run (with `version`, or its active version, or its draft).
    pub flow: Option<String>,
    pub version: Option<i64>,
    /// A flow to run as posted (YAML or JSON text), instead of `flow`.
    pub source: Option<String>,
    /// The user's messages, in order.
    pub turns: Vec<String>,
    /// What each adaptor answers: `{"order_status": {"result": {...}}}` or `{"error": "…"}`.
    #[serde(default)]
    pub adaptor_stubs: BTreeMap<String, Stub>,
    /// After which turns a waiting question's `timeout` passes unanswered (0: after the
    /// start, n: after the n-th user message).
    #[serde(default)]
    pub timeouts: Vec<usize>,
}

const MAX_TURNS: usize = 200;

#[utoipa::path(tag = "flows", params(("tenant" = String, Path)), request_body = SimulationRequest,
    responses((status = 200, body = SimulationResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/tenants/{tenant}/simulate")]
async fn run_simulation(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<SimulationRequest>,
) -> Result<web::Json<SimulationResult>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let request = body.into_inner();
    if request.turns.len() > MAX_TURNS {
        return Err(ApiError::bad_request(format!("at most {MAX_TURNS} turns")));
    }
    let flow = match (&request.source, &request.flow) {
        (Some(source), None) => compiled(&ctx, &tenant_id, "posted.yaml", source).await?,
        (None, Some(flow_id)) => stored_flow(&ctx, &tenant_id, flow_id, request.version).await?,
        _ => {
            return Err(ApiError::bad_request(
                "send exactly one of `flow` and `source`",
            ));
        }
    };
    Ok(web::Json(
        simulate_with_knowledge(
            &flow,
            &request.turns,
            &request.adaptor_stubs,
            &request.timeouts,
            Some(&tenant_knowledge(&ctx, &tenant_id)),
        )
        .await,
    ))
}

/// The tenant's knowledge bases, for simulated states that retrieve.
pub(super) fn tenant_knowledge(ctx: &AdminContext, tenant_id: &str) -> TenantKnowledge {
    TenantKnowledge {
        knowledge: ctx.runtime.services().knowledge.clone(),
        tenant_id: tenant_id.to_owned(),
    }
}

/// A stored flow, compiled: `version`, else its active version, else its draft.
pub(super) async fn stored_flow(
    ctx: &AdminContext,
    tenant_id: &str,
    flow_id: &str,
    version: Option<i64>,
) -> Result<CompiledFlow, ApiError> {
    let store = ctx.store();
    let source = match version {
        Some(version) => {
            store
                .flow_version(tenant_id, flow_id, version)
                .await?
                .ok_or(ApiError::NotFound { what: "version" })?
                .source
        }
        None => {
            let flow = store
                .flow(tenant_id, flow_id)
                .await?
                .ok_or(ApiError::NotFound { what: "flow" })?;
            match flow.active_version {
                Some(version) => {
                    store
                        .flow_version(tenant_id, flow_id, version)
                        .await?
                        .ok_or(ApiError::NotFound { what: "version" })?
                        .source
                }
                None => flow
                    .draft_source
                    .ok_or(ApiError::NotFound { what: "draft" })?,
            }
        }
    };
    compiled(ctx, tenant_id, &format!("{flow_id}.yaml"), &source).await
}

/// `source` compiled against the tenant's adaptors; a 422 with the diagnostics when it
/// does not compile.
pub(super) async fn compiled(
    ctx: &AdminContext,
    tenant_id: &str,
    file: &str,
    source: &str,
) -> Result<CompiledFlow, ApiError> {
    compile_for_tenant(ctx, tenant_id, file, source)
        .await?
        .map_err(|diagnostics| ApiError::Validation {
            message: "the flow does not compile".into(),
            details: serde_json::json!({ "diagnostics": diagnostics }),
        })
}
