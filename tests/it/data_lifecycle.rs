//! What happens to what end users said: erasure of a conversation and of an end user
//! (GDPR, audited without the user's identity), retention (old messages deleted by the
//! bounded job, per tenant), and CORS on the admin API for configured console origins.

use std::time::Duration;

use crate::support::admin::Admin;
use crate::support::{Backend, Client, eventually, spawn_server};
use serde_json::{Value, json};
use sqlx::Connection;

on_both_stores!(
    erasure_deletes_what_was_said,
    retention_deletes_old_messages,
    deleted_tenants_are_purged_after_their_period
);

const FLOW: &str = "id: main\nslots:\n  name: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: name, prompt: \"Your name?\" }\n    next: bye\n  bye:\n    end: \"Hi {{ name }}\"\n";

/// A conversation in which the visitor says `text`; returns its id.
async fn conversation_saying(node: &switchboard::app::Node, text: &str) -> String {
    let mut client = Client::connect(node.addr()).await;
    client.hello("acme").await;
    client.bot_says("Your name?").await;
    client.say(text).await;
    client.bot_says(&format!("Hi {text}")).await;
    let id = client.conversation_id.clone().unwrap();
    client.close().await;
    id
}

async fn events_of(url: &str, conversation: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE conversation_id = $1")
        .bind(conversation)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    n
}

async fn erasure_deletes_what_was_said(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", FLOW).await;
    let editor = owner.with_key(&owner.key_for("acme", "editor").await);

    let first = conversation_saying(&node, "Ada").await;
    let second = conversation_saying(&node, "Grace").await;
    let kept = conversation_saying(&node, "Linus").await;
    assert!(events_of(&backend.url, &first).await > 0);

    // One conversation, by id: owners only.
    let path = format!("/v1/admin/tenants/acme/conversations/{first}");
    assert_eq!(editor.delete(&path).await.status, 403);
    let erased = owner.delete(&path).await;
    assert_eq!(erased.status, 204, "{:?}", erased.body);
    assert_eq!(owner.get(&path).await.status, 404);
    assert_eq!(events_of(&backend.url, &first).await, 0);
    assert_eq!(owner.delete(&path).await.status, 404, "erased once");
    let found = owner
        .get("/v1/admin/tenants/acme/conversations?q=ada")
        .await;
    assert_eq!(found.body, json!([]), "nothing said in it is searchable");

    // Every conversation of one end user, by channel and user id.
    let user = owner
        .get(&format!("/v1/admin/tenants/acme/conversations/{second}"))
        .await
        .body["external_user"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = owner
        .post(
            "/v1/admin/tenants/acme/erasure",
            json!({"channel": "fax", "external_user": user}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let erased = owner
        .post(
            "/v1/admin/tenants/acme/erasure",
            json!({"channel": "webchat", "external_user": user}),
        )
        .await;
    assert_eq!(erased.status, 200, "{:?}", erased.body);
    assert_eq!(erased.body["erased"], 1);
    assert_eq!(events_of(&backend.url, &second).await, 0);
    let digest = erased.body["subject_digest"].as_str().unwrap().to_string();

    // The other visitor's conversation is untouched.
    let still = owner
        .get(&format!("/v1/admin/tenants/acme/conversations/{kept}"))
        .await;
    assert_eq!(still.status, 200);
    assert!(still.body["messages"].to_string().contains("Linus"));

    // Audited, without the user's identity.
    let audit = owner.get("/v1/admin/tenants/acme/audit").await.body;
    let actions: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert!(actions.contains(&("conversation.erase", first.as_str())));
    assert!(actions.contains(&("end_user.erase", digest.as_str())));
    assert!(
        !audit.to_string().contains(&user),
        "the audit holds no user id"
    );
    drop(node);
}

async fn retention_deletes_old_messages(backend: Backend) {
    let mut config = backend.config();
    config.retention.sweep_interval_secs = 1;
    config.retention.batch_rows = 2; // several batches per sweep
    let node = spawn_server(config).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", FLOW).await;
    let viewer = owner.with_key(&owner.key_for("acme", "viewer").await);

    let old = conversation_saying(&node, "Ada").await;
    let recent = conversation_saying(&node, "Grace").await;
    let stored = events_of(&backend.url, &old).await;
    assert!(stored >= 4, "{stored}");
    // The first conversation happened ten days ago.
    let mut conn = sqlx::AnyConnection::connect(&backend.url).await.unwrap();
    sqlx::query("UPDATE events SET created_at = created_at - 864000000 WHERE conversation_id = $1")
        .bind(&old)
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);

    // No period yet (the default keeps everything): nothing goes.
    let path = "/v1/admin/tenants/acme/retention";
    assert_eq!(
        viewer.get(path).await.body,
        json!({"event_days": null, "default_event_days": 0, "effective_event_days": 0})
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(events_of(&backend.url, &old).await, stored);

    // Viewers cannot set it; bad periods are refused.
    let set = |days: Value| json!({ "event_days": days });
    assert_eq!(viewer.put_json(path, set(json!(7))).await.status, 403);
    assert_eq!(owner.put_json(path, set(json!(0))).await.status, 400);
    assert_eq!(owner.put_json(path, set(json!("7"))).await.status, 400);
    let put = owner.put_json(path, set(json!(7))).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["effective_event_days"], 7);

    // A week's period: the ten-day-old messages go, in batches; the recent stay.
    assert!(
        eventually(Duration::from_secs(15), || async {
            events_of(&backend.url, &old).await == 0
        })
        .await,
        "old messages deleted"
    );
    assert!(events_of(&backend.url, &recent).await >= 4);
    let transcript = viewer
        .get(&format!("/v1/admin/tenants/acme/conversations/{recent}"))
        .await;
    assert!(transcript.body["messages"].to_string().contains("Grace"));

    assert_eq!(owner.delete(path).await.status, 204);
    assert_eq!(viewer.get(path).await.body["event_days"], Value::Null);
}

/// Rows of the tenant in a few of its tables (the purge walks all of them).
async fn rows_of(url: &str, tenant: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut total = 0;
    for sql in [
        "SELECT COUNT(*) FROM tenants WHERE id = $1",
        "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1",
        "SELECT COUNT(*) FROM flows WHERE tenant_id = $1",
        "SELECT COUNT(*) FROM flow_versions WHERE tenant_id = $1",
        "SELECT COUNT(*) FROM conversations WHERE tenant_id = $1",
        "SELECT COUNT(*) FROM events WHERE tenant_id = $1",
        "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1",
    ] {
        let (n,): (i64,) = sqlx::query_as(sql)
            .bind(tenant)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        total += n;
    }
    total
}

async fn deleted_tenants_are_purged_after_their_period(backend: Backend) {
    sqlx::any::install_default_drivers();
    let mut config = backend.config();
    config.retention.sweep_interval_secs = 1;
    config.retention.batch_rows = 3;
    config.retention.deleted_tenant_days = 30;
    let node = spawn_server(config).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", FLOW).await;
    conversation_saying(&node, "Ada").await;
    operator.tenant_with_owner("kept", "main").await;
    let kept_rows = rows_of(&backend.url, "kept").await;

    assert_eq!(operator.delete("/v1/admin/tenants/acme").await.status, 204);
    // Deleted just now: still restorable, nothing purged.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(rows_of(&backend.url, "acme").await > 10);

    // Deleted 31 days ago: every row goes, in batches; other tenants keep theirs.
    let mut conn = sqlx::AnyConnection::connect(&backend.url).await.unwrap();
    sqlx::query("UPDATE tenants SET deleted_at = deleted_at - 2678400000 WHERE id = 'acme'")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    assert!(
        eventually(Duration::from_secs(20), || async {
            rows_of(&backend.url, "acme").await == 0
        })
        .await,
        "the deleted tenant is purged"
    );
    assert_eq!(rows_of(&backend.url, "kept").await, kept_rows);
    assert_eq!(
        operator
            .post("/v1/admin/tenants/acme/restore", json!({}))
            .await
            .status,
        404,
        "nothing left to restore"
    );
}

/// The admin API answers pages of configured origins with CORS headers (preflight
/// included), and other origins with none, while same-origin calls work as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_for_configured_console_origins() {
    let backend = Backend::sqlite();
    let mut config = backend.config();
    config.admin.cors_origins = vec!["https://console.example.com".into()];
    let node = spawn_server(config).await;
    let url = format!("http://{}/v1/admin/whoami", node.addr());
    let http = reqwest::Client::new();

    let preflight = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://console.example.com")
        .header("Access-Control-Request-Method", "PUT")
        .header(
            "Access-Control-Request-Headers",
            "authorization, if-match, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
    };
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some("https://console.example.com")
    );
    assert!(
        header(&preflight, "access-control-allow-methods")
            .unwrap()
            .contains("put")
    );
    assert!(
        header(&preflight, "access-control-allow-headers")
            .unwrap()
            .contains("if-match")
    );

    let allowed = http
        .get(&url)
        .header("Origin", "https://console.example.com")
        .bearer_auth(crate::support::admin::BOOTSTRAP_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://console.example.com")
    );
    assert!(
        header(&allowed, "access-control-expose-headers")
            .unwrap()
            .contains("etag")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials"),
        None,
        "keys travel as bearer tokens, never cookies"
    );

    // Another origin gets no CORS headers (its browser refuses to hand it the reply).
    let other = http
        .get(&url)
        .header("Origin", "https://evil.example.net")
        .bearer_auth(crate::support::admin::BOOTSTRAP_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&other, "access-control-allow-origin"), None);
    // Same origin (the built-in console): served as always.
    let own = http
        .get(&url)
        .header("Origin", format!("http://{}", node.addr()))
        .bearer_auth(crate::support::admin::BOOTSTRAP_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
}
