//! `GET /v1/openapi.json`: the admin API's OpenAPI 3.1 document, generated once at start
//! from the handlers' annotations.

use actix_web::{HttpResponse, web};

/// The serialised document, shared by the workers.
pub struct OpenApiJson(pub String);

pub async fn document(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}
