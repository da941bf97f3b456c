//! A fake Bot Framework for tests: a real actix-web HTTP server on 127.0.0.1:0 serving
//! the OpenID metadata (`/.well-known/openidconfiguration`), the signing keys (`/keys`),
//! the AAD token endpoint (`/oauth2/v2.0/token`, client credentials) and the Bot
//! Connector (`POST /v3/conversations/{id}/activities`), with call counters, a record of
//! every activity, and programmable failures ([`FakeTeams::fail_next`]). It signs RS256
//! tokens as the Bot Connector would ([`FakeTeams::sign_token`]).
//!
//! The server runs on its own OS thread inside an `actix_web::rt::System` with one
//! worker and signals disabled, so it works from any tokio runtime flavour.
//!
//! The RSA keys (in `fake_teams/keys.rs`) are TEST KEYS embedded in the source; they
//! protect nothing and must never be used elsewhere.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::server::{FakeServer, lock};

use crate::channels::teams::jwt::{BOT_FRAMEWORK_ISSUER, TeamsAuthConfig, ensure_crypto_provider};
use crate::channels::teams::token::{Secret, TokenConfig};

mod keys;

pub use keys::TestKey;
use keys::sign_with;

pub const TEST_APP_ID: &str = "00000000-0000-4000-8000-00000000b07a";
pub const TEST_APP_PASSWORD: &str = "fake-app-password";
pub const TEST_KID: &str = "fake-kid-1";

/// What the fake does instead of handling the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Answer with this status; with `Some(secs)` also send `Retry-After: secs`.
    Status(u16, Option<u64>),
    /// Close the connection without a complete response.
    Drop,
}

/// One activity the fake connector accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedActivity {
    pub conversation_id: String,
    pub activity: Value,
}

struct Shared {
    app_id: String,
    app_password: String,
    kid: String,
    published: Mutex<Vec<(String, TestKey)>>,
    issued_tokens: Mutex<HashSet<String>>,
    token_failures: Mutex<VecDeque<Failure>>,
    connector_failures: Mutex<VecDeque<Failure>>,
    activities: Mutex<Vec<RecordedActivity>>,
    token_calls: AtomicUsize,
    token_expires_in: AtomicU64,
    jwks_fetches: AtomicUsize,
    metadata_fetches: AtomicUsize,
    next_id: AtomicUsize,
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Claims of a valid Bot Connector token: `iss`, `aud`, `exp` (+1 h), `nbf` (-1 min),
/// `serviceUrl`.
pub fn test_claims(issuer: &str, audience: &str, service_url: &str) -> Value {
    let now = now_secs();
    json!({
        "iss": issuer, "aud": audience, "exp": now + 3600, "nbf": now.saturating_sub(60),
        "serviceUrl": service_url,
    })
}

/// Handle to a running fake; the server stops on [`FakeTeams::stop`] or drop.
pub struct FakeTeams {
    base_url: String,
    shared: Arc<Shared>,
    server: FakeServer,
}

impl FakeTeams {
    /// Starts with [`TEST_APP_ID`], [`TEST_APP_PASSWORD`] and the primary key as [`TEST_KID`].
    pub async fn start() -> io::Result<Self> {
        Self::start_with(TEST_APP_ID, TEST_APP_PASSWORD, TEST_KID).await
    }

    pub async fn start_with(app_id: &str, app_password: &str, kid: &str) -> io::Result<Self> {
        ensure_crypto_provider();
        let shared = Arc::new(Shared {
            app_id: app_id.to_owned(),
            app_password: app_password.to_owned(),
            kid: kid.to_owned(),
            published: Mutex::new(vec![(kid.to_owned(), TestKey::Primary)]),
            issued_tokens: Mutex::new(HashSet::new()),
            token_failures: Mutex::new(VecDeque::new()),
            connector_failures: Mutex::new(VecDeque::new()),
            activities: Mutex::new(Vec::new()),
            token_calls: AtomicUsize::new(0),
            token_expires_in: AtomicU64::new(3600),
            jwks_fetches: AtomicUsize::new(0),
            metadata_fetches: AtomicUsize::new(0),
            next_id: AtomicUsize::new(1),
        });
        let state = web::Data::from(shared.clone());
        let server = FakeServer::start_at("fake-teams", move |addr| {
            let base = web::Data::new(format!("http://{addr}"));
            move |cfg: &mut web::ServiceConfig| {
                cfg.app_data(state.clone())
                    .app_data(base.clone())
                    .route("/.well-known/openidconfiguration", web::get().to(metadata))
                    .route("/keys", web::get().to(keys))
                    .route("/oauth2/v2.0/token", web::post().to(token))
                    .route(
                        "/v3/conversations/{id}/activities",
                        web::post().to(activities),
                    );
            }
        })?;
        let base_url = format!("http://{}", server.addr());
        Ok(Self {
            base_url,
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The `serviceUrl` to put in activities (with a trailing `/`, like the real ones).
    pub fn service_url(&self) -> String {
        format!("{}/", self.base_url)
    }

    pub fn openid_metadata_url(&self) -> String {
        format!("{}/.well-known/openidconfiguration", self.base_url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v2.0/token", self.base_url)
    }

    pub fn app_id(&self) -> &str {
        &self.shared.app_id
    }

    pub fn app_password(&self) -> &str {
        &self.shared.app_password
    }

    /// `kid` of the primary key.
    pub fn kid(&self) -> &str {
        &self.shared.kid
    }

    /// Inbound validator settings pointing at this fake.
    pub fn auth_config(&self) -> TeamsAuthConfig {
        TeamsAuthConfig {
            openid_metadata_url: self.openid_metadata_url(),
            ..TeamsAuthConfig::new(self.app_id())
        }
    }

    /// Token client settings pointing at this fake.
    pub fn token_config(&self) -> TokenConfig {
        TokenConfig {
            token_url: self.token_url(),
            ..TokenConfig::new(self.app_id(), Secret::new(self.app_password()))
        }
    }

    /// Claims of a valid inbound token for this fake's app and service URL.
    pub fn valid_claims(&self) -> Value {
        test_claims(BOT_FRAMEWORK_ISSUER, self.app_id(), &self.service_url())
    }

    /// Adds `key` to the JWKS under `kid` (key rotation).
    pub fn publish_key(&self, kid: &str, key: TestKey) {
        lock(&self.shared.published).push((kid.to_owned(), key));
    }

    /// An RS256 token over `claims`, signed with the primary key, header `kid` = [`Self::kid`].
    pub fn sign_token(&self, claims: Value) -> String {
        sign_with(TestKey::Primary, &self.shared.kid, &claims)
    }

    /// An RS256 token signed with any test key and any `kid` (forgeries, rotation).
    pub fn sign_token_with(&self, key: TestKey, kid: &str, claims: Value) -> String {
        sign_with(key, kid, &claims)
    }

    /// `expires_in` of the tokens issued from now on (default 3600).
    pub fn set_token_expires_in(&self, secs: u64) {
        self.shared.token_expires_in.store(secs, Ordering::SeqCst);
    }

    /// Failures for the next connector requests, in order.
    pub fn fail_next(&self, failures: Vec<Failure>) {
        lock(&self.shared.connector_failures).extend(failures);
    }

    /// Failures for the next token requests, in order.
    pub fn fail_next_token(&self, failures: Vec<Failure>) {
        lock(&self.shared.token_failures).extend(failures);
    }

    /// Every activity accepted by the connector, in arrival order.
    pub fn activities(&self) -> Vec<RecordedActivity> {
        lock(&self.shared.activities).clone()
    }

    pub fn token_calls(&self) -> usize {
        self.shared.token_calls.load(Ordering::SeqCst)
    }

    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn metadata_fetches(&self) -> usize {
        self.shared.metadata_fetches.load(Ordering::SeqCst)
    }

    /// Stops the server and waits for its thread.
    pub async fn stop(self) {
        self.server.stop_async().await;
    }
}

async fn metadata(state: web::Data<Shared>, base: web::Data<String>) -> HttpResponse {
    state.metadata_fetches.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().json(json!({
        "issuer": BOT_FRAMEWORK_ISSUER,
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{}/keys", base.get_ref()),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
}

async fn keys(state: web::Data<Shared>) -> HttpResponse {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let published = lock(&state.published).clone();
    let keys: Vec<Value> = published
        .iter()
        .filter_map(|(kid, key)| key.jwk(kid))
        .collect();
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

async fn token(state: web::Data<Shared>, body: Bytes) -> HttpResponse {
    state.token_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(failure) = lock(&state.token_failures).pop_front() {
        return failure_response(failure);
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return HttpResponse::BadRequest().json(json!({"error": "unsupported_grant_type"}));
    }
    if field("client_id") != Some(state.app_id.as_str())
        || field("client_secret") != Some(state.app_password.as_str())
    {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let n = state.token_calls.load(Ordering::SeqCst);
    let access_token = format!("fake-{n}-{}", now_secs());
    lock(&state.issued_tokens).insert(access_token.clone());
    let expires_in = state.token_expires_in.load(Ordering::SeqCst);
    HttpResponse::Ok().json(json!({
        "token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
        "access_token": access_token,
    }))
}

async fn activities(
    state: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    if let Some(failure) = lock(&state.connector_failures).pop_front() {
        return failure_response(failure);
    }
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| lock(&state.issued_tokens).contains(t)) {
        return HttpResponse::Unauthorized()
            .json(json!({"error": {"code": "Unauthorized", "message": "bad token"}}));
    }
    let Ok(activity) = serde_json::from_slice::<Value>(&body) else {
        return HttpResponse::BadRequest()
            .json(json!({"error": {"code": "BadArgument", "message": "invalid JSON"}}));
    };
    let id = state.next_id.fetch_add(1, Ordering::SeqCst);
    lock(&state.activities).push(RecordedActivity {
        conversation_id: path.into_inner(),
        activity,
    });
    HttpResponse::Created().json(json!({ "id": id.to_string() }))
}

fn failure_response(failure: Failure) -> HttpResponse {
    match failure {
        Failure::Status(code, retry_after) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = HttpResponse::build(status);
            if let Some(secs) = retry_after {
                response.insert_header(("Retry-After", secs.to_string()));
            }
            response.json(json!({"error": {"code": "FakeFailure", "message": "scripted"}}))
        }
        // A body that fails at once: actix aborts the connection mid-response.
        Failure::Drop => HttpResponse::Ok().streaming(futures_util::stream::once(async {
            Err::<Bytes, io::Error>(io::Error::other("scripted connection drop"))
        })),
    }
}
