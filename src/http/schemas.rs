//! `GET /v1/schemas/flow.json`: the JSON Schema of the flow format, for editors and CI.

use actix_web::HttpResponse;

pub async fn flow() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/schema+json")
        .json(crate::dialog::flow_json_schema())
}
