//! The web widget's server pieces over real HTTP: `GET /widget.js` (content type,
//! ETag, 304, caching, gzip) and the per-tenant identity secret of the admin API
//! (write-only, owner only, encrypted at rest, audited, in OpenAPI), on both stores.
//! The widget itself is tested in a real browser by `tests/browser/` (scripts/browser-tests.sh).

use crate::support::admin::Admin;
use crate::support::{Backend, spawn_server};
use serde_json::{Value, json};
use switchboard::channels::webchat::identity::{self, IdentityError};
use switchboard::secret_box::SecretBox;

on_both_stores!(identity_secret_is_write_only_and_audited);

const SECRETS_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const SECRET: &str = "acme-widget-identity-secret-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_js_is_served_with_etag_304_and_caching() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let url = format!("http://{}/widget.js", node.addr());
    let http = reqwest::Client::new();

    let first = http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let headers = first.headers().clone();
    assert_eq!(
        headers["content-type"].to_str().unwrap(),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        headers["cache-control"].to_str().unwrap(),
        "public, max-age=300"
    );
    assert_eq!(
        headers["x-content-type-options"].to_str().unwrap(),
        "nosniff"
    );
    let etag = headers["etag"].to_str().unwrap().to_string();
    let hash = switchboard::http::widget::content_hash();
    assert_eq!(etag, format!("\"{hash}\""));
    let body = first.text().await.unwrap();
    assert_eq!(body, switchboard::http::widget::SCRIPT);
    assert!(
        body.contains("attachShadow") && body.contains("/v1/ws"),
        "the widget speaks protocol v1 from a shadow root"
    );

    // Revalidation: the same ETag (strong, weak, or in a list) gets 304 and no body.
    for validator in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"stale\", {etag}"),
    ] {
        let again = http
            .get(&url)
            .header("If-None-Match", &validator)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{validator}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        assert_eq!(
            again.headers()["cache-control"].to_str().unwrap(),
            "public, max-age=300"
        );
        assert!(again.bytes().await.unwrap().is_empty());
    }
    let changed = http
        .get(&url)
        .header("If-None-Match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);

    // The versioned URL may be cached for good; a stale version may not.
    let pinned = http.get(format!("{url}?v={hash}")).send().await.unwrap();
    assert_eq!(pinned.status(), 200);
    assert_eq!(
        pinned.headers()["cache-control"].to_str().unwrap(),
        "public, max-age=31536000, immutable"
    );
    let stale = http.get(format!("{url}?v=0000")).send().await.unwrap();
    assert_eq!(
        stale.headers()["cache-control"].to_str().unwrap(),
        "public, max-age=300"
    );

    // Compressed on request (reqwest here has no gzip decoder, so the bytes stay raw).
    let gzipped = http
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.status(), 200);
    assert_eq!(
        gzipped.headers()["content-encoding"].to_str().unwrap(),
        "gzip"
    );
    let compressed = gzipped.bytes().await.unwrap();
    assert_eq!(&compressed[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(compressed.len() < body.len() / 2);

    // The demo page embeds it exactly as a customer would.
    let page = reqwest::get(format!("http://{}/", node.addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("src=\"/widget.js\"") && page.contains("data-tenant=\"demo\""));
    node.shutdown().await;
}

async fn identity_secret_is_write_only_and_audited(backend: Backend) {
    let mut config = backend.config();
    config.security.secrets_key = SECRETS_KEY.into();
    let node = spawn_server(config).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    let editor = owner.with_key(&owner.key_for("acme", "editor").await);
    let viewer = owner.with_key(&owner.key_for("acme", "viewer").await);
    let stranger = operator.with_key(&operator.tenant_with_owner("other", "main").await);
    let path = "/v1/admin/tenants/acme/widget";

    let unset = viewer.get(path).await;
    assert_eq!(unset.status, 200, "{:?}", unset.body);
    assert_eq!(
        unset.body,
        json!({"identity_secret_set": false, "identity_secret_updated_at": null})
    );

    // Only an owner may set it; another tenant's owner cannot even see it.
    let body = json!({ "identity_secret": SECRET });
    assert_eq!(editor.put_json(path, body.clone()).await.status, 403);
    assert_eq!(viewer.put_json(path, body.clone()).await.status, 403);
    assert_eq!(stranger.put_json(path, body.clone()).await.status, 404);
    assert_eq!(stranger.get(path).await.status, 404);
    assert_eq!(stranger.delete(path).await.status, 404);

    let created = owner.put_json(path, body.clone()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["identity_secret_set"], true);
    let set_at = created.body["identity_secret_updated_at"].as_i64().unwrap();
    assert!(set_at > 0);
    let shown = viewer.get(path).await;
    assert_eq!(shown.body["identity_secret_set"], true);
    assert_eq!(shown.body["identity_secret_updated_at"], set_at);
    assert!(!shown.body.to_string().contains(SECRET), "never returned");
    let replaced = owner
        .put_json(
            path,
            json!({ "identity_secret": format!("{SECRET}-rotated") }),
        )
        .await;
    assert_eq!(replaced.status, 200, "{:?}", replaced.body);
    assert!(
        replaced.body["identity_secret_updated_at"]
            .as_i64()
            .unwrap()
            >= set_at
    );

    // Sealed at rest with the secrets key; what it opens to verifies tokens.
    let row = node
        .runtime()
        .services()
        .store
        .widget_settings("acme")
        .await
        .unwrap()
        .expect("a row while a secret is set");
    assert!(!row.identity_secret_encrypted.contains(SECRET));
    let opened = SecretBox::from_hex(SECRETS_KEY)
        .unwrap()
        .open(&row.identity_secret_encrypted)
        .unwrap();
    assert_eq!(opened, format!("{SECRET}-rotated"));
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "user-1", "name": "Ada"}),
        &jsonwebtoken::EncodingKey::from_secret(opened.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        identity::verify(&token, Some(opened.as_bytes()))
            .unwrap()
            .sub,
        "user-1"
    );
    assert_eq!(
        identity::verify(&token, Some(SECRET.as_bytes())),
        Err(IdentityError::BadSignature),
        "the old secret no longer verifies"
    );
    assert!(
        node.runtime()
            .services()
            .store
            .widget_settings("other")
            .await
            .unwrap()
            .is_none(),
        "per tenant"
    );

    // Bad bodies are 400 with the API's error shape, never a 5xx.
    for bad in [
        json!({ "identity_secret": "too-short" }),
        json!({ "identity_secret": "x".repeat(513) }),
        json!({ "identity_secret": 42 }),
        json!({}),
        json!({ "identity_secret": SECRET, "extra": 1 }),
        json!([SECRET]),
    ] {
        let reply = owner.put_json(path, bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}: {:?}", reply.body);
        assert_eq!(reply.code(), "invalid_request");
        assert!(!reply.body.to_string().contains(SECRET));
    }

    // Removed, then gone; removing again is 404.
    assert_eq!(editor.delete(path).await.status, 403);
    assert_eq!(owner.delete(path).await.status, 204);
    assert_eq!(
        viewer.get(path).await.body["identity_secret_set"],
        Value::Bool(false)
    );
    assert_eq!(owner.delete(path).await.status, 404);
    assert_eq!(
        operator.get("/v1/admin/tenants/nobody/widget").await.status,
        404
    );

    // Audited, without the secret.
    let audit = owner.get("/v1/admin/tenants/acme/audit").await;
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "widget.identity_secret.put")
            .count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"widget.identity_secret.delete"));
    assert!(!audit.body.to_string().contains(SECRET));

    // In the OpenAPI document.
    let doc: Value = reqwest::get(format!("http://{}/v1/openapi.json", node.addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = &doc["paths"]["/v1/admin/tenants/{tenant}/widget"];
    for method in ["get", "put", "delete"] {
        assert!(item.get(method).is_some(), "widget lacks {method}");
    }
    assert!(doc["components"]["schemas"].get("PutWidget").is_some());
    node.shutdown().await;
}
