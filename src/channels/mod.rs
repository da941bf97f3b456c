//! Channel edges: they translate a channel's wire format into the runtime's internal
//! types and back. `webchat/` speaks protocol v1 over WebSocket; `whatsapp/`, `slack/`
//! and `teams/` verify and parse provider webhooks and call the providers' APIs;
//! `ingress.rs` takes verified messages in, `delivery/` sends replies out, and
//! `provider_http.rs` holds what the provider API clients share (one `Retry-After`
//! policy, capped reads, secret-free errors). The core (actors, dialog, store) never
//! imports this module.

pub mod delivery;
pub mod inbound;
pub mod ingress;
pub mod provider_http;
pub mod slack;
pub mod teams;
pub mod webchat;
pub mod whatsapp;
