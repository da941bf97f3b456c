//! A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records every
//! `POST /hook` (headers and body) and answers with the next scripted status (200 once
//! the script is used up), so tests can check signatures, retries and deduplication.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;

use super::server::{FakeServer, lock};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Lower-case header names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// The status it was answered with.
    pub status: u16,
}

struct Shared {
    script: Mutex<VecDeque<u16>>,
    received: Mutex<Vec<Received>>,
}

pub struct WebhookReceiver {
    /// `http://127.0.0.1:PORT/hook`
    pub url: String,
    shared: Arc<Shared>,
    _server: FakeServer,
}

impl WebhookReceiver {
    pub async fn start() -> io::Result<Self> {
        let shared = Arc::new(Shared {
            script: Mutex::new(VecDeque::new()),
            received: Mutex::new(Vec::new()),
        });
        let state = web::Data::from(shared.clone());
        let server = FakeServer::start("webhook-receiver", move |cfg| {
            cfg.app_data(state.clone())
                .route("/hook", web::post().to(receive));
        })?;
        Ok(Self {
            url: format!("http://{}/hook", server.addr()),
            shared,
            _server: server,
        })
    }

    /// The next requests are answered with these statuses, in order.
    pub fn answer_with(&self, statuses: impl IntoIterator<Item = u16>) {
        lock(&self.shared.script).extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }
}

async fn receive(state: web::Data<Shared>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let status = lock(&state.script).pop_front().unwrap_or(200);
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    lock(&state.received).push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
    });
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK)).finish()
}
