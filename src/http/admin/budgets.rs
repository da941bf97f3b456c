//! Budgets and credits of model spend:
//! `GET /tenants/{tenant}/budgets` (viewer) with each budget's spend this period,
//! `PUT|DELETE /tenants/{tenant}/budgets/{scope}` (owner; scope `tenant` or
//! `flow:<id>`), `POST /tenants/{tenant}/credits` (operator: a top-up) and
//! `GET /tenants/{tenant}/credits/ledger` (viewer).

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::governance::budgets::{period_key, scope_of};
use crate::store::{BudgetRow, now_ms};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_budgets)
        .service(put_budget)
        .service(delete_budget)
        .service(top_up)
        .service(ledger);
}

/// Longest message shown to users when a budget stops a call.
const MAX_MESSAGE_CHARS: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBudget {
    /// `day` or `month` (UTC), or `credits` (prepaid, tenant scope only).
    pub period: String,
    /// The period's limit in micro-units of the currency (required for day and month).
    pub limit_micros: Option<i64>,
    /// Enforce the limit before each call (default true); false only alerts.
    pub hard: Option<bool>,
    /// Percents of the allowance that raise `budget.threshold`, once per period
    /// (default `[80, 100]`).
    pub thresholds: Option<Vec<i64>>,
    /// What a user is told when the budget stops a call.
    pub message: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetView {
    /// `tenant` or `flow:<id>`.
    pub scope: String,
    pub period: String,
    pub limit_micros: Option<i64>,
    pub hard: bool,
    /// Credits topped up in total (`credits` budgets).
    pub credit_micros: i64,
    pub thresholds: Vec<i64>,
    pub message: Option<String>,
    /// The current period: `2026-11-30`, `2026-11` or `credits`.
    pub period_key: String,
    pub spent_micros: i64,
    /// Held by calls in flight.
    pub reserved_micros: i64,
    /// What is left of the limit or the credits (may be negative by at most one call).
    pub remaining_micros: Option<i64>,
    pub updated_at: i64,
    pub updated_by: String,
}

async fn view(ctx: &AdminContext, row: BudgetRow) -> Result<BudgetView, ApiError> {
    let key = period_key(&row.period, time::OffsetDateTime::now_utc());
    let spend = ctx
        .store()
        .spend(&row.tenant_id, &row.flow_id, &key)
        .await?;
    // Calls in flight are held in the live count (in process or in Redis).
    let live = ctx
        .runtime
        .services()
        .budgets
        .live(&row.tenant_id, &row.flow_id, &key)
        .await;
    let reserved = live.map_or(spend.reserved_micros, |(_, held)| {
        held + spend.reserved_micros
    });
    Ok(BudgetView {
        scope: scope_of(&row.flow_id),
        remaining_micros: row.allowance().map(|a| a - spend.spent_micros),
        hard: row.enforced(),
        thresholds: serde_json::from_str(&row.thresholds).unwrap_or_default(),
        period: row.period,
        limit_micros: row.limit_micros,
        credit_micros: row.credit_micros,
        message: row.message,
        period_key: key,
        spent_micros: spend.spent_micros,
        reserved_micros: reserved,
        updated_at: row.updated_at,
        updated_by: row.updated_by,
    })
}

/// `tenant` → '', `flow:<id>` → the flow id.
fn flow_of(scope: &str) -> Result<String, ApiError> {
    match scope.strip_prefix("flow:") {
        _ if scope == "tenant" => Ok(String::new()),
        Some(flow) if !flow.is_empty() => Ok(flow.to_owned()),
        _ => Err(ApiError::bad_request(
            "the scope must be `tenant` or `flow:<flow id>`",
        )),
    }
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)),
    responses((status = 200, body = [BudgetView]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/budgets")]
async fn list_budgets(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<BudgetView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let mut out = Vec::new();
    for row in ctx.store().list_budgets(&tenant_id).await? {
        out.push(view(&ctx, row).await?);
    }
    Ok(web::Json(out))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), ("scope" = String, Path)),
    request_body = PutBudget,
    responses((status = 200, body = BudgetView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[put("/tenants/{tenant}/budgets/{scope}")]
async fn put_budget(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<PutBudget>,
) -> Result<web::Json<BudgetView>, ApiError> {
    let (tenant_id, scope) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let flow_id = flow_of(&scope)?;
    let body = body.into_inner();
    match body.period.as_str() {
        "day" | "month" => match body.limit_micros {
            Some(limit) if limit > 0 => {}
            _ => {
                return Err(ApiError::bad_request(
                    "`limit_micros` (> 0) is required for a day or month budget",
                ));
            }
        },
        "credits" if !flow_id.is_empty() => {
            return Err(ApiError::bad_request(
                "credits are for the tenant scope only",
            ));
        }
        "credits" if body.limit_micros.is_some() => {
            return Err(ApiError::bad_request(
                "a credits budget has no `limit_micros`: top it up with POST …/credits",
            ));
        }
        "credits" => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "`period` must be day, month or credits (got {other:?})"
            )));
        }
    }
    let mut thresholds = body.thresholds.unwrap_or_else(|| vec![80, 100]);
    thresholds.sort_unstable();
    thresholds.dedup();
    if thresholds.len() > 10 || thresholds.iter().any(|t| !(1..=100).contains(t)) {
        return Err(ApiError::bad_request(
            "`thresholds` are at most 10 percents, each from 1 to 100",
        ));
    }
    if body
        .message
        .as_ref()
        .is_some_and(|m| m.chars().count() > MAX_MESSAGE_CHARS)
    {
        return Err(ApiError::bad_request(format!(
            "`message` is at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    if !flow_id.is_empty() && ctx.store().flow(&tenant_id, &flow_id).await?.is_none() {
        return Err(ApiError::NotFound { what: "flow" });
    }
    let row = BudgetRow {
        tenant_id: tenant_id.clone(),
        flow_id,
        period: body.period,
        limit_micros: body.limit_micros,
        hard: i64::from(body.hard.unwrap_or(true)),
        credit_micros: 0,
        thresholds: serde_json::to_string(&thresholds).unwrap_or_else(|_| "[]".into()),
        message: body.message.filter(|m| !m.trim().is_empty()),
        updated_at: now_ms(),
        updated_by: principal.actor(),
    };
    ctx.store().put_budget(&row).await?;
    ctx.runtime.services().budgets.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "budget.put",
        &scope,
        serde_json::json!({"period": row.period, "limit_micros": row.limit_micros,
            "hard": row.hard != 0, "thresholds": thresholds}),
    )
    .await?;
    let stored = ctx
        .store()
        .list_budgets(&tenant_id)
        .await?
        .into_iter()
        .find(|b| b.flow_id == row.flow_id)
        .ok_or(ApiError::NotFound { what: "budget" })?;
    Ok(web::Json(view(&ctx, stored).await?))
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), ("scope" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/budgets/{scope}")]
async fn delete_budget(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, scope) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let flow_id = flow_of(&scope)?;
    if !ctx.store().delete_budget(&tenant_id, &flow_id).await? {
        return Err(ApiError::NotFound { what: "budget" });
    }
    ctx.runtime.services().budgets.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "budget.delete",
        &scope,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUp {
    /// Micro-units of the currency to add (> 0).
    pub amount_micros: i64,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Credits {
    /// Topped up in total.
    pub credit_micros: i64,
    /// What is left: topped up minus spent.
    pub balance_micros: i64,
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path)), request_body = TopUp,
    responses((status = 200, body = Credits), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/tenants/{tenant}/credits")]
async fn top_up(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<TopUp>,
) -> Result<web::Json<Credits>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require_operator()?;
    ctx.tenant(&tenant_id).await?;
    let body = body.into_inner();
    if body.amount_micros <= 0 {
        return Err(ApiError::bad_request("`amount_micros` must be > 0"));
    }
    let actor = principal.actor();
    let Some(total) = ctx
        .store()
        .top_up(&tenant_id, body.amount_micros, &actor, body.note.as_deref())
        .await?
    else {
        return Err(ApiError::Conflict(
            "the tenant has no credits budget: PUT …/budgets/tenant with period credits first"
                .into(),
        ));
    };
    ctx.runtime.services().budgets.forget(&tenant_id);
    ctx.audit(
        &principal,
        &tenant_id,
        "credits.top_up",
        &tenant_id,
        serde_json::json!({"amount_micros": body.amount_micros, "note": body.note}),
    )
    .await?;
    let spend = ctx.store().spend(&tenant_id, "", "credits").await?;
    Ok(web::Json(Credits {
        credit_micros: total,
        balance_micros: total - spend.spent_micros,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    pub id: String,
    /// Positive for a top-up, negative for a model call's debit.
    pub amount_micros: i64,
    /// `topup` or `debit`.
    pub kind: String,
    /// Who: `operator`, `key:<id>`, or `model` for debits.
    pub actor: String,
    pub note: Option<String>,
    /// The model call a debit pays for (`GET …/usage/calls`).
    pub reference: Option<String>,
    pub created_at: i64,
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), LedgerQuery),
    responses((status = 200, body = [LedgerEntry]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/credits/ledger")]
async fn ledger(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<LedgerQuery>,
) -> Result<web::Json<Vec<LedgerEntry>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 500"));
    }
    let rows = ctx.store().credit_ledger(&tenant_id, limit).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| LedgerEntry {
                id: r.id,
                amount_micros: r.amount_micros,
                kind: r.kind,
                actor: r.actor,
                note: r.note,
                reference: r.reference,
                created_at: r.created_at,
            })
            .collect(),
    ))
}
