//! The join handshake: a `hello` frame becomes a joined connection, or an explicit error.
//!
//! It resolves the tenant, checks the `Origin` header against the tenant's allowed
//! origins, verifies (or issues) the visitor token, and either resumes the visitor's own
//! conversation or opens a new one. Another visitor's conversation and a missing one get
//! the same answer, so ids cannot be probed.

use ractor::ActorRef;

use super::WebchatContext;
use super::protocol::{FrameError, Hello};
use crate::actors::connection::ConnectionMsg;
use crate::actors::{ConnectionArgs, ConnectionSink, Outbound};
use crate::transcript::new_id;

/// The channel name conversations opened here carry.
pub const CHANNEL: &str = "webchat";

/// How a hello ended, when it did not join.
pub enum HelloRefused {
    /// Tell the client and keep the socket open; it may send another hello.
    Error(FrameError),
    /// Tell the client and close the socket with a policy violation.
    Fatal(FrameError),
}

impl From<FrameError> for HelloRefused {
    fn from(error: FrameError) -> Self {
        HelloRefused::Error(error)
    }
}

fn unavailable() -> FrameError {
    FrameError::new(
        "unavailable",
        "the service is temporarily unavailable; retry shortly",
    )
}

/// Runs the handshake; on success the welcome is queued on `sink` and the connection
/// actor is running.
pub async fn join(
    ctx: &WebchatContext,
    hello: Hello,
    origin: Option<&str>,
    sink: &ConnectionSink,
) -> Result<ActorRef<ConnectionMsg>, HelloRefused> {
    let tenant = match ctx.runtime.tenant(&hello.tenant).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => {
            return Err(FrameError::new("unknown_tenant", "no such tenant").into());
        }
        Err(_) => return Err(unavailable().into()),
    };
    let allowed = tenant.info().allowed_origins();
    if !allowed.is_empty() && !origin.is_some_and(|o| allowed.iter().any(|a| a == o)) {
        return Err(HelloRefused::Fatal(FrameError::new(
            "origin_not_allowed",
            "this origin may not open the chat of this tenant",
        )));
    }
    let visitor_id = match &hello.visitor_token {
        Some(token) => ctx.tokens.verify(tenant.id(), token).ok_or_else(|| {
            FrameError::new(
                "invalid_visitor_token",
                "the visitor token is not valid; send hello without it to start afresh",
            )
        })?,
        None => new_id(),
    };
    let visitor_token = ctx.tokens.issue(tenant.id(), &visitor_id);
    let store = &tenant.services().store;
    let (conversation_id, replay_after, last_seq) = match hello.conversation_id {
        Some(id) => {
            let row = store
                .conversation(tenant.id(), &id)
                .await
                .map_err(|_| unavailable())?
                .filter(|row| row.channel == CHANNEL && row.external_user == visitor_id)
                .ok_or_else(|| {
                    FrameError::new(
                        "conversation_not_found",
                        "no conversation with this id belongs to this visitor",
                    )
                })?;
            let requested = hello.last_seq.unwrap_or(0);
            if requested > row.last_seq {
                // The client claims events the server never stored: say so, then resync.
                sink.push(Outbound::Error {
                    code: "resume_gap",
                    message: format!(
                        "last_seq {requested} is ahead of the conversation (last seq {}); \
                         discard local events after it",
                        row.last_seq
                    ),
                    client_id: None,
                });
            }
            (id, requested.min(row.last_seq), row.last_seq)
        }
        None => {
            let id = tenant
                .open_conversation(CHANNEL, &visitor_id)
                .await
                .map_err(|e| {
                    tracing::error!(tenant_id = %tenant.id(), error = %e, "could not open a conversation");
                    unavailable()
                })?;
            (id, 0, 0)
        }
    };
    sink.push(Outbound::Welcome {
        conversation_id: conversation_id.clone(),
        visitor_token,
        last_seq,
    });
    let args = ConnectionArgs {
        tenant: tenant.clone(),
        conversation_id,
        visitor_id,
        replay_after,
        sink: sink.clone(),
    };
    tenant
        .spawn_connection(args)
        .await
        .map_err(|_| HelloRefused::Error(unavailable()))
}
