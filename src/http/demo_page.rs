//! `GET /`: the demo, a fictional company's landing page that embeds the web widget
//! exactly as a customer would (one `<script src="/widget.js" data-tenant="demo">` tag),
//! for trying Switchboard by hand.

use actix_web::HttpResponse;

const PAGE: &str = include_str!("../../static/index.html");

pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}
