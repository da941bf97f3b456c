//! The WhatsApp Cloud API edge: everything provider-specific about talking to end
//! users over WhatsApp, and nothing else (dedup, routing and retrying live in the
//! shared pipeline).
//!
//! - [`verify_subscription`] / [`verify_signature`]: webhook handshake and
//!   `X-Hub-Signature-256` check (plus [`sign`] for tests);
//! - [`parse`]: a verified webhook body → `(phone_number_id, InboundEvent)` pairs;
//! - [`WhatsappClient::send_text`]: the reply call, with failures classified as
//!   [`SendError`](crate::channels::inbound::SendError);
//! - [`split_text`] and [`ParagraphStreamer`]: fitting replies into WhatsApp
//!   messages (4096 characters each, one message per finished paragraph).

mod client;
mod payload;
mod split;
mod stream;
mod verify;

#[cfg(test)]
mod tests;

pub use client::{
    ClientConfigError, DEFAULT_TIMEOUT, MAX_TEXT_CHARS, WhatsappClient, WhatsappConfig,
};
pub use payload::{ParseError, parse};
pub use split::split_text;
pub use stream::ParagraphStreamer;
pub use verify::{VerifyError, sign, verify_signature, verify_subscription};
