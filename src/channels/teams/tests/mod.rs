//! Tests of the Teams module: authentication, token and connector against the fake Bot
//! Framework (real local sockets), activity parsing of real payload shapes, and the
//! streaming state machine.

mod activity;
mod auth;
mod outbound;
mod streaming;

/// A plain client, as the main crate would build one.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}
