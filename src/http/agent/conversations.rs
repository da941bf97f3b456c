//! The agent's own routes: who am I and my presence, my inbox, one conversation (its
//! handoff, the slots the flow collected and the transcript, notes included), and the
//! actions: claim, message, note, transfer, resolve, take over.

use actix_web::{HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::SignedIn;
use crate::agents::actions::{self, TransferTo};
use crate::agents::presence_entry;
use crate::agents::summary::{SummaryError, summarize};
use crate::http::admin::AdminContext;
use crate::http::admin::error::{ApiError, ErrorBody};
use crate::llm::LlmError;
use crate::store::{AgentRow, HandoffRow, InboxView};
use crate::turn::PersistedState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(me)
        .service(presence)
        .service(inbox)
        .service(conversation)
        .service(claim)
        .service(message)
        .service(note)
        .service(transfer)
        .service(resolve)
        .service(take_over)
        .service(summary);
}

/// Messages of a conversation shown with it.
const RECENT: i64 = 50;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    /// `online` (takes conversations), `away` (online, takes none) or `offline`.
    pub status: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// `unassigned` (waiting in my queues), `mine`, or `all` (both; the default).
    pub view: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentMessageView {
    pub seq: i64,
    pub message_id: String,
    /// `user`, `bot`, `agent`, `system` or `note`.
    pub role: String,
    pub text: String,
    pub created_at: i64,
    /// An agent's name (messages and notes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

impl From<crate::transcript::Message> for AgentMessageView {
    fn from(m: crate::transcript::Message) -> Self {
        Self {
            seq: m.seq,
            message_id: m.message_id,
            role: m.role.as_str().to_owned(),
            text: m.text,
            created_at: m.created_at,
            author: m.meta.author,
        }
    }
}

/// What an agent sees of a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentConversation {
    pub handoff: HandoffRow,
    /// The flow state it was handed off in.
    pub state: Option<String>,
    /// The slots the flow collected.
    #[schema(value_type = Object)]
    pub slots: serde_json::Map<String, serde_json::Value>,
    /// The last messages, oldest first (private notes included).
    pub messages: Vec<AgentMessageView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    /// 1–4000 characters.
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// Another agent of the tenant (takes it whatever its load).
    pub agent_id: Option<String>,
    /// A queue, where it waits unassigned.
    pub queue: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// The flow state the bot resumes at; default: where the flow goes after its
    /// handoff (a taken-over question is asked again).
    pub state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    /// What the customer wants, what happened, what is left: from the model gateway.
    pub summary: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stored {
    pub message_id: String,
    pub seq: i64,
}

fn check_text(text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() || text.chars().count() > 4_000 {
        return Err(ApiError::bad_request("`text` must be 1 to 4000 characters"));
    }
    if text.contains('\0') {
        return Err(ApiError::InvalidText(crate::transcript::NUL_REFUSED.into()));
    }
    Ok(())
}

#[utoipa::path(tag = "agent", responses((status = 200, body = AgentRow), (status = 401, body = ErrorBody)))]
#[get("/me")]
async fn me(agent: SignedIn) -> web::Json<AgentRow> {
    web::Json(agent.0)
}

/// Announces the agent's presence over HTTP (it lapses after two heartbeats unless
/// announced again); the agent WebSocket keeps it for as long as it is open.
#[utoipa::path(tag = "agent", request_body = PresenceBody,
    responses((status = 204, description = "announced"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[put("/presence")]
async fn presence(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    body: web::Json<PresenceBody>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent.0;
    let cluster = &ctx.runtime.services().cluster;
    match body.status.as_str() {
        "offline" => cluster
            .presence()
            .offline(&agent.tenant_id, &format!("agent:{}", agent.id)),
        status @ ("online" | "away") => cluster.presence().online(
            &agent.tenant_id,
            presence_entry(
                &agent,
                format!("agent:{}", agent.id),
                cluster.node_id(),
                status,
            ),
            false,
        ),
        _ => {
            return Err(ApiError::bad_request(
                "`status` must be online, away or offline",
            ));
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "agent", params(InboxQuery),
    responses((status = 200, body = Vec<HandoffRow>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[get("/inbox")]
async fn inbox(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    query: web::Query<InboxQuery>,
) -> Result<web::Json<Vec<HandoffRow>>, ApiError> {
    let agent = agent.0;
    let view = match query.view.as_deref() {
        None | Some("all") => InboxView::All,
        Some("mine") => InboxView::Mine,
        Some("unassigned") => InboxView::Unassigned,
        Some(_) => {
            return Err(ApiError::bad_request(
                "`view` must be unassigned, mine or all",
            ));
        }
    };
    Ok(web::Json(
        ctx.store()
            .inbox(&agent.tenant_id, &agent.id, &agent.queues, view, 1_000)
            .await?,
    ))
}

#[utoipa::path(tag = "agent", params(("id" = String, Path)),
    responses((status = 200, body = AgentConversation), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/conversations/{id}")]
async fn conversation(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    path: web::Path<String>,
) -> Result<web::Json<AgentConversation>, ApiError> {
    let (agent, id) = (agent.0, path.into_inner());
    let handoff = actions::visible(&ctx.runtime, &agent, &id).await?;
    let store = ctx.store();
    let row = store
        .conversation(&agent.tenant_id, &id)
        .await?
        .ok_or(ApiError::NotFound {
            what: "conversation",
        })?;
    let persisted: PersistedState = serde_json::from_str(&row.dialog_state).unwrap_or_default();
    let messages = store
        .recent_events(&agent.tenant_id, &id, RECENT)
        .await?
        .into_iter()
        .map(AgentMessageView::from)
        .collect();
    Ok(web::Json(AgentConversation {
        handoff,
        state: persisted.dialog.status.state_name().map(str::to_owned),
        slots: persisted.dialog.slots.into_iter().collect(),
        messages,
    }))
}

#[utoipa::path(tag = "agent", params(("id" = String, Path)),
    responses((status = 204, description = "the conversation is the agent's"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "assigned to another agent, or the agent is at capacity")))]
#[post("/conversations/{id}/claim")]
async fn claim(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actions::claim(&ctx.runtime, &agent.0, &path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "agent", params(("id" = String, Path)), request_body = TextBody,
    responses((status = 201, body = Stored), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/conversations/{id}/messages")]
async fn message(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    path: web::Path<String>,
    body: web::Json<TextBody>,
) -> Result<HttpResponse, ApiError> {
    let text = body.into_inner().text;
    check_text(&text)?;
    let ack = actions::message(&ctx.runtime, &agent.0, &path.into_inner(), text).await?;
    Ok(HttpResponse::Created().json(Stored {
        message_id: ack.message_id,
        seq: ack.seq,
    }))
}

#[utoipa::path(tag = "agent", params(("id" = String, Path)), request_body = TextBody,
    responses((status = 201, body = Stored), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[post("/conversations/{id}/notes")]
async fn note(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    path: web::Path<String>,
    body: web::Json<TextBody>,
) -> Result<HttpResponse, ApiError> {
    let text = body.into_inner().text;
    check_text(&text)?;
    let ack = actions::note(&ctx.runtime, &agent.0, &path.into_inner(), text).await?;
    Ok(HttpResponse::Created().json(Stored {
        message_id: ack.message_id,
        seq: ack.seq,
    }))
}

#[utoipa::path(tag = "agent", params(("id" = String, Path)), request_body = TransferBody,
    responses((status = 204, description = "transferred"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/conversations/{id}/transfer")]
async fn transfer(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    path: web::Path<String>,
    body: web::Json<TransferBody>,
) -> Result<HttpResponse, ApiError> {
    let to = match body.into_inner() {
        TransferBody {
            agent_id: Some(agent_id),
            queue: None,
        } => TransferTo::Agent(agent_id),
        TransferBody {
            agent_id: None,
            queue: Some(queue),
        } => TransferTo::Queue(queue),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `agent_id` and `queue`",
            ));
        }
    };
    actions::transfer(&ctx.runtime, &agent.0, &path.into_inner(), to).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "agent", params(("id" = String, Path)), request_body = ResolveBody,
    responses((status = 204, description = "back with the bot"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/conversations/{id}/resolve")]
async fn resolve(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    path: web::Path<String>,
    body: Option<web::Json<ResolveBody>>,
) -> Result<HttpResponse, ApiError> {
    let state = body.and_then(|b| b.into_inner().state);
    actions::resolve(&ctx.runtime, &agent.0, &path.into_inner(), state).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "agent", params(("id" = String, Path)),
    responses((status = 204, description = "the bot stopped; the conversation is the agent's"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/conversations/{id}/takeover")]
async fn take_over(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actions::take_over(&ctx.runtime, &agent.0, &path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A summary of the conversation by the model gateway, for the agent taking over:
/// metered and budgeted like every model call (state `handoff_summary`); nothing is
/// stored in the transcript.
#[utoipa::path(tag = "agent", params(("id" = String, Path)),
    responses((status = 200, body = Summary), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a model budget or rate limit refused the call"),
        (status = 503, body = ErrorBody, description = "the model is unavailable")))]
#[post("/conversations/{id}/summary")]
async fn summary(
    ctx: web::Data<AdminContext>,
    agent: SignedIn,
    path: web::Path<String>,
) -> Result<web::Json<Summary>, ApiError> {
    match summarize(&ctx.runtime, &agent.0, &path.into_inner()).await {
        Ok(summary) => Ok(web::Json(Summary { summary })),
        Err(SummaryError::Action(error)) => Err(error.into()),
        Err(SummaryError::Model(
            LlmError::BudgetExhausted { .. } | LlmError::TenantRateLimited { .. },
        )) => Err(ApiError::Conflict(
            "the tenant's model budget or rate limit refused the summary".into(),
        )),
        Err(SummaryError::Model(error)) => {
            tracing::warn!(error = %error, "handoff summary failed");
            Err(ApiError::Unavailable)
        }
    }
}
