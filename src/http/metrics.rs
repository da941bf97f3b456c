//! `GET /metrics`: the Prometheus text format (`telemetry/metrics.rs`). With
//! `metrics.bearer_token` set, a scrape must send it (`Authorization: Bearer …`,
//! compared in constant time); `metrics.enabled = false` answers 404.

use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use crate::app::AppState;

pub async fn scrape(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let config = &state.runtime.services().config.metrics;
    if !config.enabled {
        return HttpResponse::NotFound().finish();
    }
    if !config.bearer_token.is_empty() {
        let presented = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let ok: bool = presented
            .as_bytes()
            .ct_eq(config.bearer_token.as_bytes())
            .into();
        if !ok {
            return HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer"))
                .finish();
        }
    }
    match crate::telemetry::metrics::render() {
        Some(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}
