//! A deadline for request bodies.
//!
//! actix-http times out a request's head (`client_request_timeout`) but not its body, so a
//! client that sends its headers and then drips the body a byte at a time held a
//! connection, and a handler, for as long as it liked. [`bound`] wraps every request's
//! payload in a stream that fails once `server.body_timeout_secs` have passed since the
//! request arrived; whatever the handler made of that failure, the client gets
//! `408 Request Timeout` with `Connection: close`. A total deadline rather than an idle one,
//! since a drip of one byte a second never goes idle. Requests that never read their body
//! are not affected.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::error::PayloadError;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError, web};
use futures_util::Stream;
use serde_json::json;

/// Bounds the body of every request to `timeout` from its arrival.
pub async fn bound(
    timeout: Duration,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse, Error> {
    let expired = Arc::new(AtomicBool::new(false));
    let payload = Deadline {
        inner: req.take_payload(),
        sleep: Box::pin(tokio::time::sleep(timeout)),
        expired: expired.clone(),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(payload),
    });
    let path = req.path().to_owned();
    let outcome = next.call(req).await;
    if !expired.load(Ordering::Acquire) {
        return Ok(outcome?.map_into_boxed_body());
    }
    tracing::info!(%path, timeout_secs = timeout.as_secs_f64(), "request body not received in time");
    let error = BodyTimedOut(timeout);
    match outcome {
        Ok(response) => {
            let (request, _) = response.into_parts();
            Ok(ServiceResponse::from_err(error, request))
        }
        Err(_) => Err(error.into()),
    }
}

/// The answer to a body that did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs_f64())]
struct BodyTimedOut(Duration);

impl ResponseError for BodyTimedOut {
    fn status_code(&self) -> StatusCode {
        StatusCode::REQUEST_TIMEOUT
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::RequestTimeout()
            .insert_header(("Connection", "close"))
            .json(json!({ "error": {
                "code": "request_timeout",
                "message": self.to_string(),
                "details": null,
            }}))
    }
}

/// A payload that fails with `TimedOut` once its deadline passes.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl Stream for Deadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request body timed out",
            )))));
        }
        Poll::Pending
    }
}
