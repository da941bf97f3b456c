//! `GET /`: a minimal chat page that speaks protocol v1, for trying the demo by hand.

use actix_web::HttpResponse;

const PAGE: &str = include_str!("../../static/index.html");

pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}
