//! A fake tenant API ("the shop") on `127.0.0.1:0`, served by actix-web on its own
//! thread, that records every request it receives (method, raw target, headers, body)
//! so tests can assert exactly what went over the wire — or that nothing did.
//!
//! Routes: `/api/orders/*` (order JSON), `/api/notes` (echoes the parsed JSON body),
//! `/api/empty` (204), `/slow` (sleeps 10 s), `/status/<code>`, `/redirect` (302 to
//! `/redirect-target`), `/big` (2 MiB with Content-Length), `/big-chunked` (8 KiB,
//! chunked), `/html` (200 text/html).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::testkit::server::{FakeServer, lock};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub(super) struct Recorded {
    pub method: String,
    /// Path and query exactly as sent (still percent-encoded).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
}

pub(super) struct FakeShop {
    shared: Arc<Shared>,
    server: FakeServer,
}

impl FakeShop {
    pub async fn start() -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let state = web::Data::from(shared.clone());
        let server = FakeServer::start("fake-shop", move |cfg| {
            cfg.app_data(state.clone()).default_service(web::to(handle));
        })?;
        Ok(Self { shared, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:<port>` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// The only request received; fails the test if there were none or several.
    pub fn single_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request: {requests:?}"
        );
        requests.into_iter().next().expect("one request")
    }

    pub async fn stop(self) {
        self.server.stop_async().await;
    }
}

async fn handle(req: HttpRequest, body: Bytes, state: web::Data<Shared>) -> HttpResponse {
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    lock(&state.requests).push(Recorded {
        method: req.method().to_string(),
        target: target.clone(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.clone(),
    });

    let path = req.uri().path();
    if path.starts_with("/api/orders/") {
        return HttpResponse::Ok().json(json!({
            "status": "shipped",
            "delivery": {"eta": "2026-12-01", "carrier": {"name": "Parcelo"}},
            "items": [{"sku": "A1", "qty": 2}]
        }));
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let status = code
            .parse()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        return HttpResponse::build(status).json(json!({"error": "as requested"}));
    }
    match path {
        "/api/notes" => match serde_json::from_slice::<Value>(&body) {
            Ok(parsed) => HttpResponse::Ok().json(json!({"received": parsed})),
            Err(_) => HttpResponse::BadRequest().json(json!({"error": "body is not JSON"})),
        },
        "/api/empty" => HttpResponse::NoContent().finish(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            HttpResponse::Ok().json(json!({"late": true}))
        }
        "/redirect" => HttpResponse::Found()
            .insert_header(("Location", "/redirect-target"))
            .finish(),
        "/big" => {
            let filler = "x".repeat(2 * 1024 * 1024);
            HttpResponse::Ok().json(json!({"filler": filler}))
        }
        "/big-chunked" => {
            let chunks = (0..8).map(|_| Ok::<_, io::Error>(Bytes::from(vec![b' '; 1024])));
            HttpResponse::Ok()
                .content_type("application/json")
                .streaming(futures_util::stream::iter(chunks))
        }
        "/html" => HttpResponse::Ok()
            .content_type("text/html")
            .body("<html><body>hello</body></html>"),
        _ => HttpResponse::NotFound().json(json!({"error": "no such route"})),
    }
}
