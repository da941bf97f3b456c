//! Presence and the cluster's state:
//! - `GET /v1/admin/tenants/{tenant}/presence`: who is online (viewers);
//! - `PUT|DELETE /v1/admin/tenants/{tenant}/presence/agents/{agent}`: a human agent's
//!   console announces itself (again at least every heartbeat) or leaves (editors);
//! - `GET /v1/admin/cluster`: the nodes, what each owns and its leases (operator).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, put, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::AdminContext;
use super::auth::{Principal, Role};
use super::error::{ApiError, ErrorBody};
use crate::cluster::NodeInfo;
use crate::cluster::presence::{PresenceEntry, PresenceKind};
use crate::store::now_ms;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_presence)
        .service(agent_online)
        .service(agent_offline)
        .service(cluster_status);
}

/// A visitor with at least one joined socket.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnlineVisitor {
    pub visitor_id: String,
    /// Nodes its sockets are on.
    pub nodes: Vec<String>,
    pub connections: usize,
    pub conversations: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceView {
    pub visitors: Vec<OnlineVisitor>,
    /// Agents who announced themselves within the last two heartbeats.
    pub agents: Vec<PresenceEntry>,
    /// Every joined socket.
    pub connections: Vec<PresenceEntry>,
}

#[utoipa::path(tag = "presence", params(("tenant" = String, Path)),
    responses((status = 200, body = PresenceView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[get("/tenants/{tenant}/presence")]
async fn list_presence(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<web::Json<PresenceView>, ApiError> {
    let tenant_id = path.into_inner();
    principal.require(&tenant_id, Role::Viewer)?;
    ctx.tenant(&tenant_id).await?;
    let entries = ctx
        .runtime
        .services()
        .cluster
        .presence()
        .list(&tenant_id)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "presence unavailable");
            ApiError::Unavailable
        })?;
    let (connections, agents): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|e| e.kind == PresenceKind::Connection);
    let mut visitors: BTreeMap<String, OnlineVisitor> = BTreeMap::new();
    for connection in &connections {
        let visitor = visitors
            .entry(connection.subject.clone())
            .or_insert_with(|| OnlineVisitor {
                visitor_id: connection.subject.clone(),
                nodes: Vec::new(),
                connections: 0,
                conversations: Vec::new(),
            });
        visitor.connections += 1;
        if !visitor.nodes.contains(&connection.node) {
            visitor.nodes.push(connection.node.clone());
        }
        if let Some(conversation) = &connection.conversation_id
            && !visitor.conversations.contains(conversation)
        {
            visitor.conversations.push(conversation.clone());
        }
    }
    Ok(web::Json(PresenceView {
        visitors: visitors.into_values().collect(),
        agents,
        connections,
    }))
}

/// The tenant and agent of an agent presence request, once the caller may change them.
async fn agent_target(
    ctx: &AdminContext,
    principal: &Principal,
    path: web::Path<(String, String)>,
) -> Result<(String, String), ApiError> {
    let (tenant_id, agent_id) = path.into_inner();
    principal.require(&tenant_id, Role::Editor)?;
    valid_agent_id(&agent_id)?;
    ctx.tenant(&tenant_id).await?;
    Ok((tenant_id, agent_id))
}

fn valid_agent_id(agent_id: &str) -> Result<(), ApiError> {
    if agent_id.is_empty()
        || agent_id.len() > 128
        || !agent_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
    {
        return Err(ApiError::bad_request(
            "agent id: 1–128 letters, digits, `-`, `_`, `.` or `@`",
        ));
    }
    Ok(())
}

#[utoipa::path(tag = "presence", params(("tenant" = String, Path), ("agent" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[put("/tenants/{tenant}/presence/agents/{agent}")]
async fn agent_online(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, agent_id) = agent_target(&ctx, &principal, path).await?;
    let cluster = &ctx.runtime.services().cluster;
    cluster.presence().online(
        &tenant_id,
        PresenceEntry {
            id: format!("agent:{agent_id}"),
            kind: PresenceKind::Agent,
            subject: agent_id,
            conversation_id: None,
            node: cluster.node_id().to_string(),
            since: now_ms(),
            status: None,
        },
        false,
    );
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "presence", params(("tenant" = String, Path), ("agent" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/tenants/{tenant}/presence/agents/{agent}")]
async fn agent_offline(
    ctx: web::Data<AdminContext>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, agent_id) = agent_target(&ctx, &principal, path).await?;
    ctx.runtime
        .services()
        .cluster
        .presence()
        .offline(&tenant_id, &format!("agent:{agent_id}"));
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterStatus {
    /// `cluster` (Redis) or `single` (no Redis, everything in process).
    pub mode: String,
    /// The node that answered.
    pub node_id: String,
    pub nodes: Vec<NodeInfo>,
}

#[utoipa::path(tag = "cluster",
    responses((status = 200, body = ClusterStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
#[get("/cluster")]
async fn cluster_status(
    ctx: web::Data<AdminContext>,
    principal: Principal,
) -> Result<web::Json<ClusterStatus>, ApiError> {
    principal.require_operator()?;
    let services = ctx.runtime.services();
    let cluster = &services.cluster;
    let nodes = match cluster.node() {
        Some(node) => node.nodes().await.map_err(|e| {
            tracing::warn!(error = %e, "cluster status unavailable");
            ApiError::Unavailable
        })?,
        None => {
            let mut conversations = 0;
            for tenant in ctx.runtime.live_tenants().await {
                if let Some(stats) = tenant.stats().await {
                    conversations += stats.live_conversations;
                }
            }
            vec![NodeInfo {
                node_id: cluster.node_id().to_string(),
                addr: services.config.server.bind.to_string(),
                started_at: 0,
                heartbeat_at: now_ms(),
                conversations,
                connections: cluster.presence().local_count(),
                leases: Vec::new(),
            }]
        }
    };
    Ok(web::Json(ClusterStatus {
        mode: if cluster.is_clustered() {
            "cluster"
        } else {
            "single"
        }
        .into(),
        node_id: cluster.node_id().to_string(),
        nodes,
    }))
}
