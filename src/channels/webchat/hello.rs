//! The join handshake: a `hello` frame becomes a joined [`Session`], or an explicit error.
//!
//! It resolves the tenant, checks the `Origin` header against the tenant's allowed
//! origins, establishes who the visitor is — an identity token signed by the tenant's
//! backend (an identified visitor, the same on every device), else the visitor token the
//! server issued, else a new anonymous visitor — and either resumes the visitor's own
//! conversation or opens a new one. Another visitor's conversation and a missing one get
//! the same answer, so ids cannot be probed.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sha2::{Digest, Sha256};

use super::WebchatContext;
use super::errors::{ErrorCode, FrameError};
use super::identity;
use super::protocol::{Hello, ServerFrame};
use super::session::Session;
use crate::actors::{OpenError, Opening, TenantHandle};
use crate::flow_cache::FlowLoadError;
use crate::store::ConversationRow;
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

/// Who is on the other end of the socket.
struct Visitor {
    id: String,
    /// Named by the tenant's identity token: their open conversation follows them.
    identified: bool,
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
    // A preview ticket (the console's live widget on a draft) is checked before anything
    // is opened: a bad or expired one is said plainly.
    let preview = match &hello.preview {
        Some(ticket) => Some(
            ctx.tokens
                .verify_preview(tenant.id(), ticket, crate::store::now_ms())
                .ok_or_else(|| {
                    FrameError::new(
                        ErrorCode::InvalidPreview,
                        "this preview link is invalid or has expired; open the preview again from the console",
                    )
                })?,
        ),
        None => None,
    };
    let visitor = visitor(ctx, &tenant, &hello).await?;
    let visitor_token = ctx.tokens.issue(tenant.id(), &visitor.id);
    let mut frames = Vec::with_capacity(2);
    let requested = hello.last_seq.unwrap_or(0);
    let resumed = match &hello.conversation_id {
        Some(id) => Some(resumable(&tenant, id, &visitor).await?),
        None if visitor.identified && preview.is_none() => tenant
            .services()
            .store
            .latest_open_conversation(tenant.id(), Source::Webchat.as_str(), &visitor.id)
            .await
            .map_err(|_| FrameError::unavailable())?,
        None => None,
    };
    let (conversation_id, replay_after, last_seq, status) = match resumed {
        Some(row) => {
            // `last_seq` counts in the conversation the client named; another one starts at 0.
            let requested = if hello.conversation_id.is_some() {
                requested
            } else {
                0
            };
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
            (
                row.id,
                requested.min(row.last_seq),
                row.last_seq,
                row.status,
            )
        }
        None => {
            let opened = tenant
                .open_conversation(Opening {
                    source: Source::Webchat,
                    external_user: &visitor.id,
                    thread: None,
                    preview: preview
                        .as_ref()
                        .map(|(flow, version)| (flow.as_str(), *version)),
                })
                .await
                .map_err(|e| open_refused(&tenant, &e))?;
            (opened.id, 0, 0, "active".to_owned())
        }
    };
    frames.push(
        ServerFrame::Welcome {
            conversation_id: &conversation_id,
            visitor_token: &visitor_token,
            last_seq,
            status: &status,
        }
        .to_json(),
    );
    let session = Session::start(ctx, tenant, conversation_id, visitor.id, replay_after).await;
    Ok(Joined { frames, session })
}

/// The visitor: identified by the tenant's token, or by ours, or new.
async fn visitor(
    ctx: &WebchatContext,
    tenant: &TenantHandle,
    hello: &Hello,
) -> Result<Visitor, FrameError> {
    if let Some(token) = &hello.identity {
        let store = &tenant.services().store;
        let settings = store
            .widget_settings(tenant.id())
            .await
            .map_err(|_| FrameError::unavailable())?;
        let secret = match settings {
            Some(row) => Some(
                ctx.secrets
                    .open(&row.identity_secret_encrypted)
                    .map_err(|_| FrameError::unavailable())?,
            ),
            None => None,
        };
        let identity = identity::verify(token, secret.as_deref().map(str::as_bytes))
            .map_err(|e| FrameError::of_identity(&e))?;
        return Ok(Visitor {
            id: identified_visitor_id(tenant.id(), &identity.sub),
            identified: true,
        });
    }
    let id = match &hello.visitor_token {
        Some(token) => ctx.tokens.verify(tenant.id(), token).ok_or_else(|| {
            FrameError::new(
                ErrorCode::InvalidVisitorToken,
                "the visitor token is not valid; send hello without it to start afresh",
            )
        })?,
        None => new_id(),
    };
    Ok(Visitor {
        id,
        identified: false,
    })
}

/// The visitor id of an identified person: stable per tenant and `sub`, short, and made
/// of characters a visitor token can carry (a `sub` may be an email address).
fn identified_visitor_id(tenant_id: &str, sub: &str) -> String {
    let digest = Sha256::new()
        .chain_update(tenant_id.as_bytes())
        .chain_update([0])
        .chain_update(sub.as_bytes())
        .finalize();
    format!("id-{}", hex::encode(&digest[..16]))
}

/// The conversation the client asked for, if it is this visitor's.
async fn resumable(
    tenant: &TenantHandle,
    id: &str,
    visitor: &Visitor,
) -> Result<ConversationRow, FrameError> {
    tenant
        .services()
        .store
        .conversation(tenant.id(), id)
        .await
        .map_err(|_| FrameError::unavailable())?
        .filter(|row| row.channel == Source::Webchat.as_str() && row.external_user == visitor.id)
        .ok_or_else(|| {
            FrameError::new(
                ErrorCode::ConversationNotFound,
                "no conversation with this id belongs to this visitor",
            )
        })
}

/// Why a new conversation could not be opened: no active flow is the tenant's state,
/// said plainly; anything else is a passing failure.
fn open_refused(tenant: &TenantHandle, error: &OpenError) -> FrameError {
    match error {
        OpenError::Flow(FlowLoadError::NoActiveVersion { flow_id }) => {
            if first_in_a_while(tenant.id()) {
                tracing::warn!(tenant_id = %tenant.id(), flow_id = %flow_id,
                    "visitors are told the chat is not available: the entry flow has no active version");
            }
            FrameError::new(
                ErrorCode::NotAvailable,
                "this chat is not available right now",
            )
        }
        OpenError::Flow(_) | OpenError::Store(_) => {
            tracing::error!(tenant_id = %tenant.id(), error = %error, "could not open a conversation");
            FrameError::unavailable()
        }
    }
}

/// True once per tenant every [`NOT_AVAILABLE_LOG_EVERY`]: a tenant without a flow is
/// said in the log once, not at every visitor.
fn first_in_a_while(tenant_id: &str) -> bool {
    static LOGGED: LazyLock<DashMap<String, Instant>> = LazyLock::new(DashMap::new);
    let now = Instant::now();
    let mut first = false;
    LOGGED
        .entry(tenant_id.to_owned())
        .and_modify(|at| {
            if now.duration_since(*at) >= NOT_AVAILABLE_LOG_EVERY {
                *at = now;
                first = true;
            }
        })
        .or_insert_with(|| {
            first = true;
            now
        });
    first
}

/// How often the log repeats that a tenant's chat is not available.
const NOT_AVAILABLE_LOG_EVERY: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identified_visitor_ids_are_stable_per_tenant_and_token_safe() {
        let a = identified_visitor_id("acme", "ada@example.com");
        assert_eq!(a, identified_visitor_id("acme", "ada@example.com"));
        assert_ne!(a, identified_visitor_id("globex", "ada@example.com"));
        assert_ne!(a, identified_visitor_id("acme", "grace@example.com"));
        assert!(a.len() <= 64 && !a.contains('.'), "{a}");
    }
}
