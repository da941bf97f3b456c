//! The Slack Events API edge: everything provider-specific about talking to end users
//! over Slack, and nothing else (dedup, routing and retrying live in the shared
//! pipeline).
//!
//! - [`verify()`]: request signing check (`X-Slack-Signature`, with a 300 s replay
//!   window), plus [`sign`] for tests;
//! - [`parse`]: a verified body → [`SlackPayload`] (`url_verification` or an event);
//! - [`SlackClient`]: `chat.postMessage` / `chat.update`, failures classified as
//!   [`SendError`](crate::channels::inbound::SendError);
//! - [`UpdateThrottle`]: when to push a streaming reply (post, then throttled updates).

mod client;
mod payload;
mod throttle;
mod verify;

#[cfg(test)]
mod tests;

pub use client::{ClientConfigError, DEFAULT_TIMEOUT, SlackClient, SlackConfig, escape_text};
pub use payload::{ParseError, SlackPayload, parse};
pub use throttle::UpdateThrottle;
pub use verify::{MAX_CLOCK_SKEW_SECS, VerifyError, sign, verify};
