//! HTTP edge (actix-web): one file per resource, mirroring the URL tree.
//!
//! | route | file |
//! |---|---|
//! | `GET /` | [`demo_page`] |
//! | `GET /console`, `GET /console/{asset}` | [`console`] (the admin console) |
//! | `GET /widget.js` | [`widget`] (the embeddable web widget) |
//! | `GET /healthz`, `GET /readyz` | [`health`] |
//! | `GET /v1/ws` | [`ws`] (web chat protocol v1) |
//! | `GET /v1/openapi.json` | [`openapi`] |
//! | `GET /v1/schemas/flow.json` | [`schemas`] |
//! | `POST /v1/channels/{provider}/{channel_id}`, `GET /v1/channels/whatsapp/{channel_id}` | [`channels`] (provider webhooks) |
//! | `/v1/admin/…` | [`admin`] (registered through utoipa-actix-web, see `app.rs`) |
//!
//! Around the app, [`server`] gives every request its id ([`request_id`]: `x-request-id`
//! on every response). Middlewares wrap every route, outermost first: tracing-actix-web
//! with [`request_log`] (the request span and its outcome), [`body_timeout`] (a body must
//! arrive within `server.body_timeout_secs`) and [`nul`] (U+0000 in a path, a query or an
//! admin body is refused).

pub mod admin;
pub mod agent;
pub mod body_timeout;
pub mod channels;
pub mod console;
pub mod demo_page;
pub mod health;
mod metrics;
pub mod nul;
pub mod openapi;
pub mod request_id;
pub mod request_log;
pub mod schemas;
pub mod server;
pub mod widget;
pub mod ws;

use actix_web::web;

/// Registers every route. The binary and the tests build their apps with this.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(demo_page::page))
        .route("/console", web::get().to(console::page))
        .route("/console/", web::get().to(console::page))
        .service(
            web::resource("/console/{asset}")
                .wrap(actix_web::middleware::Compress::default())
                .route(web::get().to(console::asset)),
        )
        .service(
            web::resource("/widget.js")
                .wrap(actix_web::middleware::Compress::default())
                .route(web::get().to(widget::script)),
        )
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::scrape))
        .route("/v1/ws", web::get().to(ws::not_upgraded))
        .route("/v1/openapi.json", web::get().to(openapi::document))
        .route("/v1/schemas/flow.json", web::get().to(schemas::flow))
        .route(
            "/v1/channels/whatsapp/{channel_id}",
            web::get().to(channels::whatsapp_subscribe),
        )
        .route(
            "/v1/channels/{provider}/{channel_id}",
            web::post().to(channels::receive),
        );
}
