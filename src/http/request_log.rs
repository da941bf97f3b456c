//! How requests are logged: the root span of every request (tracing-actix-web's default
//! fields: method, route, status, request id…), and one event for a failed one, whose
//! level says whose problem it is. A 4xx is the client's (DEBUG, one line); a 5xx is ours
//! (ERROR). tracing-actix-web's own event (a WARN for every 4xx, with the error's `Debug`)
//! is turned off (its `emit_event_on_error` feature).

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// The root span builder of the HTTP server.
pub struct RequestSpans;

impl RootSpanBuilder for RequestSpans {
    fn on_request_start(request: &ServiceRequest) -> Span {
        DefaultRootSpanBuilder::on_request_start(request)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, error) = match outcome {
            Ok(response) => (
                response.status(),
                response.response().error().map(ToString::to_string),
            ),
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
