//! The HTTP server: the actix-web app for every route, served by actix-http built here
//! rather than through `actix_web::HttpServer`, for one reason: a `Connection: upgrade`
//! request is handed, with its raw connection, to the web chat's own WebSocket layer
//! ([`crate::channels::webchat::upgrade`]). That layer (tokio-tungstenite) closes with the
//! codes RFC 6455 asks for, refuses an oversized frame from its header, closes the TCP
//! connection right after the closing handshake, and keeps no HTTP/1 buffers for the
//! socket's life — none of which actix-ws could do (docs/benchmarks.md, "WebSocket
//! layer").
//!
//! Everything else matches what `HttpServer` would set up: keep-alive and request
//! timeouts, `TCP_NODELAY`, one app per worker, graceful stop. Every request gets its
//! `x-request-id` here, around the app ([`crate::http::request_id`]).

use std::fmt;
use std::net::TcpListener;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, Request, Response};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, apply_fn_factory, map_config,
};
use actix_web::dev::AppConfig;

use crate::channels::webchat::WebchatContext;
use crate::channels::webchat::upgrade;
use crate::http::request_id;

/// How the server runs.
pub struct Settings {
    /// Worker threads; 0 = one per CPU.
    pub workers: usize,
    /// How long a stopping server waits for requests in progress.
    pub shutdown_timeout: Duration,
}

/// Binds the app to `listener` and returns the running server (not yet awaited).
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    settings: Settings,
    webchat: WebchatContext,
    app: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error>,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>>,
    B: MessageBody + 'static,
{
    let mut builder = Server::build()
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout.as_secs());
    if settings.workers > 0 {
        builder = builder.workers(settings.workers);
    }
    builder
        .listen("switchboard-http", listener, move || {
            let webchat = webchat.clone();
            HttpService::build()
                // Chat frames are small and often come in pairs (an ack, then the message):
                // with Nagle's algorithm the second waits for the client's delayed ACK.
                .tcp_nodelay(true)
                .upgrade(upgrade::factory(webchat))
                .finish(apply_fn_factory(
                    map_config(
                        app().into_factory().map_err(|e| e.into().error_response()),
                        |_| AppConfig::default(),
                    ),
                    |request: Request, app| {
                        let id = request_id::assign(&request);
                        let response = app.call(request);
                        async move {
                            match response.await {
                                Ok(response) => {
                                    let mut response: Response<B> = response.into();
                                    request_id::echo(response.headers_mut(), &id);
                                    Ok(response)
                                }
                                Err(mut response) => {
                                    request_id::echo(response.headers_mut(), &id);
                                    Err(response)
                                }
                            }
                        }
                    },
                ))
                .tcp()
        })
        .map(|builder| builder.run())
}
