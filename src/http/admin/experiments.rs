//! Experiments under `/v1/admin/tenants/{tenant}/experiments`: start one (split a flow's
//! new conversations across versions by weight), list them, read one with its results
//! per arm, stop it, and promote a winner (which becomes the flow's active version).
//! Editors and up write; viewers read. docs/analytics.md has the rules and the
//! statistics.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::experiments::Arm;
use crate::experiments::results::{ArmResult, results};
use crate::store::{ExperimentRow, now_ms};
use crate::transcript::new_id;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(stop)
        .service(promote);
}

/// Most arms an experiment may have.
const MAX_ARMS: usize = 10;
/// Largest weight of one arm.
const MAX_WEIGHT: u32 = 1_000_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExperiment {
    /// The flow whose new conversations are split.
    pub flow: String,
    /// 1–100 characters.
    pub name: String,
    /// 2–10 arms, distinct published versions, each with a weight of 1–1,000,000.
    pub arms: Vec<Arm>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentView {
    pub id: String,
    pub flow: String,
    pub name: String,
    pub arms: Vec<Arm>,
    /// `running` or `stopped`.
    pub status: String,
    /// The promoted version, once one is.
    pub winner: Option<i64>,
    pub created_by: String,
    /// Unix milliseconds.
    pub started_at: i64,
    pub stopped_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentDetail {
    #[serde(flatten)]
    pub experiment: ExperimentView,
    /// Per arm, the first being the control, over the conversations that started while it
    /// ran (as far as the analytics rollup has summarised them).
    pub results: Vec<ArmResult>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this flow's experiments.
    pub flow: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// The arm's version that becomes the flow's active version.
    pub version: i64,
}

fn view(row: ExperimentRow) -> Result<ExperimentView, ApiError> {
    let arms = serde_json::from_str(&row.arms).map_err(|_| ApiError::Internal)?;
    Ok(ExperimentView {
        id: row.id,
        flow: row.flow_id,
        name: row.name,
        arms,
        status: row.status,
        winner: row.winner,
        created_by: row.created_by,
        started_at: row.started_at,
        stopped_at: row.stopped_at,
    })
}

async fn found(ctx: &AdminContext, tenant_id: &str, id: &str) -> Result<ExperimentRow, ApiError> {
    ctx.store()
        .experiment(tenant_id, id)
        .await?
        .ok_or(ApiError::NotFound { what: "experiment" })
}

fn validate(body: &CreateExperiment) -> Result<(), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("`name` must be 1–100 characters"));
    }
    if !(2..=MAX_ARMS).contains(&body.arms.len()) {
        return Err(ApiError::bad_request(format!(
            "`arms` must hold 2–{MAX_ARMS} arms"
        )));
    }
    for arm in &body.arms {
        if !(1..=MAX_WEIGHT).contains(&arm.weight) {
            return Err(ApiError::bad_request(format!(
                "each arm's `weight` must be 1–{MAX_WEIGHT} (version {} has {})",
                arm.version, arm.weight
            )));
        }
    }
    let mut versions: Vec<i64> = body.arms.iter().map(|a| a.version).collect();
    versions.sort_unstable();
    versions.dedup();
    if versions.len() != body.arms.len() {
        return Err(ApiError::bad_request(
            "each arm must be a different version",
        ));
    }
    Ok(())
}

#[utoipa::path(tag = "experiments", params(("tenant" = String, Path)), request_body = CreateExperiment,
    responses((status = 201, body = ExperimentView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such tenant, flow or version"),
        (status = 409, body = ErrorBody, description = "the flow already has a running experiment")))]
#[post("/tenants/{tenant}/experiments")]
async fn create(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<CreateExperiment>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    ctx.tenant(&tenant_id).await?;
    validate(&body)?;
    let store = ctx.store();
    store
        .flow(&tenant_id, &body.flow)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    for arm in &body.arms {
        if arm.version < 1
            || store
                .flow_version(&tenant_id, &body.flow, arm.version)
                .await?
                .is_none()
        {
            return Err(ApiError::NotFound { what: "version" });
        }
    }
    let row = ExperimentRow {
        id: new_id(),
        flow_id: body.flow.clone(),
        name: body.name.trim().to_owned(),
        arms: serde_json::to_string(&body.arms).map_err(|_| ApiError::Internal)?,
        status: "running".into(),
        winner: None,
        created_by: principal.actor(),
        started_at: now_ms(),
        stopped_at: None,
    };
    if !store.create_experiment(&tenant_id, &row).await? {
        return Err(ApiError::Conflict(format!(
            "flow `{}` already has a running experiment; stop it first",
            body.flow
        )));
    }
    // Every node must split new conversations from now on.
    ctx.flow_activated(&tenant_id, &body.flow).await;
    ctx.audit(
        &principal,
        &tenant_id,
        "experiment.create",
        &row.id,
        serde_json::json!({ "flow": row.flow_id, "name": row.name, "arms": body.arms }),
    )
    .await?;
    Ok(HttpResponse::Created().json(view(row)?))
}

#[utoipa::path(tag = "experiments", params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = [ExperimentView]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/experiments")]
async fn list(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<Vec<ExperimentView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let rows = ctx
        .store()
        .list_experiments(&tenant_id, query.flow.as_deref())
        .await?;
    Ok(web::Json(
        rows.into_iter().map(view).collect::<Result<_, _>>()?,
    ))
}

#[utoipa::path(tag = "experiments", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ExperimentDetail), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/experiments/{id}")]
async fn get_one(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ExperimentDetail>, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    let row = found(&ctx, &tenant_id, &id).await?;
    let until = row.stopped_at.unwrap_or(i64::MAX);
    let counts = ctx
        .store()
        .analytics_outcomes_by_version(&tenant_id, &row.flow_id, row.started_at, until)
        .await?;
    let experiment = view(row)?;
    Ok(web::Json(ExperimentDetail {
        results: results(&experiment.arms, &counts),
        experiment,
    }))
}

#[utoipa::path(tag = "experiments", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ExperimentView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "not running")))]
#[post("/tenants/{tenant}/experiments/{id}/stop")]
async fn stop(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ExperimentView>, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    let row = found(&ctx, &tenant_id, &id).await?;
    if !ctx.store().stop_experiment(&tenant_id, &id, None).await? {
        return Err(ApiError::Conflict("the experiment is not running".into()));
    }
    ctx.flow_activated(&tenant_id, &row.flow_id).await;
    ctx.audit(
        &principal,
        &tenant_id,
        "experiment.stop",
        &id,
        serde_json::json!({ "flow": row.flow_id }),
    )
    .await?;
    Ok(web::Json(view(found(&ctx, &tenant_id, &id).await?)?))
}

#[utoipa::path(tag = "experiments", params(("tenant" = String, Path), ("id" = String, Path)),
    request_body = PromoteRequest,
    responses((status = 200, body = ExperimentView, description = "stopped, and the version is the flow's active version"),
        (status = 400, body = ErrorBody, description = "the version is not one of the arms"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[post("/tenants/{tenant}/experiments/{id}/promote")]
async fn promote(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<PromoteRequest>,
) -> Result<web::Json<ExperimentView>, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    let row = found(&ctx, &tenant_id, &id).await?;
    let experiment = view(row.clone())?;
    if !experiment.arms.iter().any(|a| a.version == body.version) {
        return Err(ApiError::bad_request(format!(
            "version {} is not an arm of this experiment",
            body.version
        )));
    }
    let store = ctx.store();
    let before = store
        .flow(&tenant_id, &row.flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    if !store
        .stop_experiment(&tenant_id, &id, Some(body.version))
        .await?
    {
        store
            .set_experiment_winner(&tenant_id, &id, body.version)
            .await?;
    }
    if !store
        .activate_version(&tenant_id, &row.flow_id, body.version)
        .await?
    {
        return Err(ApiError::NotFound { what: "version" });
    }
    ctx.flow_activated(&tenant_id, &row.flow_id).await;
    ctx.audit(
        &principal,
        &tenant_id,
        "experiment.promote",
        &id,
        serde_json::json!({ "flow": row.flow_id, "from": before.active_version, "to": body.version }),
    )
    .await?;
    Ok(web::Json(view(found(&ctx, &tenant_id, &id).await?)?))
}
