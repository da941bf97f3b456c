//! Adaptors: tenant-configured outbound HTTP calls that dialog flows make ("look up
//! the order status in the shop's API"), guarded against SSRF.
//!
//! A tenant publishes an [`AdaptorSpec`] (checked by [`validate_spec`]); at run time the
//! conversation calls [`AdaptorClient::call`] with the flow's arguments and the
//! adaptor's [`AdaptorSecret`], off the actor's mailbox. Arguments are escaped for where
//! they land (percent-encoding in the URL, JSON literals in the body), the secret only
//! ever goes into the configured auth header, and the [`NetworkPolicy`] is enforced
//! twice: on the URL text at validation, and on the addresses actually connected to
//! at call time (our own DNS resolver, no redirects, no proxies).
//!
//! Map: `spec` (what is configured) · `validate` (publish-time checks) · `template`
//! (rendering and escaping) · `request` (spec + args -> request) · `policy` and
//! `ip_class` (where we may connect) · `resolver` (vetted DNS) · `client` (the call) ·
//! `response` (size cap, JSON, pointer mapping) · `error`.

mod client;
mod error;
mod ip_class;
mod policy;
mod request;
mod resolver;
mod response;
mod spec;
mod template;
mod validate;

#[cfg(test)]
mod tests;

pub use client::{
    AdaptorClient, AdaptorClientConfig, DEFAULT_MAX_RESPONSE_BYTES, vetted_http_client,
};
pub use error::{AdaptorError, AdaptorSpecError};
pub use ip_class::{IpClass, classify};
pub use policy::NetworkPolicy;
pub use spec::{
    AdaptorAuth, AdaptorSecret, AdaptorSpec, DEFAULT_TIMEOUT_MS, HttpMethod, MAX_TIMEOUT_MS,
    MIN_TIMEOUT_MS,
};
pub use validate::validate_spec;
