//! `GET /v1/admin/tenants/{tenant}/analytics`: conversation analytics over a range of
//! UTC days (the day each conversation started), filtered by flow, version and channel,
//! grouped by day, flow, version or channel, with per-state lines; and `…/analytics.csv`,
//! the same as CSV. Viewers and up. docs/analytics.md defines every number.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use super::usage::{day_number, parse_day};
use crate::analytics::report::{self, Figures, Grouping, day_text};
use crate::store::AnalyticsFilter;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(analytics_report).service(analytics_csv);
}

/// The longest range one report covers.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// First UTC day, `YYYY-MM-DD` (default: the first day of the current month).
    pub from: Option<String>,
    /// Last UTC day, inclusive, `YYYY-MM-DD` (default: today). At most 366 days after `from`.
    pub to: Option<String>,
    /// Only this flow.
    pub flow: Option<String>,
    /// Only this flow version (0 or more; previews are never counted).
    pub version: Option<i64>,
    /// Only this channel: `webchat`, `whatsapp`, `slack` or `teams`.
    pub channel: Option<String>,
    /// `day` (default), `flow`, `version`, `channel`, or `state` (per-state lines only).
    pub group_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsReport {
    pub tenant: String,
    /// The price table's currency (`llm.currency`); costs are in millionths of it.
    pub currency: String,
    pub from: String,
    pub to: String,
    pub flow: Option<String>,
    pub version: Option<i64>,
    pub channel: Option<String>,
    pub group_by: String,
    /// Silence (while waiting for input) after which a conversation counts as abandoned.
    pub abandon_after_secs: u64,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The checked query.
struct Request {
    filter: AnalyticsFilter,
    grouping: Grouping,
    group_by: String,
}

fn request(query: &AnalyticsQuery) -> Result<Request, ApiError> {
    let today = OffsetDateTime::now_utc().date();
    let from = match &query.from {
        Some(text) => parse_day(text, "from")?,
        None => today.replace_day(1).unwrap_or(today),
    };
    let to = match &query.to {
        Some(text) => parse_day(text, "to")?,
        None => today,
    };
    let (first_day, last_day) = (day_number(from), day_number(to));
    if last_day < first_day {
        return Err(ApiError::bad_request("`to` must not be before `from`"));
    }
    if last_day - first_day >= MAX_DAYS {
        return Err(ApiError::bad_request(format!(
            "a report covers at most {MAX_DAYS} days"
        )));
    }
    if query.version.is_some_and(|v| v < 0) {
        return Err(ApiError::bad_request(
            "`version` must be 0 or more (previews are not counted)",
        ));
    }
    if let Some(channel) = &query.channel
        && !["webchat", "whatsapp", "slack", "teams"].contains(&channel.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "`channel` must be webchat, whatsapp, slack or teams (got {channel:?})"
        )));
    }
    let group_by = query.group_by.clone().unwrap_or_else(|| "day".into());
    let grouping = Grouping::parse(&group_by).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`group_by` must be day, flow, version, channel or state (got {group_by:?})"
        ))
    })?;
    Ok(Request {
        filter: AnalyticsFilter {
            first_day,
            last_day,
            flow_id: query.flow.clone(),
            flow_version: query.version,
            channel: query.channel.clone(),
        },
        grouping,
        group_by,
    })
}

async fn figures(
    ctx: &AdminContext,
    tenant_id: &str,
    request: &Request,
) -> Result<Figures, ApiError> {
    let store = ctx.store();
    let column = request.grouping.column();
    let (groups, states, latency) = futures_util::try_join!(
        store.analytics_group_sums(tenant_id, &request.filter, column),
        store.analytics_state_sums(tenant_id, &request.filter),
        store.analytics_latency_sums(tenant_id, &request.filter, column),
    )?;
    Ok(report::build(&groups, &states, &latency, request.grouping))
}

#[utoipa::path(tag = "analytics", params(("tenant" = String, Path), AnalyticsQuery),
    responses((status = 200, body = AnalyticsReport), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/analytics")]
async fn analytics_report(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<AnalyticsQuery>,
) -> Result<web::Json<AnalyticsReport>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let request = request(&query)?;
    let figures = figures(&ctx, &tenant_id, &request).await?;
    Ok(web::Json(AnalyticsReport {
        tenant: tenant_id,
        currency: ctx.config.llm.currency.clone(),
        from: day_text(request.filter.first_day),
        to: day_text(request.filter.last_day),
        flow: request.filter.flow_id,
        version: request.filter.flow_version,
        channel: request.filter.channel,
        group_by: request.group_by,
        abandon_after_secs: ctx.config.analytics.abandon_after_secs,
        figures,
    }))
}

#[utoipa::path(tag = "analytics", params(("tenant" = String, Path), AnalyticsQuery),
    responses((status = 200, content_type = "text/csv", body = String,
            description = "one line per group (per state for `group_by=state`), with a header"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/analytics.csv")]
async fn analytics_csv(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<AnalyticsQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let request = request(&query)?;
    let figures = figures(&ctx, &tenant_id, &request).await?;
    let file = format!(
        "analytics-{}-{}-{}.csv",
        request.group_by,
        day_text(request.filter.first_day),
        day_text(request.filter.last_day)
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .body(report::to_csv(&figures, request.grouping)))
}
