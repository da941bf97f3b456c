//! Defect 2: U+0000 (NUL) gets the same typed 4xx / `error` frame on both stores (it was a
//! 503 and a restart loop on PostgreSQL, which cannot store it), never a 5xx, and the
//! conversation keeps working.

use serde_json::json;
use switchboard::channels::whatsapp;
use switchboard::store::{NewTenant, Store, StoreError};
use switchboard::testkit::fake_whatsapp::FakeWhatsapp;

use crate::support::admin::Admin;
use crate::support::{Backend, Client, spawn_server};

const FLOW: &str = "id: main\nslots:\n  q: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: q, prompt: \"Ask me anything.\" }\n    next: done\n  done:\n    end: \"Thanks!\"\n";

fn wa_body(wamid: &str, text: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PN1"},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "4915112345678"}],
        "messages": [{"from": "4915112345678", "id": wamid, "timestamp": "1700000000", "type": "text", "text": {"body": text}}]
    }}]}]})
    .to_string()
}

async fn nul_is_refused_alike(backend: Backend) {
    let wa = FakeWhatsapp::start_with_token("wa-token").unwrap();
    let mut config = backend.config();
    config.channels.whatsapp_base_url = wa.base_url();
    let node = spawn_server(config).await;
    let addr = node.addr();

    // Web chat: a message with NUL is refused with `invalid_text`, however often it is
    // resent, and the conversation is neither restarted nor quarantined by it.
    let mut client = Client::connect(addr).await;
    client.hello("demo").await;
    client.bot_says("what's your name").await;
    for _ in 0..5 {
        client
            .send_json(json!({"type": "message", "client_id": "nul-1", "text": "Ed\u{0}sger"}))
            .await;
        let error = client.until(|f| f["type"] == "error").await;
        assert_eq!(error["code"], "invalid_text", "{error}");
        assert_eq!(error["client_id"], "nul-1");
    }
    client.say("Edsger").await;
    client.bot_says("nice to meet you, edsger").await;
    client.assert_gap_free();

    let mut other = Client::connect(addr).await;
    other
        .send_json(json!({"type": "hello", "tenant": "de\u{0}mo"}))
        .await;
    let error = other.until(|f| f["type"] == "error").await;
    assert_eq!(error["code"], "invalid_text", "{error}");

    // Admin API: a NUL in a body, a path or a query.
    let admin = Admin::operator(addr);
    let created = admin
        .post(
            "/v1/admin/tenants",
            json!({"id": "nul", "name": "a\u{0}b", "entry_flow": "main"}),
        )
        .await;
    assert_eq!(
        (created.status, created.code()),
        (400, "invalid_text"),
        "{created:?}"
    );
    let created = admin
        .post(
            "/v1/admin/tenants",
            json!({"id": "n\u{0}ul", "name": "nul", "entry_flow": "main"}),
        )
        .await;
    assert_eq!(
        (created.status, created.code()),
        (400, "invalid_text"),
        "{created:?}"
    );
    for path in [
        "/v1/admin/tenants/a%00b",
        "/v1/admin/tenants/demo/conversations/a%00b",
        "/v1/admin/tenants/demo/conversations?status=a%00b",
    ] {
        let reply = admin.get(path).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_text"),
            "{path}: {reply:?}"
        );
    }

    // Webhooks, unauthenticated.
    let http = reqwest::Client::new();
    for provider in ["whatsapp", "slack", "teams"] {
        let response = http
            .post(format!("http://{addr}/v1/channels/{provider}/a%00b"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(status == 400 || status == 404, "{provider}: {status}");
    }

    // A signed webhook whose message text holds a NUL: stored with U+FFFD in its place
    // (a provider cannot resend it otherwise), on both stores.
    let owner = admin.with_key(&admin.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", FLOW).await;
    let put = owner
        .put_json(
            "/v1/admin/tenants/acme/channels/wa-main",
            json!({"provider": "whatsapp", "config": {"phone_number_id": "PN1"},
                   "secrets": {"app_secret": "wa-app-secret", "verify_token": "v", "access_token": "wa-token"}}),
        )
        .await;
    assert_eq!(put.status, 201, "{put:?}");
    let body = wa_body("wamid.nul", "a\u{0}b");
    let posted = http
        .post(format!("http://{addr}/v1/channels/whatsapp/wa-main"))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            whatsapp::sign(body.as_bytes(), "wa-app-secret"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let list = owner.get("/v1/admin/tenants/acme/conversations").await;
    let id = list.body[0]["id"]
        .as_str()
        .expect("a conversation")
        .to_string();
    let detail = owner
        .get(&format!("/v1/admin/tenants/acme/conversations/{id}"))
        .await;
    assert_eq!(
        detail.body["messages"][0]["text"], "a\u{FFFD}b",
        "{detail:?}"
    );

    // The node still serves everyone.
    let healthy = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(healthy.status(), 200);
    node.shutdown().await;

    // The store's own guard: what PostgreSQL refuses is a typed `InvalidInput`, not a
    // database fault (SQLite stores it; the edges keep it from getting there).
    if backend.name == "postgres" {
        let mut config = backend.config();
        config.database.url = backend.url.clone();
        let store = Store::connect(&config.database).await.unwrap();
        let refused = store
            .create_tenant(&NewTenant {
                id: "nul",
                name: "a\u{0}b",
                entry_flow: "main",
                allowed_origins: &[],
                allow_private_adaptors: false,
                llm_model: None,
            })
            .await;
        assert!(
            matches!(refused, Err(StoreError::InvalidInput(_))),
            "{refused:?}"
        );
    }
}

on_both_stores!(nul_is_refused_alike);
