//! `/v1/admin/tenants/{tenant}/conversations`: list with filters, and one conversation
//! with its transcript.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::store::{ConversationFilter, ConversationRow};
use crate::transcript::Message;
use crate::turn::TurnError;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_conversations)
        .service(get_conversation)
        .service(agent_message)
        .service(release);
}

const MAX_TRANSCRIPT: i64 = 10_000;
/// The values of `conversations.status` (see `PersistedState::status_label`).
const STATUSES: [&str; 3] = ["active", "handoff", "ended"];

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `active`, `handoff` or `ended`; anything else is a 400.
    pub status: Option<String>,
    /// `webchat` …
    pub channel: Option<String>,
    pub flow: Option<String>,
    /// Only conversations on this version of their flow.
    pub version: Option<i64>,
    /// Only conversations started at or after this time (ms since the epoch).
    pub since: Option<i64>,
    /// Only conversations started before this time (ms since the epoch).
    pub until: Option<i64>,
    /// Text search: conversations with a user, bot or agent message containing this
    /// text, case-insensitively (1–200 characters).
    pub q: Option<String>,
    /// `true`: list the console's preview conversations (on a preview of a flow) instead
    /// of real ones.
    pub preview: Option<bool>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// Only conversations updated before this time (ms); pass the last `updated_at` of a page.
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub channel: String,
    pub external_user: String,
    pub flow_id: String,
    pub flow_version: i64,
    pub status: String,
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// A preview conversation from the console (its `flow_version` is a preview's,
    /// negative); kept out of the default list and of analytics.
    pub preview: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptMessage {
    pub seq: i64,
    pub message_id: String,
    pub role: String,
    pub text: String,
    pub created_at: i64,
    /// Bot messages: the flow state the conversation waited in after this turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: ConversationView,
    pub messages: Vec<TranscriptMessage>,
}

impl From<ConversationRow> for ConversationView {
    fn from(row: ConversationRow) -> Self {
        ConversationView {
            id: row.id,
            channel: row.channel,
            external_user: row.external_user,
            flow_id: row.flow_id,
            preview: row.flow_version < 0,
            flow_version: row.flow_version,
            status: row.status,
            last_seq: row.last_seq,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl From<Message> for TranscriptMessage {
    fn from(m: Message) -> Self {
        TranscriptMessage {
            seq: m.seq,
            message_id: m.message_id,
            role: m.role.as_str().to_string(),
            state: m.meta.state.clone(),
            text: m.text,
            created_at: m.created_at,
        }
    }
}

#[utoipa::path(tag = "conversations", params(("tenant" = String, Path), ListQuery),
    responses((status = 200, body = [ConversationView]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/conversations")]
async fn list_conversations(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<Vec<ConversationView>>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be between 1 and 200"));
    }
    if let Some(status) = &query.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::bad_request(
            "`status` must be one of `active`, `handoff`, `ended`",
        ));
    }
    if let Some(q) = &query.q
        && (q.trim().is_empty() || q.chars().count() > 200)
    {
        return Err(ApiError::bad_request("`q` must be 1 to 200 characters"));
    }
    if let (Some(since), Some(until)) = (query.since, query.until)
        && since >= until
    {
        return Err(ApiError::bad_request("`since` must be before `until`"));
    }
    let rows = ctx
        .store()
        .list_conversations(
            &tenant_id,
            &ConversationFilter {
                status: query.status,
                channel: query.channel,
                flow_id: query.flow,
                flow_version: query.version,
                created_since: query.since,
                created_until: query.until,
                text: query.q.map(|q| q.trim().to_string()),
                updated_before: query.before,
                preview: query.preview.unwrap_or(false),
                limit,
            },
        )
        .await?;
    Ok(web::Json(
        rows.into_iter().map(ConversationView::from).collect(),
    ))
}

#[utoipa::path(tag = "conversations", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ConversationDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/tenants/{tenant}/conversations/{id}")]
async fn get_conversation(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ConversationDetail>, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    let row = ctx
        .store()
        .conversation(&tenant_id, &id)
        .await?
        .ok_or(ApiError::NotFound {
            what: "conversation",
        })?;
    let messages = ctx
        .store()
        .events_after(&tenant_id, &id, 0, MAX_TRANSCRIPT)
        .await?;
    Ok(web::Json(ConversationDetail {
        conversation: row.into(),
        messages: messages.into_iter().map(TranscriptMessage::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentMessage {
    /// What the human agent says to the user (1–4000 characters).
    pub text: String,
    /// The agent's display name, shown to the user with the message (at most 80
    /// characters).
    #[serde(default)]
    pub author: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentMessageStored {
    pub message_id: String,
    pub seq: i64,
}

pub(crate) fn handoff_error(error: TurnError) -> ApiError {
    match error {
        TurnError::NotInHumanMode => {
            ApiError::Conflict("the conversation is not handed off to a human".into())
        }
        TurnError::Ended => ApiError::Conflict("the conversation has ended".into()),
        TurnError::NotRunning => {
            ApiError::Conflict("the conversation has not started or has ended".into())
        }
        TurnError::NoSuchState => {
            ApiError::bad_request("`state`: the conversation's flow has no state of that name")
        }
        TurnError::NotFound => ApiError::NotFound {
            what: "conversation",
        },
        TurnError::Store
        | TurnError::Unavailable
        | TurnError::Moved
        | TurnError::ClusterUnavailable => ApiError::Unavailable,
    }
}

/// The running tenant of an existing conversation (404 for an unknown conversation).
pub(super) async fn tenant_handle(
    ctx: &AdminContext,
    tenant_id: &str,
    conversation_id: &str,
) -> Result<crate::actors::TenantHandle, ApiError> {
    ctx.store()
        .conversation(tenant_id, conversation_id)
        .await?
        .ok_or(ApiError::NotFound {
            what: "conversation",
        })?;
    ctx.runtime
        .tenant(tenant_id)
        .await
        .map_err(|_| ApiError::Unavailable)?
        .ok_or(ApiError::NotFound { what: "tenant" })
}

#[utoipa::path(tag = "conversations", params(("tenant" = String, Path), ("id" = String, Path)),
    request_body = AgentMessage,
    responses((status = 201, body = AgentMessageStored), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the conversation is not handed off")))]
#[post("/tenants/{tenant}/conversations/{id}/messages")]
async fn agent_message(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<AgentMessage>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    let AgentMessage { text, author } = body.into_inner();
    let chars = text.chars().count();
    if text.trim().is_empty() || chars > 4_000 {
        return Err(ApiError::bad_request("`text` must be 1 to 4000 characters"));
    }
    let author = author
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty());
    if author.as_ref().is_some_and(|a| a.chars().count() > 80) {
        return Err(ApiError::bad_request(
            "`author` must be at most 80 characters",
        ));
    }
    let tenant = tenant_handle(&ctx, &tenant_id, &id).await?;
    let ack = tenant
        .agent_message(&id, text, author)
        .await
        .map_err(handoff_error)?;
    ctx.audit(
        &principal,
        &tenant_id,
        "conversation.agent_message",
        &id,
        serde_json::json!({ "seq": ack.seq }),
    )
    .await?;
    Ok(HttpResponse::Created().json(AgentMessageStored {
        message_id: ack.message_id,
        seq: ack.seq,
    }))
}

#[utoipa::path(tag = "conversations", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "the bot has the conversation again"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the conversation is not handed off")))]
#[post("/tenants/{tenant}/conversations/{id}/release")]
async fn release(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    let tenant = tenant_handle(&ctx, &tenant_id, &id).await?;
    tenant.release(&id).await.map_err(handoff_error)?;
    ctx.audit(
        &principal,
        &tenant_id,
        "conversation.release",
        &id,
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
