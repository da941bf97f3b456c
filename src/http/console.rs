//! `GET /console` and `/console/{asset}`: the admin console, a single-page app over the
//! admin API (docs/console.md). Its files live in `static/console/` and are compiled
//! into the binary like the widget, so `cargo run --release` serves the console with no
//! Node and no files beside it; `editor.js` is the vendored CodeMirror 6 bundle that
//! `scripts/build-console.sh` builds from pinned npm packages (and checks in CI).
//!
//! Every answer carries a strict Content-Security-Policy: scripts, styles and
//! connections only from our own origin, nothing inline, no frames, no plugins. The one
//! exception is the stylesheet CodeMirror writes into a `<style>` element at run time:
//! the page carries a fresh random nonce for it (header and `<meta name="csp-nonce">`),
//! which the console hands to `EditorView.cspNonce`; scripts get no nonce at all. The
//! console renders every flow and transcript text with `textContent`, and the policy is
//! the second wall should that ever slip. The API key lives in `sessionStorage`, so
//! the pages are `no-store` and never put the key in a URL.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// The policy of the console's scripts and stylesheet.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; font-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The policy of the page: [`CSP`], and `<style>` elements that carry `nonce`.
pub fn page_csp(nonce: &str) -> String {
    CSP.replace(
        "style-src 'self';",
        &format!("style-src 'self' 'nonce-{nonce}';"),
    )
}

/// Where `index.html` takes the page's nonce.
const NONCE_SLOT: &str = "{{csp_nonce}}";

/// The console's files: name, content type, content. The scripts run in this order
/// (`index.html`): `core.js` (helpers, session, API client), `diff.js`, `graph.js`, the
/// views (`flows.js`, `transcripts.js`, `settings.js`, `analytics.js`, `inbox.js`,
/// `knowledge.js`), then
/// `console.js` (sign-in, frame, router); `editor.js` is the CodeMirror bundle.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "core.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/core.js"),
    ),
    (
        "diff.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/diff.js"),
    ),
    (
        "graph.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/graph.js"),
    ),
    (
        "flows.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/flows.js"),
    ),
    (
        "transcripts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/transcripts.js"),
    ),
    (
        "settings.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/settings.js"),
    ),
    (
        "inbox.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/inbox.js"),
    ),
    (
        "analytics.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/analytics.js"),
    ),
    (
        "knowledge.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/knowledge.js"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/console.js"),
    ),
    (
        "editor.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/console/editor.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../static/console/console.css"),
    ),
];

/// The page itself.
pub const INDEX: &str = include_str!("../../static/console/index.html");

fn hardened(
    mut builder: actix_web::HttpResponseBuilder,
    csp: String,
) -> actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

/// `GET /console`: the page, with a fresh style nonce.
pub async fn page() -> HttpResponse {
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    let nonce = STANDARD.encode(bytes);
    hardened(HttpResponse::Ok(), page_csp(&nonce))
        .content_type("text/html; charset=utf-8")
        .body(INDEX.replace(NONCE_SLOT, &nonce))
}

/// `GET /console/{asset}`: a script or the stylesheet; anything else is 404.
pub async fn asset(name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, content_type, body)) => hardened(HttpResponse::Ok(), CSP.into())
            .content_type(*content_type)
            .body(*body),
        None => hardened(HttpResponse::NotFound(), CSP.into())
            .content_type("text/plain; charset=utf-8")
            .body("not found"),
    }
}
