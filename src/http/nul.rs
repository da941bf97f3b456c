//! U+0000 (NUL) is refused at the HTTP edge.
//!
//! PostgreSQL `text` cannot hold NUL and SQLite can, so a NUL that reached the store would
//! be a 5xx on one store and stored on the other. For both to answer alike, no NUL gets
//! past the edge: [`uri`] (every route) answers 400 `invalid_text` to a path or query with
//! `%00`, which actix would decode into the path parameters (e.g. the unauthenticated
//! `POST /v1/channels/whatsapp/a%00b`); [`admin_body`] (the admin scope) does the same
//! for a NUL in any string or key of a JSON body, or a raw NUL byte in any other body.
//! Web chat frames are checked by their parser (`channels/webchat/protocol.rs`). The store
//! keeps its own typed guard (`StoreError::InvalidInput`) for anything that gets past.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use futures_util::StreamExt;

use crate::http::admin::error::ApiError;
use crate::transcript::{NUL_REFUSED, has_nul};

fn refused() -> Error {
    ApiError::InvalidText(NUL_REFUSED.into()).into()
}

/// True when a percent-encoded path or query decodes to a NUL.
fn encodes_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w == b"%00")
}

/// Refuses a request whose path or query encodes a NUL.
pub async fn uri(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let uri = req.uri();
    if encodes_nul(uri.path()) || uri.query().is_some_and(encodes_nul) {
        return Err(refused());
    }
    next.call(req).await
}

/// Refuses an admin request whose body holds a NUL. The body is read here (at most
/// `admin.max_body_bytes`, like the handlers would) and handed on unchanged.
pub async fn admin_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse, Error> {
    let limit = req
        .app_data::<web::Data<crate::http::admin::AdminContext>>()
        .map_or(256 * 1024, |ctx| ctx.config.admin.max_body_bytes);
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge.into());
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let json = req.content_type().ends_with("json");
    let nul = if json {
        // Not JSON: the handler says so. JSON: any string or key.
        serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| has_nul(&v))
    } else {
        body.contains(&0)
    };
    if nul {
        return Err(refused());
    }
    req.set_payload(actix_http::Payload::from(body));
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::encodes_nul;

    #[test]
    fn finds_encoded_nul() {
        assert!(encodes_nul("/v1/channels/whatsapp/a%00b"));
        assert!(!encodes_nul("/v1/channels/whatsapp/a%200b"));
        assert!(!encodes_nul("/v1/admin/tenants/t%2500"));
    }
}
