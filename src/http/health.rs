//! Liveness and readiness. `/healthz` answers while the process runs; `/readyz` answers
//! 200 only when the store responds and the node is not shutting down. From the start of
//! a shutdown, through its pre-drain delay (`server.predrain_secs`, when the node still
//! serves everything), `/readyz` answers 503, so a load balancer stops sending new
//! traffic before the listener closes.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.draining.is_cancelled() || state.shutdown.is_cancelled() {
        return HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "unavailable", "reason": "shutting down" }));
    }
    let store = &state.runtime.services().store;
    match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Ok(Err(_)) | Err(_) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(json!({ "status": "unavailable", "reason": "store unreachable" })),
    }
}
