//! `GET /widget.js`: the embeddable web widget (docs/widget.md), one hand-written,
//! framework-free script compiled into the binary, so a release build serves it with
//! no Node installed and no files beside it.
//!
//! Sites embed it with a plain `<script src>`, so it must be cheap to revalidate: the
//! ETag is a hash of the content, fixed at build time, `If-None-Match` answers 304, and
//! browsers may reuse it for five minutes. A URL that names the current hash
//! (`/widget.js?v=<hash>`) never changes meaning, so it is cacheable for a year; any
//! other `v` gets the short policy, since it names a script this binary does not have.
//! Compression is left to the route's gzip middleware (`src/http/mod.rs`).

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// The widget, as served.
pub const SCRIPT: &str = include_str!("../../static/widget.js");

/// `Cache-Control` of `/widget.js`: short, so a new release reaches sites within minutes.
pub const CACHE_SHORT: &str = "public, max-age=300";
/// `Cache-Control` of `/widget.js?v=<current hash>`.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";

static HASH: LazyLock<String> =
    LazyLock::new(|| hex::encode(&Sha256::digest(SCRIPT.as_bytes())[..8]));

/// The content hash of the script (16 hex digits): its ETag and its `?v=`.
pub fn content_hash() -> &'static str {
    &HASH
}

/// The URL path that may be cached forever.
pub fn versioned_path() -> String {
    format!("/widget.js?v={}", content_hash())
}

/// True when an `If-None-Match` header value names `etag` (or is `*`). Weak validators
/// compare equal to strong ones here, as RFC 9110 asks for `If-None-Match`.
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

pub async fn script(req: HttpRequest) -> HttpResponse {
    let etag = format!("\"{}\"", content_hash());
    let pinned = url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(key, value)| key == "v" && value == content_hash());
    let cache_control = if pinned { CACHE_IMMUTABLE } else { CACHE_SHORT };
    let fresh = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .any(|value| matches(value, &etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        response.finish()
    } else {
        response
            .content_type("text/javascript; charset=utf-8")
            .body(SCRIPT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_validators() {
        let etag = "\"abc\"";
        assert!(matches("\"abc\"", etag));
        assert!(matches("W/\"abc\"", etag));
        assert!(matches("\"x\", \"abc\"", etag));
        assert!(matches("*", etag));
        assert!(!matches("\"abcd\"", etag));
        assert!(!matches("abc", etag));
        assert!(!matches("", etag));
    }

    #[test]
    fn the_hash_names_the_content() {
        assert_eq!(content_hash().len(), 16);
        assert!(versioned_path().ends_with(content_hash()));
    }
}
