//! Human agents and queues (docs/agents.md):
//! - `POST|GET /v1/admin/tenants/{tenant}/agents`, `PATCH|DELETE …/agents/{agent}`
//!   (owner to change, viewer to list): an agent's token is shown once, at creation;
//!   deleting an agent puts its conversations back in their queues;
//! - `GET …/queues`, `PUT …/queues/{queue}`: a queue's response targets (SLA);
//! - `GET …/handoffs`: every conversation with a human now, for supervisors.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::agents::token;
use crate::dialog::is_queue_name;
use crate::store::{AgentChanges, AgentRow, HandoffRow, NewAgent, QueueRow};
use crate::transcript::new_id;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_agent)
        .service(list_agents)
        .service(update_agent)
        .service(delete_agent)
        .service(list_queues)
        .service(put_queue)
        .service(list_handoffs);
}

const MAX_CAPACITY: i64 = 1_000;
const MAX_QUEUES: usize = 50;
const MAX_TARGET_SECS: i64 = 30 * 86_400;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgentBody {
    /// The display name end users see with the agent's messages (1–80 characters).
    pub name: String,
    /// The queues the agent serves (names as flows' `handoff.queue`).
    pub queues: Vec<String>,
    /// The most conversations assigned at once (1–1000); default 5.
    pub capacity: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAgent {
    #[serde(flatten)]
    pub agent: AgentRow,
    /// The agent's sign-in token; shown only now.
    pub token: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub queues: Option<Vec<String>>,
    pub capacity: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueBody {
    /// Seconds a handed-off conversation may wait for its first agent reply.
    pub first_response_secs: Option<i64>,
    /// Seconds a user may wait for the agent's next reply.
    pub next_response_secs: Option<i64>,
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "`name` must be 1 to 80 characters, without control characters",
        ));
    }
    Ok(name.to_owned())
}

fn check_queues(queues: &[String]) -> Result<(), ApiError> {
    if queues.len() > MAX_QUEUES {
        return Err(ApiError::bad_request("`queues`: at most 50"));
    }
    if let Some(bad) = queues.iter().find(|q| !is_queue_name(q)) {
        return Err(ApiError::bad_request(format!(
            "`queues`: `{bad}` is not a queue name ([a-z0-9_-]{{1,64}})"
        )));
    }
    Ok(())
}

fn check_capacity(capacity: i64) -> Result<(), ApiError> {
    if !(1..=MAX_CAPACITY).contains(&capacity) {
        return Err(ApiError::bad_request(
            "`capacity` must be between 1 and 1000",
        ));
    }
    Ok(())
}

#[utoipa::path(tag = "agents", params(("tenant" = String, Path)), request_body = NewAgentBody,
    responses((status = 201, body = CreatedAgent), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/tenants/{tenant}/agents")]
async fn create_agent(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    body: web::Json<NewAgentBody>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let body = body.into_inner();
    let name = check_name(&body.name)?;
    check_queues(&body.queues)?;
    let capacity = body.capacity.unwrap_or(5);
    check_capacity(capacity)?;
    let id = new_id();
    let (secret, prefix) = token::generate();
    ctx.store()
        .create_agent(&NewAgent {
            id: &id,
            tenant_id: &tenant_id,
            name: &name,
            queues: &body.queues,
            capacity,
            token_hash: &token::digest(&secret),
            token_prefix: &prefix,
        })
        .await?;
    let agent = ctx
        .store()
        .agent(&tenant_id, &id)
        .await?
        .ok_or(ApiError::Internal)?;
    ctx.audit(
        &principal,
        &tenant_id,
        "agent.create",
        &id,
        serde_json::json!({ "name": name, "queues": body.queues, "capacity": capacity }),
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedAgent {
        agent,
        token: secret,
    }))
}

#[utoipa::path(tag = "agents", params(("tenant" = String, Path)),
    responses((status = 200, body = Vec<AgentRow>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/agents")]
async fn list_agents(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<AgentRow>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    Ok(web::Json(ctx.store().agents(&tenant_id).await?))
}

#[utoipa::path(tag = "agents", params(("tenant" = String, Path), ("agent" = String, Path)),
    request_body = AgentPatch,
    responses((status = 200, body = AgentRow), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[patch("/tenants/{tenant}/agents/{agent}")]
async fn update_agent(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<AgentPatch>,
) -> Result<web::Json<AgentRow>, ApiError> {
    let (tenant_id, agent_id) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let body = body.into_inner();
    let name = body.name.as_deref().map(check_name).transpose()?;
    if let Some(queues) = &body.queues {
        check_queues(queues)?;
    }
    if let Some(capacity) = body.capacity {
        check_capacity(capacity)?;
    }
    let changes = AgentChanges {
        name,
        queues: body.queues,
        capacity: body.capacity,
    };
    if !ctx
        .store()
        .update_agent(&tenant_id, &agent_id, &changes)
        .await?
    {
        return Err(ApiError::NotFound { what: "agent" });
    }
    ctx.audit(
        &principal,
        &tenant_id,
        "agent.update",
        &agent_id,
        serde_json::json!({ "name": changes.name, "queues": changes.queues, "capacity": changes.capacity }),
    )
    .await?;
    let agent = ctx.store().agent(&tenant_id, &agent_id).await?;
    Ok(web::Json(
        agent.ok_or(ApiError::NotFound { what: "agent" })?,
    ))
}

#[utoipa::path(tag = "agents", params(("tenant" = String, Path), ("agent" = String, Path)),
    responses((status = 204, description = "deleted; its conversations are back in their queues"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/agents/{agent}")]
async fn delete_agent(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, agent_id) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    let requeued = ctx
        .store()
        .delete_agent(&tenant_id, &agent_id)
        .await?
        .ok_or(ApiError::NotFound { what: "agent" })?;
    ctx.audit(
        &principal,
        &tenant_id,
        "agent.delete",
        &agent_id,
        serde_json::json!({ "requeued": requeued.len() }),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "agents", params(("tenant" = String, Path)),
    responses((status = 200, body = Vec<QueueRow>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/queues")]
async fn list_queues(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<QueueRow>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    Ok(web::Json(ctx.store().queues(&tenant_id).await?))
}

#[utoipa::path(tag = "agents", params(("tenant" = String, Path), ("queue" = String, Path)),
    request_body = QueueBody,
    responses((status = 200, body = QueueRow), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[put("/tenants/{tenant}/queues/{queue}")]
async fn put_queue(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<QueueBody>,
) -> Result<web::Json<QueueRow>, ApiError> {
    let (tenant_id, name) = path.into_inner();
    principal.require(&tenant_id, Role::Owner)?;
    ctx.tenant(&tenant_id).await?;
    if !is_queue_name(&name) {
        return Err(ApiError::bad_request(
            "the queue name must match [a-z0-9_-]{1,64}",
        ));
    }
    let body = body.into_inner();
    for (field, value) in [
        ("first_response_secs", body.first_response_secs),
        ("next_response_secs", body.next_response_secs),
    ] {
        if value.is_some_and(|v| !(1..=MAX_TARGET_SECS).contains(&v)) {
            return Err(ApiError::bad_request(format!(
                "`{field}` must be between 1 and 2592000 (30 days)"
            )));
        }
    }
    let queue = QueueRow {
        name,
        first_response_secs: body.first_response_secs,
        next_response_secs: body.next_response_secs,
    };
    ctx.store().put_queue(&tenant_id, &queue).await?;
    ctx.audit(
        &principal,
        &tenant_id,
        "queue.put",
        &queue.name,
        serde_json::json!({ "first_response_secs": queue.first_response_secs,
            "next_response_secs": queue.next_response_secs }),
    )
    .await?;
    Ok(web::Json(queue))
}

#[utoipa::path(tag = "agents", params(("tenant" = String, Path)),
    responses((status = 200, body = Vec<HandoffRow>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/handoffs")]
async fn list_handoffs(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<Vec<HandoffRow>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    Ok(web::Json(
        ctx.store().all_handoffs(&tenant_id, 1_000).await?,
    ))
}
