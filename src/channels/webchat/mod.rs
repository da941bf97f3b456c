//! Web chat protocol v1 over WebSocket (`GET /v1/ws`), as written up in docs/protocol.md.
//!
//! [`protocol`] holds the frame types and [`errors`] the public error codes;
//! [`visitor_token`] the signed visitor identity; [`hello`] the join handshake;
//! [`session`] what a joined socket does (follow the conversation, carry messages, keep
//! presence); [`upgrade`] the WebSocket handshake on the raw connection; and [`socket`]
//! the per-socket loop that ties them together. A socket is one task on its HTTP worker,
//! not an actor.

pub mod errors;
pub mod hello;
pub mod identity;
pub mod protocol;
pub mod session;
pub mod socket;
pub mod upgrade;
pub mod visitor_token;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::actors::Runtime;
use crate::config::WebchatConfig;
use crate::secret_box::SecretBox;
use visitor_token::VisitorTokens;

/// What every web chat socket needs; cheap to clone.
#[derive(Clone)]
pub struct WebchatContext {
    pub runtime: Runtime,
    pub tokens: Arc<VisitorTokens>,
    /// Opens the tenants' widget identity secrets.
    pub secrets: Arc<SecretBox>,
    pub config: Arc<WebchatConfig>,
    /// Cancelled at shutdown: every socket sends a close frame (1001) and ends.
    pub shutdown: CancellationToken,
}
