//! `GET /v1/admin/tenants/{tenant}/usage`: what the tenant's model calls used and cost
//! over a range of UTC days, summed by day, flow, state, model or conversation; and
//! `GET …/usage/calls`: the metered calls themselves, newest first (viewers and up).

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::store::{DAY_MS, ModelCallRow, UsageGrouping, UsageLine};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(usage_report).service(list_calls);
}

/// The longest range one report covers.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// First UTC day, `YYYY-MM-DD` (default: the first day of the current month).
    pub from: Option<String>,
    /// Last UTC day, inclusive, `YYYY-MM-DD` (default: today). At most 366 days after `from`.
    pub to: Option<String>,
    /// `day` (default), `flow`, `state`, `model` or `conversation`.
    pub group_by: Option<String>,
    /// Groups returned, 1–1000 (default 100); the total always covers every call.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageSums {
    pub calls: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// In millionths of `currency`.
    pub cost_micros: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageGroup {
    /// The day (`YYYY-MM-DD`), flow id, state, model or conversation id; "" for calls
    /// outside a flow or a conversation.
    pub key: String,
    #[serde(flatten)]
    pub sums: UsageSums,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    pub tenant: String,
    /// The price table's currency (`llm.currency`).
    pub currency: String,
    pub from: String,
    pub to: String,
    pub group_by: String,
    pub total: UsageSums,
    /// By day in date order; otherwise the costliest first.
    pub groups: Vec<UsageGroup>,
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), UsageQuery),
    responses((status = 200, body = UsageReport), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/usage")]
async fn usage_report(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<UsageQuery>,
) -> Result<web::Json<UsageReport>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let today = OffsetDateTime::now_utc().date();
    let from = match &query.from {
        Some(text) => parse_day(text, "from")?,
        None => today.replace_day(1).unwrap_or(today),
    };
    let to = match &query.to {
        Some(text) => parse_day(text, "to")?,
        None => today,
    };
    let (first, last) = (day_number(from), day_number(to));
    if last < first {
        return Err(ApiError::bad_request("`to` must not be before `from`"));
    }
    if last - first >= MAX_DAYS {
        return Err(ApiError::bad_request(format!(
            "a report covers at most {MAX_DAYS} days"
        )));
    }
    let group_by = query.group_by.as_deref().unwrap_or("day");
    let grouping = match group_by {
        "day" => UsageGrouping::Day,
        "flow" => UsageGrouping::Flow,
        "state" => UsageGrouping::State,
        "model" => UsageGrouping::Model,
        "conversation" => UsageGrouping::Conversation,
        other => {
            return Err(ApiError::bad_request(format!(
                "`group_by` must be day, flow, state, model or conversation (got {other:?})"
            )));
        }
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 1000"));
    }
    let store = ctx.store();
    let total = store.usage_total(&tenant_id, first, last).await?;
    let lines = store
        .usage_report(&tenant_id, first, last, grouping, limit)
        .await?;
    let groups = lines
        .into_iter()
        .map(|line| {
            let key = if grouping == UsageGrouping::Day {
                line.key.parse().map(day_text).unwrap_or_default()
            } else {
                line.key.clone()
            };
            UsageGroup {
                key,
                sums: sums(&line),
            }
        })
        .collect();
    Ok(web::Json(UsageReport {
        tenant: tenant_id,
        currency: ctx.config.llm.currency.clone(),
        from: day_text(first),
        to: day_text(last),
        group_by: group_by.to_owned(),
        total: sums(&total),
        groups,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CallsQuery {
    /// Only this conversation's calls.
    pub conversation_id: Option<String>,
    /// 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelCallEntry {
    pub id: String,
    pub conversation_id: Option<String>,
    pub flow_id: Option<String>,
    pub flow_version: Option<i64>,
    /// The `llm` state that made the call.
    pub state: Option<String>,
    pub channel: Option<String>,
    /// `chat` (a streamed reply) or `extract`.
    pub kind: String,
    /// `openai` or `offline`.
    pub provider: String,
    pub model: String,
    pub attempt: i64,
    /// `ok`, `error` or `cancelled`.
    pub outcome: String,
    pub error_code: Option<String>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// `provider` (the provider's own report), `counted` (the offline model) or
    /// `estimated` (no report arrived, e.g. a stream cut short).
    pub usage_source: String,
    pub first_token_ms: Option<i64>,
    pub latency_ms: i64,
    pub cost_micros: i64,
    /// Unix milliseconds.
    pub started_at: i64,
}

#[utoipa::path(tag = "usage", params(("tenant" = String, Path), CallsQuery),
    responses((status = 200, body = [ModelCallEntry]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/usage/calls")]
async fn list_calls(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<CallsQuery>,
) -> Result<web::Json<Vec<ModelCallEntry>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 500"));
    }
    let rows = ctx
        .store()
        .model_calls(&tenant_id, query.conversation_id.as_deref(), limit)
        .await?;
    Ok(web::Json(rows.into_iter().map(entry).collect()))
}

fn entry(r: ModelCallRow) -> ModelCallEntry {
    ModelCallEntry {
        id: r.id,
        conversation_id: r.conversation_id,
        flow_id: r.flow_id,
        flow_version: r.flow_version,
        state: r.state,
        channel: r.channel,
        kind: r.kind,
        provider: r.provider,
        model: r.model,
        attempt: r.attempt,
        outcome: r.outcome,
        error_code: r.error_code,
        tokens_in: r.tokens_in,
        tokens_out: r.tokens_out,
        usage_source: r.usage_source,
        first_token_ms: r.first_token_ms,
        latency_ms: r.latency_ms,
        cost_micros: r.cost_micros,
        started_at: r.started_at,
    }
}

fn sums(line: &UsageLine) -> UsageSums {
    UsageSums {
        calls: line.calls,
        tokens_in: line.tokens_in,
        tokens_out: line.tokens_out,
        cost_micros: line.cost_micros,
    }
}

/// `YYYY-MM-DD` as a calendar date, or a 400 naming the parameter.
pub(super) fn parse_day(text: &str, name: &str) -> Result<Date, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "`{name}` must be a date, YYYY-MM-DD (got {text:?})"
        ))
    };
    let mut parts = text.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    let day: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

/// Days since the Unix epoch.
pub(super) fn day_number(date: Date) -> i64 {
    let midnight = date.midnight().assume_utc().unix_timestamp() * 1000;
    midnight.div_euclid(DAY_MS)
}

/// `YYYY-MM-DD` of a day number.
fn day_text(day: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(day * 86_400) {
        Ok(at) => {
            let date = at.date();
            format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            )
        }
        Err(_) => day.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_bad_dates_are_refused() {
        let date = parse_day("2026-11-30", "from").unwrap();
        assert_eq!(day_text(day_number(date)), "2026-11-30");
        assert_eq!(day_number(parse_day("1970-01-02", "from").unwrap()), 1);
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "26-11-30",
            "2026-11",
            "today",
            "2026-1-01",
        ] {
            assert!(parse_day(bad, "from").is_err(), "{bad}");
        }
    }
}
