//! Microsoft Teams via the Bot Framework: the provider-specific edge. Inbound, a request
//! is authenticated ([`jwt`], keys from [`jwks`]) and its activity parsed into the
//! shared [`InboundEvent`](crate::channels::inbound::InboundEvent) ([`activity`]).
//! Outbound, replies go through the Bot Connector REST API ([`connector`]) with the
//! bot's cached client-credentials token ([`token`]); typing indicators and Teams
//! streaming updates are [`OutboundActivity`] values ([`outbound`], [`streaming`]).
//! Dedup, routing and retries belong to the shared pipeline, not here.

pub mod activity;
pub mod connector;
mod http;
pub mod jwks;
pub mod jwt;
pub mod outbound;
pub mod streaming;
pub mod target;
pub mod token;

#[cfg(test)]
mod tests;

pub use activity::{ParseError, ParsedActivity, parse};
pub use connector::ConnectorClient;
pub use jwks::{JwksCache, JwksError, JwksPolicy};
pub use jwt::{AuthError, Claims, TeamsAuthConfig, TeamsAuthenticator};
pub use outbound::OutboundActivity;
pub use streaming::TeamsStreamer;
pub use target::ReplyTarget;
pub use token::{Secret, TokenClient, TokenConfig};
