//! How requests are logged and traced: the root span of every request, and one event for
//! a failed one, whose level says whose problem it is. A 4xx is the client's (DEBUG, one
//! line); a 5xx is ours (ERROR). tracing-actix-web's own event (a WARN for every 4xx,
//! with the error's `Debug`) is turned off (its `emit_event_on_error` feature).
//!
//! The span is tracing-actix-web's default one (the OpenTelemetry HTTP fields: method,
//! route, status, `otel.name`…) built here rather than by its macro for three
//! differences: `request_id` is the id `request_id.rs` chose (the client's, when usable),
//! not one of tracing-actix-web's own; `http.target` is the path without the query
//! string (a query may carry a token, as WhatsApp's subscription check does); and the span
//! has `tenant` and `conversation` fields, filled from the route's `{tenant}` and a
//! conversation's `{id}` when the request ends, or earlier by a handler that learns
//! them (a webhook, from its channel account).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

use crate::telemetry::request_id::RequestId;

/// The root span builder of the HTTP server.
pub struct RequestSpans;

impl RootSpanBuilder for RequestSpans {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate);
        let method = request.method().as_str();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let connection = request.connection_info();
        let user_agent = request
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = flavor(request.version()),
            http.scheme = %connection.scheme(),
            http.host = %connection.host(),
            http.client_ip = %connection.realip_remote_addr().unwrap_or(""),
            http.user_agent = %user_agent,
            http.target = %request.path(),
            http.status_code = Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = Empty,
            request_id = %request_id,
            tenant = Empty,
            conversation = Empty,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, error) = match outcome {
            Ok(response) => {
                record_route_ids(&span, response.request());
                (
                    response.status(),
                    response.response().error().map(ToString::to_string),
                )
            }
            Err(error) => (
                error.as_response_error().status_code(),
                Some(error.to_string()),
            ),
        };
        if status.is_server_error() {
            span.in_scope(|| {
                tracing::error!(
                    status = status.as_u16(),
                    error = error.as_deref().unwrap_or(""),
                    "request failed"
                );
            });
        } else if status.is_client_error() {
            span.in_scope(|| {
                tracing::debug!(
                    status = status.as_u16(),
                    error = error.as_deref().unwrap_or(""),
                    "request refused"
                );
            });
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The HTTP version as OpenTelemetry's `http.flavor` writes it.
fn flavor(version: actix_web::http::Version) -> &'static str {
    use actix_web::http::Version;
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2.0",
        Version::HTTP_3 => "3.0",
        _ => "other",
    }
}

/// The tenant and conversation a matched route names (admin routes: `/tenants/{tenant}`,
/// `…/conversations/{id}`).
fn record_route_ids(span: &Span, request: &actix_web::HttpRequest) {
    let params = request.match_info();
    if let Some(tenant) = params.get("tenant") {
        span.record("tenant", tenant);
    }
    let in_conversation = request
        .match_pattern()
        .is_some_and(|p| p.contains("/conversations/{id}"));
    if in_conversation && let Some(id) = params.get("id") {
        span.record("conversation", id);
    }
}
