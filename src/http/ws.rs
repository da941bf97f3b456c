//! `GET /v1/ws` without a WebSocket upgrade. The upgrade itself never reaches actix-web's
//! routes: actix-http hands it to `channels/webchat/upgrade.rs` (see `http/server.rs`).

use actix_web::HttpResponse;
use actix_web::http::header;

/// A plain GET of the web chat endpoint: say what it expects.
pub async fn not_upgraded() -> HttpResponse {
    HttpResponse::UpgradeRequired()
        .insert_header((header::UPGRADE, "websocket"))
        .insert_header(("sec-websocket-version", "13"))
        .body("web chat protocol v1 is a WebSocket endpoint (docs/protocol.md)")
}
