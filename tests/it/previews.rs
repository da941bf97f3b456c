//! Previews: the console's live widget on a draft. A flow text becomes a preview version
//! and a ticket; a web chat hello with the ticket runs it in the real runtime; the
//! conversation is stored as a preview, kept out of the default list, and the ticket is
//! bound to its tenant and refused when forged. On both stores.

use serde_json::{Value, json};

use crate::support::admin::Admin;
use crate::support::{Backend, Client, spawn_server};

on_both_stores!(a_preview_runs_the_draft_in_the_real_runtime_and_is_kept_apart);

fn flow(greeting: &str) -> String {
    format!(
        "id: main\nslots:\n  name: {{ type: string }}\nstart: ask\nstates:\n  ask:\n    collect: {{ slot: name, prompt: \"{greeting} Your name?\" }}\n    next: bye\n  bye:\n    end: \"Bye {{{{ name }}}}\"\n"
    )
}

async fn preview(admin: &Admin, text: &str) -> crate::support::admin::Reply {
    admin
        .send(
            reqwest::Method::POST,
            "/v1/admin/tenants/acme/flows/main/previews",
            Some(("application/yaml", text.to_string())),
            &[],
        )
        .await
}

async fn a_preview_runs_the_draft_in_the_real_runtime_and_is_kept_apart(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", &flow("Hello!")).await;
    let editor = owner.with_key(&owner.key_for("acme", "editor").await);
    let viewer = owner.with_key(&owner.key_for("acme", "viewer").await);
    operator.tenant_with_owner("other", "main").await;

    assert_eq!(preview(&viewer, &flow("Draft!")).await.status, 403);
    let broken = preview(&editor, "id: main\nstart: nowhere\nstates: {}\n").await;
    assert_eq!(broken.status, 422, "{:?}", broken.body);
    let created = preview(&editor, &flow("Draft!")).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["version"], -1);
    let ticket = created.body["ticket"].as_str().unwrap().to_string();
    assert_eq!(preview(&editor, &flow("Again!")).await.body["version"], -2);

    // The widget's hello with the ticket: the preview runs, for real.
    let mut client = Client::connect(node.addr()).await;
    client
        .hello_frame(json!({"type": "hello", "tenant": "acme", "preview": ticket}))
        .await;
    client.bot_says("Draft! Your name?").await;
    client.say("Ada").await;
    client.bot_says("Bye Ada").await;
    let conversation = client.conversation_id.clone().unwrap();
    client.close().await;

    // Stored as a preview: out of the default list, in the previews.
    let listed = viewer
        .get("/v1/admin/tenants/acme/conversations")
        .await
        .body;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != conversation.as_str())
    );
    let previews = viewer
        .get("/v1/admin/tenants/acme/conversations?preview=true")
        .await
        .body;
    assert_eq!(previews.as_array().unwrap().len(), 1);
    assert_eq!(previews[0]["id"], conversation.as_str());
    assert_eq!(
        (
            previews[0]["preview"].clone(),
            previews[0]["flow_version"].clone()
        ),
        (json!(true), json!(-1))
    );
    // Never a version: not listed, not activatable.
    let versions = viewer
        .get("/v1/admin/tenants/acme/flows/main/versions")
        .await
        .body;
    let numbers: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1]);
    let activate = editor
        .post(
            "/v1/admin/tenants/acme/flows/main/activate",
            json!({"version": -1}),
        )
        .await;
    assert_ne!(activate.status, 200, "{:?}", activate.body);
    // A visitor without the ticket still gets the active version.
    let mut visitor = Client::connect(node.addr()).await;
    visitor.hello("acme").await;
    visitor.bot_says("Hello! Your name?").await;
    visitor.close().await;

    // The ticket is this tenant's, and cannot be altered.
    for (tenant, bad) in [
        ("other", ticket.clone()),
        ("acme", ticket.replacen(".-1.", ".-2.", 1)),
        ("acme", "p1.main.-1.99999999999999.AAAA".to_string()),
    ] {
        let mut client = Client::connect(node.addr()).await;
        client
            .send_json(json!({"type": "hello", "tenant": tenant, "preview": bad}))
            .await;
        let refused: Value = client.recv().await;
        assert_eq!(refused["code"], "invalid_preview", "{refused}");
        client.close().await;
    }
}
