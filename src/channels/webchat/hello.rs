//! The join handshake: a `hello` frame becomes a joined [`Session`], or an explicit error.
//!
//! It resolves the tenant, checks the `Origin` header against the tenant's allowed
//! origins, verifies (or issues) the visitor token, and either resumes the visitor's own
//! conversation or opens a new one. Another visitor's conversation and a missing one get
//! the same answer, so ids cannot be probed.

use super::WebchatContext;
use super::errors::{ErrorCode, FrameError};
use super::protocol::{Hello, ServerFrame};
use super::session::Session;
use crate::actors::Opening;
use crate::transcript::new_id;
use crate::turn::Source;

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

/// A successful handshake: the frames to send first (the welcome, and a `resume_gap`
/// error before it when the client was ahead), and the joined session.
pub struct Joined {
    pub frames: Vec<String>,
    pub session: Session,
}

/// Runs the handshake.
pub async fn join(
    ctx: &WebchatContext,
    hello: Hello,
    origin: Option<&str>,
) -> Result<Joined, HelloRefused> {
    let tenant = match ctx.runtime.tenant(&hello.tenant).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => {
            return Err(FrameError::new(ErrorCode::UnknownTenant, "no such tenant").into());
        }
        Err(_) => return Err(FrameError::unavailable().into()),
    };
    let allowed = tenant.info().allowed_origins();
    if !allowed.is_empty() && !origin.is_some_and(|o| allowed.iter().any(|a| a == o)) {
        return Err(HelloRefused::Fatal(FrameError::new(
            ErrorCode::OriginNotAllowed,
            "this origin may not open the chat of this tenant",
        )));
    }
    let visitor_id = match &hello.visitor_token {
        Some(token) => ctx.tokens.verify(tenant.id(), token).ok_or_else(|| {
            FrameError::new(
                ErrorCode::InvalidVisitorToken,
                "the visitor token is not valid; send hello without it to start afresh",
            )
        })?,
        None => new_id(),
    };
    let visitor_token = ctx.tokens.issue(tenant.id(), &visitor_id);
    let store = &tenant.services().store;
    let mut frames = Vec::with_capacity(2);
    let (conversation_id, replay_after, last_seq) = match hello.conversation_id {
        Some(id) => {
            let row = store
                .conversation(tenant.id(), &id)
                .await
                .map_err(|_| FrameError::unavailable())?
                .filter(|row| {
                    row.channel == Source::Webchat.as_str() && row.external_user == visitor_id
                })
                .ok_or_else(|| {
                    FrameError::new(
                        ErrorCode::ConversationNotFound,
                        "no conversation with this id belongs to this visitor",
                    )
                })?;
            let requested = hello.last_seq.unwrap_or(0);
            if requested > row.last_seq {
                // The client claims events the server never stored: say so, then resync.
                let gap = FrameError::new(
                    ErrorCode::ResumeGap,
                    format!(
                        "last_seq {requested} is ahead of the conversation (last seq {}); \
                         discard local events after it",
                        row.last_seq
                    ),
                );
                frames.push(ServerFrame::error(&gap).to_json());
            }
            (id, requested.min(row.last_seq), row.last_seq)
        }
        None => {
            let opened = tenant
                .open_conversation(Opening {
                    source: Source::Webchat,
                    external_user: &visitor_id,
                    thread: None,
                })
                .await
                .map_err(|e| {
                    tracing::error!(tenant_id = %tenant.id(), error = %e, "could not open a conversation");
                    FrameError::unavailable()
                })?;
            (opened.id, 0, 0)
        }
    };
    frames.push(
        ServerFrame::Welcome {
            conversation_id: &conversation_id,
            visitor_token: &visitor_token,
            last_seq,
        }
        .to_json(),
    );
    let session = Session::start(ctx, tenant, conversation_id, visitor_id, replay_after).await;
    Ok(Joined { frames, session })
}
