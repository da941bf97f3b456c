//! `x-request-id` on every response. The id is chosen (the client's when usable, else a
//! new one: [`crate::telemetry::request_id`]) where actix-http hands a request to the app
//! (`server.rs`), left in the request's extensions for the request span
//! (`request_log.rs`), and set on whatever response comes back: a handler's, an error's,
//! a middleware's refusal, or the 404 of no route. Doing it there rather than in an
//! actix-web middleware is what covers the errors a middleware returns, which become
//! responses only after the app. The web chat upgrade, which never reaches the app, does
//! the same on its own answers.

use actix_http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_http::{HttpMessage, Request};

use crate::telemetry::request_id::{HEADER, RequestId};

/// Picks the id of `request` and leaves it in its extensions.
pub fn assign(request: &Request) -> RequestId {
    let id = RequestId::from_client(request.headers().get(HEADER).map(HeaderValue::as_bytes));
    request.extensions_mut().insert(id.clone());
    id
}

/// Sets the id on a response's headers.
pub fn echo(headers: &mut HeaderMap, id: &RequestId) {
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        headers.insert(HeaderName::from_static(HEADER), value);
    }
}
