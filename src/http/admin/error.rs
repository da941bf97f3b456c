//! Admin API errors: `{"error":{"code","message","details"}}` with the matching status.
//!
//! Handlers return [`ApiError`]; every lower-layer error is mapped here with an
//! exhaustive match, so a new variant forces a decision about its status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::StoreError;

/// The error body of every admin endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `validation_failed`.
    pub code: String,
    pub message: String,
    /// Extra structured information (diagnostics, the current ETag, …).
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("this key's role may not do that (needs {needed})")]
    Forbidden { needed: &'static str },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{0}")]
    Conflict(String),
    #[error("the draft changed since you read it (If-Match does not match)")]
    PreconditionFailed { current: Option<String> },
    #[error("{message}")]
    BadRequest { message: String, details: Value },
    #[error("{message}")]
    Validation { message: String, details: Value },
    #[error("unsupported content type; send application/json or application/yaml")]
    UnsupportedMediaType,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("the store is unavailable; retry shortly")]
    Unavailable,
    #[error("too many flow compiles at once; retry shortly")]
    Busy,
    /// Text the store cannot hold (U+0000).
    #[error("{0}")]
    InvalidText(String),
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::NotFound { .. } => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed { .. } => "precondition_failed",
            ApiError::BadRequest { .. } => "invalid_request",
            ApiError::Validation { .. } => "validation_failed",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Unavailable => "unavailable",
            ApiError::Busy => "busy",
            ApiError::InvalidText(_) => "invalid_text",
            ApiError::Internal => "internal",
        }
    }

    fn details(&self) -> Value {
        match self {
            ApiError::BadRequest { details, .. } | ApiError::Validation { details, .. } => {
                details.clone()
            }
            ApiError::PreconditionFailed { current } => {
                serde_json::json!({ "current_etag": current })
            }
            ApiError::Forbidden { needed } => serde_json::json!({ "required_role": needed }),
            _ => Value::Null,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::BadRequest { .. } | ApiError::InvalidText(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable | ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            ApiError::Unavailable => {
                response.insert_header(("Retry-After", "5"));
            }
            ApiError::Busy => {
                response.insert_header(("Retry-After", "1"));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
                details: self.details(),
            },
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Database(e) => {
                tracing::error!(error = %e, "admin request failed in the store");
                ApiError::Unavailable
            }
            StoreError::Sqlite(e) => {
                tracing::error!(error = %e, "admin request failed in the store");
                ApiError::Unavailable
            }
            StoreError::Migrate(_) | StoreError::Io(_) | StoreError::Corrupt(_) => {
                tracing::error!(error = %error, "admin request hit a store fault");
                ApiError::Internal
            }
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::InvalidInput(message) => ApiError::InvalidText(message),
            StoreError::Fenced { .. } | StoreError::BatchFailed(_) | StoreError::Closed => {
                ApiError::Unavailable
            }
        }
    }
}

/// Maps actix's body/path/query extractor failures into the API's error shape.
pub fn json_config(limit: usize) -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _| {
            use actix_web::error::JsonPayloadError;
            let api = match &error {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => ApiError::PayloadTooLarge,
                JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
                other => ApiError::bad_request(format!("invalid JSON body: {other}")),
            };
            api.into()
        })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|error, _| ApiError::bad_request(format!("invalid query: {error}")).into())
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default()
        .error_handler(|error, _| ApiError::bad_request(format!("invalid path: {error}")).into())
}
