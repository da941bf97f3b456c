//! A flow's saved test cases: `GET …/flows/{flow}/test-cases` (viewer), `PUT` and
//! `DELETE …/test-cases/{name}` (editor), and `POST …/test-cases/run` (viewer), which
//! replays every case's user turns through the simulator against a flow (posted source,
//! a version, or the active version) and says which still produce their bot messages.
//! Nothing a run does is stored.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use super::simulate::{compiled, stored_flow, tenant_knowledge};
use crate::simulate::{Stub, simulate_with_knowledge};
use crate::store::TestCaseRow;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_cases)
        .service(run_cases)
        .service(put_case)
        .service(delete_case);
}

const MAX_TURNS: usize = 200;
const MAX_CASES: usize = 200;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCaseBody {
    /// The user's messages, in order (1–200).
    pub turns: Vec<String>,
    /// The bot messages they must produce, in order.
    pub expected: Vec<String>,
    /// What each adaptor answers, as in `simulate`.
    #[serde(default)]
    pub adaptor_stubs: BTreeMap<String, Stub>,
    /// The conversation it was saved from, if any.
    #[serde(default)]
    pub conversation_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestCaseView {
    pub name: String,
    #[serde(flatten)]
    pub case: TestCaseBody,
    pub created_by: String,
    pub updated_at: i64,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Run against this flow text (the editor's) instead of a stored version.
    pub source: Option<String>,
    /// Run against this version; default: the active version (or the draft without one).
    pub version: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    pub expected: Vec<String>,
    /// The bot messages the run produced.
    pub actual: Vec<String>,
    /// 0-based index of the first bot message that differs (none when passed).
    pub first_difference: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunReport {
    pub passed: usize,
    pub failed: usize,
    pub cases: Vec<CaseResult>,
}

fn view(row: TestCaseRow) -> Result<TestCaseView, ApiError> {
    let corrupt = |_| ApiError::Internal;
    Ok(TestCaseView {
        case: TestCaseBody {
            turns: serde_json::from_str(&row.turns).map_err(corrupt)?,
            expected: serde_json::from_str(&row.expected).map_err(corrupt)?,
            adaptor_stubs: serde_json::from_str(&row.adaptor_stubs).map_err(corrupt)?,
            conversation_id: row.conversation_id,
        },
        name: row.name,
        created_by: row.created_by,
        updated_at: row.updated_at,
    })
}

/// A test case name: 1–80 characters of letters, digits, spaces, `-`, `_` and `.`.
fn is_case_name(name: &str) -> bool {
    (1..=80).contains(&name.chars().count())
        && name.trim() == name
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    responses((status = 200, body = [TestCaseView]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/flows/{flow}/test-cases")]
async fn list_cases(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Vec<TestCaseView>>, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let rows = ctx.store().test_cases(&tenant_id, &flow_id).await?;
    Ok(web::Json(
        rows.into_iter().map(view).collect::<Result<_, _>>()?,
    ))
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path), ("name" = String, Path)),
    request_body = TestCaseBody,
    responses((status = 200, body = TestCaseView), (status = 201, body = TestCaseView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[put("/tenants/{tenant}/flows/{flow}/test-cases/{name}")]
async fn put_case(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String, String)>,
    body: web::Json<TestCaseBody>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, flow_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    ctx.tenant(&tenant_id).await?;
    ctx.store()
        .flow(&tenant_id, &flow_id)
        .await?
        .ok_or(ApiError::NotFound { what: "flow" })?;
    if !is_case_name(&name) {
        return Err(ApiError::bad_request(
            "a test case name is 1 to 80 letters, digits, spaces, `-`, `_` or `.`",
        ));
    }
    let case = body.into_inner();
    if case.turns.is_empty() || case.turns.len() > MAX_TURNS {
        return Err(ApiError::bad_request(format!(
            "`turns` must hold 1 to {MAX_TURNS} messages"
        )));
    }
    if case.expected.len() > 4 * MAX_TURNS {
        return Err(ApiError::bad_request("`expected` is too long"));
    }
    let existing = ctx.store().test_cases(&tenant_id, &flow_id).await?;
    if existing.len() >= MAX_CASES && !existing.iter().any(|c| c.name == name) {
        return Err(ApiError::bad_request(format!(
            "a flow holds at most {MAX_CASES} test cases"
        )));
    }
    let row = TestCaseRow {
        tenant_id: tenant_id.clone(),
        flow_id: flow_id.clone(),
        name: name.clone(),
        turns: serde_json::json!(case.turns).to_string(),
        expected: serde_json::json!(case.expected).to_string(),
        adaptor_stubs: serde_json::json!(case.adaptor_stubs).to_string(),
        conversation_id: case.conversation_id.clone(),
        created_by: principal.actor(),
        updated_at: crate::store::now_ms(),
    };
    let created = ctx.store().put_test_case(&row).await?;
    ctx.audit(
        &principal,
        &tenant_id,
        "flow.test_case.put",
        &format!("{flow_id}/{name}"),
        serde_json::json!({ "turns": case.turns.len() }),
    )
    .await?;
    let saved = TestCaseView {
        name,
        case,
        created_by: row.created_by,
        updated_at: row.updated_at,
    };
    Ok(if created {
        HttpResponse::Created().json(saved)
    } else {
        HttpResponse::Ok().json(saved)
    })
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path), ("name" = String, Path)),
    responses((status = 204, description = "the test case is deleted"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/flows/{flow}/test-cases/{name}")]
async fn delete_case(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, flow_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    ctx.tenant(&tenant_id).await?;
    if !ctx
        .store()
        .delete_test_case(&tenant_id, &flow_id, &name)
        .await?
    {
        return Err(ApiError::NotFound { what: "test case" });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "flow.test_case.delete",
        &format!("{flow_id}/{name}"),
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "flows", params(("tenant" = String, Path), ("flow" = String, Path)),
    request_body = RunRequest,
    responses((status = 200, body = RunReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "the flow does not compile")))]
#[post("/tenants/{tenant}/flows/{flow}/test-cases/run")]
async fn run_cases(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Option<web::Json<RunRequest>>,
) -> Result<web::Json<RunReport>, ApiError> {
    let (tenant_id, flow_id) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let request = body.map(web::Json::into_inner).unwrap_or_default();
    let flow = match (&request.source, request.version) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "send at most one of `source` and `version`",
            ));
        }
        (Some(source), None) => {
            compiled(&ctx, &tenant_id, &format!("{flow_id}.yaml"), source).await?
        }
        (None, version) => stored_flow(&ctx, &tenant_id, &flow_id, version).await?,
    };
    let mut cases = Vec::new();
    let knowledge = tenant_knowledge(&ctx, &tenant_id);
    for row in ctx.store().test_cases(&tenant_id, &flow_id).await? {
        let case = view(row)?;
        let result = simulate_with_knowledge(
            &flow,
            &case.case.turns,
            &case.case.adaptor_stubs,
            &[],
            Some(&knowledge),
        )
        .await;
        let actual: Vec<String> = result
            .transcript
            .into_iter()
            .filter(|m| m.role == "bot")
            .map(|m| m.text)
            .collect();
        let expected = case.case.expected;
        let first_difference =
            (0..expected.len().max(actual.len())).find(|&i| expected.get(i) != actual.get(i));
        cases.push(CaseResult {
            name: case.name,
            passed: first_difference.is_none(),
            expected,
            actual,
            first_difference,
        });
    }
    let passed = cases.iter().filter(|c| c.passed).count();
    Ok(web::Json(RunReport {
        passed,
        failed: cases.len() - passed,
        cases,
    }))
}
