//! Saved test cases of a flow: saved from a real conversation's transcript, replayed
//! through the simulator against the active version or an edited text, on both stores.

use serde_json::{Value, json};

use crate::support::admin::Admin;
use crate::support::{Backend, Client, spawn_server};

on_both_stores!(a_conversation_saved_as_a_test_case_replays_and_catches_a_change);

fn flow(greeting: &str) -> String {
    format!(
        "id: main\nslots:\n  name: {{ type: string }}\nstart: ask\nstates:\n  ask:\n    collect: {{ slot: name, prompt: \"{greeting} Your name?\" }}\n    next: bye\n  bye:\n    end: \"Bye {{{{ name }}}}\"\n"
    )
}

async fn a_conversation_saved_as_a_test_case_replays_and_catches_a_change(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", &flow("Hello!")).await;
    let editor = owner.with_key(&owner.key_for("acme", "editor").await);
    let viewer = owner.with_key(&owner.key_for("acme", "viewer").await);

    let mut client = Client::connect(node.addr()).await;
    client.hello("acme").await;
    client.bot_says("Your name?").await;
    client.say("Ada").await;
    client.bot_says("Bye Ada").await;
    let conversation = client.conversation_id.clone().unwrap();
    client.close().await;

    // Saved from the transcript: its user turns and its bot messages.
    let transcript = viewer
        .get(&format!(
            "/v1/admin/tenants/acme/conversations/{conversation}"
        ))
        .await
        .body;
    let by_role = |role: &str| -> Vec<Value> {
        transcript["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == role)
            .map(|m| m["text"].clone())
            .collect()
    };
    let case = json!({"turns": by_role("user"), "expected": by_role("bot"), "conversation_id": conversation});
    let path = "/v1/admin/tenants/acme/flows/main/test-cases";
    assert_eq!(
        viewer
            .put_json(&format!("{path}/ada"), case.clone())
            .await
            .status,
        403
    );
    let saved = editor
        .put_json(&format!("{path}/ada says hi"), case.clone())
        .await;
    assert_eq!(saved.status, 201, "{:?}", saved.body);
    assert_eq!(
        editor
            .put_json(&format!("{path}/ada says hi"), case.clone())
            .await
            .status,
        200
    );
    assert_eq!(
        editor
            .put_json(&format!("{path}/bad%2Fname"), case)
            .await
            .status,
        400
    );
    let empty = json!({"turns": [], "expected": []});
    assert_eq!(
        editor
            .put_json(&format!("{path}/empty"), empty)
            .await
            .status,
        400
    );
    let listed = viewer.get(path).await.body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "ada says hi");
    assert_eq!(listed[0]["turns"], json!(["Ada"]));

    // The active version still answers the same.
    let run = viewer.post(&format!("{path}/run"), Value::Null).await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    assert_eq!(
        (run.body["passed"].as_i64(), run.body["failed"].as_i64()),
        (Some(1), Some(0))
    );
    // An edited text does not: the first bot message differs.
    let run = viewer
        .post(&format!("{path}/run"), json!({"source": flow("Welcome!")}))
        .await;
    assert_eq!(
        (run.body["passed"].as_i64(), run.body["failed"].as_i64()),
        (Some(0), Some(1))
    );
    let result = &run.body["cases"][0];
    assert_eq!(result["first_difference"], 0);
    assert_eq!(result["actual"][0], "Welcome! Your name?");
    assert_eq!(result["expected"][0], "Hello! Your name?");
    // A text that does not compile is a 422 with its diagnostics.
    let broken = viewer
        .post(
            &format!("{path}/run"),
            json!({"source": "id: main\nstart: nowhere\nstates: {}\n"}),
        )
        .await;
    assert_eq!(broken.status, 422);

    assert_eq!(
        viewer
            .delete(&format!("{path}/ada%20says%20hi"))
            .await
            .status,
        403
    );
    assert_eq!(
        editor
            .delete(&format!("{path}/ada%20says%20hi"))
            .await
            .status,
        204
    );
    assert_eq!(
        editor
            .delete(&format!("{path}/ada%20says%20hi"))
            .await
            .status,
        404
    );
    assert_eq!(viewer.get(path).await.body, json!([]));
}
