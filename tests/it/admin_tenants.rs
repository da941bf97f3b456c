//! Tenants in the admin API beyond create: `PATCH` (each field, validation, roles),
//! soft `DELETE` (the tenant, its keys, its web chat and its webhooks disappear; its
//! running actor stops), `restore`, and the audit entries of all three. On both stores.

use std::time::Duration;

use crate::support::admin::Admin;
use crate::support::{Backend, Client, eventually, spawn_server};
use serde_json::{Value, json};

fn simple_flow() -> String {
    "id: main\nslots:\n  name: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: name, prompt: \"Hello from acme! Your name?\" }\n    next: bye\n  bye:\n    end: \"Bye {{ name }}\"\n".into()
}

async fn patch(admin: &Admin, tenant: &str, body: Value) -> crate::support::admin::Reply {
    admin
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/admin/tenants/{tenant}"),
            Some(("application/json", body.to_string())),
            &[],
        )
        .await
}

/// The next error frame of a socket (skipping anything else).
async fn error_code(client: &mut Client) -> String {
    let frame = client.until(|f| f["type"] == "error").await;
    frame["code"].as_str().unwrap_or_default().to_string()
}

async fn patch_updates_each_field_and_checks_it(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);

    let renamed = patch(&owner, "acme", json!({"name": "  Acme Inc.  "})).await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(renamed.body["name"], "Acme Inc.", "trimmed");
    assert_eq!(renamed.body["entry_flow"], "main", "other fields kept");

    let flow = patch(&owner, "acme", json!({"entry_flow": "support"})).await;
    assert_eq!(flow.body["entry_flow"], "support", "{:?}", flow.body);
    let origins = json!(["https://shop.example", "http://localhost:3000"]);
    let set = patch(&owner, "acme", json!({"allowed_origins": origins})).await;
    assert_eq!(set.body["allowed_origins"], origins, "{:?}", set.body);
    let model = patch(&owner, "acme", json!({"llm_model": "gpt-4o-mini"})).await;
    assert_eq!(model.body["llm_model"], "gpt-4o-mini", "{:?}", model.body);
    let kept = patch(&owner, "acme", json!({"name": "Acme"})).await;
    assert_eq!(
        kept.body["llm_model"], "gpt-4o-mini",
        "absent keeps the model"
    );
    let cleared = patch(&owner, "acme", json!({"llm_model": null})).await;
    assert_eq!(cleared.status, 200, "{:?}", cleared.body);
    assert_eq!(cleared.body["llm_model"], Value::Null, "null clears it");

    // allow_private_adaptors is the operator's alone.
    let by_owner = patch(&owner, "acme", json!({"allow_private_adaptors": false})).await;
    assert_eq!(by_owner.status, 403, "{:?}", by_owner.body);
    let by_operator = patch(&operator, "acme", json!({"allow_private_adaptors": false})).await;
    assert_eq!(by_operator.status, 200, "{:?}", by_operator.body);
    assert_eq!(by_operator.body["allow_private_adaptors"], false);

    // What GET answers is what PATCH answered.
    let got = owner.get("/v1/admin/tenants/acme").await;
    assert_eq!(got.body, by_operator.body);

    // Bad values are 400 with a message naming the field; nothing changes.
    for (body, needle) in [
        (json!({"name": "   "}), "`name`"),
        (json!({"name": "x".repeat(201)}), "`name`"),
        (json!({"entry_flow": "Not A Flow"}), "`entry_flow`"),
        (json!({"llm_model": "m".repeat(201)}), "`llm_model`"),
        (
            json!({"allowed_origins": ["https://shop.example/"]}),
            "did you mean `https://shop.example`",
        ),
        (
            json!({"allowed_origins": ["shop.example"]}),
            "`allowed_origins`",
        ),
        (
            json!({"allowed_origins": ["ftp://shop.example"]}),
            "`allowed_origins`",
        ),
        (json!({"id": "other"}), "unknown field"),
        (json!({"name": 7}), "invalid type"),
    ] {
        let reply = patch(&owner, "acme", body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {:?}", reply.body);
        assert_eq!(reply.code(), "invalid_request", "{body}");
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let unchanged = owner.get("/v1/admin/tenants/acme").await;
    assert_eq!(unchanged.body, by_operator.body);

    // Creation checks origins the same way.
    let bad_create = operator
        .post(
            "/v1/admin/tenants",
            json!({"id": "other", "name": "Other", "allowed_origins": ["https://x.example:443"]}),
        )
        .await;
    assert_eq!(bad_create.status, 400, "{:?}", bad_create.body);
    assert!(bad_create.body.to_string().contains("https://x.example`"));

    // Roles: a viewer and an editor get 403, another tenant's owner 404, no key 401.
    for role in ["viewer", "editor"] {
        let key = operator.key_for("acme", role).await;
        let reply = patch(&owner.with_key(&key), "acme", json!({"name": "Mine"})).await;
        assert_eq!(reply.status, 403, "{role}: {:?}", reply.body);
    }
    let other = operator.with_key(&operator.tenant_with_owner("other", "main").await);
    let reply = patch(&other, "acme", json!({"name": "Mine"})).await;
    assert_eq!(reply.status, 404, "{:?}", reply.body);
    assert_eq!(
        patch(&owner.with_key(""), "acme", json!({})).await.status,
        401
    );
    assert_eq!(
        patch(&operator, "nobody", json!({"name": "x"}))
            .await
            .status,
        404
    );

    // Every change is in the audit log with the fields it changed; the refused ones are not.
    let audit = owner.get("/v1/admin/tenants/acme/audit").await;
    let updates: Vec<&Value> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "tenant.update")
        .collect();
    assert_eq!(updates.len(), 7, "{:#?}", audit.body);
    assert!(
        updates
            .iter()
            .any(|e| e["details"]["llm_model"].is_null() && e["details"].get("llm_model").is_some())
    );
    assert!(
        updates
            .iter()
            .any(|e| e["actor"] == "operator" && e["details"]["allow_private_adaptors"] == false)
    );
    node.shutdown().await;
}

async fn web_chat_follows_a_patch_at_once(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", &simple_flow()).await;

    // The tenant runs (any origin allowed), then its origins change.
    let mut client = Client::connect_with_origin(node.addr(), Some("https://evil.example")).await;
    client.hello("acme").await;
    client.bot_says("hello from acme").await;
    let reply = patch(
        &owner,
        "acme",
        json!({"allowed_origins": ["https://shop.example"]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    let mut foreign = Client::connect_with_origin(node.addr(), Some("https://evil.example")).await;
    foreign
        .send_json(json!({"type": "hello", "tenant": "acme"}))
        .await;
    assert_eq!(error_code(&mut foreign).await, "origin_not_allowed");
    let mut allowed = Client::connect_with_origin(node.addr(), Some("https://shop.example")).await;
    allowed.hello("acme").await;
    allowed.bot_says("hello from acme").await;
    node.shutdown().await;
}

async fn delete_hides_the_tenant_everywhere_and_restore_brings_it_back(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", &simple_flow()).await;
    let slack = json!({"provider": "slack", "config": {},
        "secrets": {"signing_secret": "s", "bot_token": "t"}});
    let put = owner
        .put_json("/v1/admin/tenants/acme/channels/acme-slack", slack)
        .await;
    assert_eq!(put.status, 201, "{:?}", put.body);
    let http = reqwest::Client::new();
    let webhook = format!("http://{}/v1/channels/slack/acme-slack", node.addr());
    let unsigned = || http.post(&webhook).body("{}").send();
    let live_status = unsigned().await.unwrap().status().as_u16();
    assert_ne!(
        live_status, 404,
        "a live account is found (then refused unsigned)"
    );

    let mut client = Client::connect(node.addr()).await;
    client.hello("acme").await;
    client.bot_says("hello from acme").await;
    let running = |node: &switchboard::app::Node| {
        let runtime = node.runtime().clone();
        async move {
            runtime
                .live_tenants()
                .await
                .iter()
                .any(|t| t.id().as_ref() == "acme")
        }
    };
    assert!(running(&node).await);

    // Only the operator deletes.
    let by_owner = owner.delete("/v1/admin/tenants/acme").await;
    assert_eq!(by_owner.status, 403, "{:?}", by_owner.body);
    let deleted = operator.delete("/v1/admin/tenants/acme").await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);

    // Gone from the admin API; its keys stop working; deleting again is 404.
    assert_eq!(operator.get("/v1/admin/tenants/acme").await.status, 404);
    let listed = operator.get("/v1/admin/tenants").await;
    assert!(
        !listed.body.to_string().contains("\"acme\""),
        "{:?}",
        listed.body
    );
    assert_eq!(owner.get("/v1/admin/tenants/acme").await.status, 401);
    assert_eq!(owner.get("/v1/admin/tenants").await.status, 401);
    assert_eq!(operator.delete("/v1/admin/tenants/acme").await.status, 404);
    assert_eq!(
        patch(&operator, "acme", json!({"name": "x"})).await.status,
        404
    );
    // Its resources are absent for the operator too, even where a handler reads no
    // tenant row.
    for path in [
        "/v1/admin/tenants/acme/flows",
        "/v1/admin/tenants/acme/flows/main",
        "/v1/admin/tenants/acme/flows/main/versions/1",
        "/v1/admin/tenants/acme/keys",
        "/v1/admin/tenants/acme/audit",
    ] {
        let reply = operator.get(path).await;
        assert_eq!(reply.status, 404, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["error"]["message"], "tenant not found", "{path}");
    }

    // Its running actor stops; the web chat and its webhooks refuse it like an unknown tenant.
    assert!(
        eventually(Duration::from_secs(10), || {
            let check = running(&node);
            async move { !check.await }
        })
        .await,
        "the tenant actor stops"
    );
    let mut late = Client::connect(node.addr()).await;
    late.send_json(json!({"type": "hello", "tenant": "acme"}))
        .await;
    assert_eq!(error_code(&mut late).await, "unknown_tenant");
    assert_eq!(unsigned().await.unwrap().status().as_u16(), 404);

    // Its id stays taken until purged; the retention job can find it.
    let again = operator
        .post("/v1/admin/tenants", json!({"id": "acme", "name": "Acme"}))
        .await;
    assert_eq!(again.status, 409, "{:?}", again.body);
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("restore"),
        "{:?}",
        again.body
    );
    let store = &node.runtime().services().store;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert_eq!(
        store.deleted_tenants_before(now + 1).await.unwrap(),
        vec!["acme".to_string()]
    );
    assert!(
        store
            .deleted_tenants_before(now - 60_000)
            .await
            .unwrap()
            .is_empty()
    );

    // Restore: the operator alone; a live tenant cannot be restored.
    assert_eq!(
        owner
            .post("/v1/admin/tenants/acme/restore", json!({}))
            .await
            .status,
        401
    );
    let restored = operator
        .post("/v1/admin/tenants/acme/restore", json!({}))
        .await;
    assert_eq!(restored.status, 200, "{:?}", restored.body);
    assert_eq!(restored.body["id"], "acme");
    let twice = operator
        .post("/v1/admin/tenants/acme/restore", json!({}))
        .await;
    assert_eq!(twice.status, 409, "{:?}", twice.body);
    assert_eq!(
        operator
            .post("/v1/admin/tenants/nobody/restore", json!({}))
            .await
            .status,
        404
    );
    assert!(
        store
            .deleted_tenants_before(now + 1)
            .await
            .unwrap()
            .is_empty()
    );

    // Everything is back: keys, web chat, webhooks.
    assert_eq!(owner.get("/v1/admin/tenants/acme").await.status, 200);
    let mut back = Client::connect(node.addr()).await;
    back.hello("acme").await;
    back.bot_says("hello from acme").await;
    assert_ne!(unsigned().await.unwrap().status().as_u16(), 404);

    // The audit log has both, by the operator.
    let audit = owner.get("/v1/admin/tenants/acme/audit").await;
    for action in ["tenant.delete", "tenant.restore"] {
        assert!(
            audit
                .body
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == action && e["actor"] == "operator"),
            "no {action}: {:#?}",
            audit.body
        );
    }
    node.shutdown().await;
}

on_both_stores!(
    patch_updates_each_field_and_checks_it,
    web_chat_follows_a_patch_at_once,
    delete_hides_the_tenant_everywhere_and_restore_brings_it_back,
);
