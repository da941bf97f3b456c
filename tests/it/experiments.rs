//! Experiments through the real server, on both stores: new web chat conversations are
//! split across the arms by the sticky hash (the same visitor keeps their arm), results
//! count each arm's conversations, stop returns to the active version, and promote makes
//! the winner active and is audited. Bad requests get typed errors.

use serde_json::{Value, json};
use sqlx::Connection;
use switchboard::analytics::rollup;
use switchboard::config::AnalyticsConfig;
use switchboard::experiments::{Arm, assign::assign};

use crate::support::admin::Admin;
use crate::support::{Backend, Client, spawn_server};

on_both_stores!(an_experiment_splits_new_conversations_and_promotes_its_winner);

const V1: &str = "id: main\nstart: hi\nstates:\n  hi:\n    say: \"Hello from one\"\n    next: bye\n  bye:\n    end: \"Bye\"\n";
const V2: &str = "id: main\nstart: hi\nstates:\n  hi:\n    say: \"Hello from two\"\n    next: bye\n  bye:\n    end: \"Bye\"\n";

/// Opens a conversation (as the visitor of `token`, or a new one) and returns
/// (conversation id, visitor token).
async fn open(addr: std::net::SocketAddr, token: Option<&str>) -> (String, String) {
    let mut client = Client::connect(addr).await;
    let welcome = match token {
        Some(token) => {
            client
                .hello_frame(json!({"type": "hello", "tenant": "acme", "visitor_token": token}))
                .await
        }
        None => client.hello("acme").await,
    };
    let id = welcome["conversation_id"].as_str().unwrap().to_owned();
    let token = welcome["visitor_token"].as_str().unwrap().to_owned();
    client.close().await;
    (id, token)
}

async fn conversation(conn: &mut sqlx::AnyConnection, id: &str) -> (String, i64) {
    sqlx::query_as("SELECT external_user, flow_version FROM conversations WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
        .unwrap()
}

async fn an_experiment_splits_new_conversations_and_promotes_its_winner(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    assert_eq!(owner.publish_flow("acme", "main", V1).await, 1);
    assert_eq!(owner.publish_flow("acme", "main", V2).await, 2);
    let activated = owner
        .post(
            "/v1/admin/tenants/acme/flows/main/activate",
            json!({"version": 1}),
        )
        .await;
    assert_eq!(activated.status, 200, "{:?}", activated.body);
    let base = "/v1/admin/tenants/acme/experiments";

    // Bad requests.
    let arms = |a: Value| json!({"flow": "main", "name": "greeting", "arms": a});
    for (body, status) in [
        (arms(json!([{"version": 1, "weight": 50}])), 400),
        (
            arms(json!([{"version": 1, "weight": 0}, {"version": 2, "weight": 5}])),
            400,
        ),
        (
            arms(json!([{"version": 1, "weight": 5}, {"version": 1, "weight": 5}])),
            400,
        ),
        (
            arms(json!([{"version": 1, "weight": 5}, {"version": 9, "weight": 5}])),
            404,
        ),
        (
            json!({"flow": "nope", "name": "x", "arms": [{"version": 1, "weight": 1}, {"version": 2, "weight": 1}]}),
            404,
        ),
        (
            json!({"flow": "main", "name": "", "arms": [{"version": 1, "weight": 1}, {"version": 2, "weight": 1}]}),
            400,
        ),
    ] {
        let reply = owner.post(base, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {:?}", reply.body);
    }
    let viewer = owner.with_key(&owner.key_for("acme", "viewer").await);
    let body = arms(json!([{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]));
    assert_eq!(viewer.post(base, body.clone()).await.status, 403);

    let created = owner.post(base, body.clone()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["status"], "running");
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        owner.post(base, body).await.status,
        409,
        "one running per flow"
    );

    // New conversations follow the sticky hash; both arms get some.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&backend.url).await.unwrap();
    let experiment_arms = [
        Arm {
            version: 1,
            weight: 50,
        },
        Arm {
            version: 2,
            weight: 50,
        },
    ];
    let mut seen = std::collections::BTreeMap::<i64, u32>::new();
    let mut first_visitor = None;
    for _ in 0..24 {
        let (conversation_id, token) = open(node.addr(), None).await;
        let (user, version) = conversation(&mut conn, &conversation_id).await;
        assert_eq!(
            Some(version),
            assign("acme", "main", &id, &user, &experiment_arms),
            "the conversation runs the visitor's arm"
        );
        *seen.entry(version).or_default() += 1;
        first_visitor.get_or_insert((token, version));
    }
    assert_eq!(seen.len(), 2, "both arms: {seen:?}");
    // The same visitor, in a new conversation, lands on the same arm.
    let (token, version) = first_visitor.unwrap();
    for _ in 0..3 {
        let (again, _) = open(node.addr(), Some(&token)).await;
        assert_eq!(conversation(&mut conn, &again).await.1, version);
    }

    // Results count each arm's conversations once the rollup has seen them.
    let services = node.runtime().services();
    rollup::sweep(
        &services.store,
        &services.flows,
        &AnalyticsConfig::default(),
        switchboard::store::now_ms() + 10_000,
    )
    .await
    .unwrap();
    let detail = owner.get(&format!("{base}/{id}")).await;
    assert_eq!(detail.status, 200, "{:?}", detail.body);
    let results = detail.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["version"], 1);
    assert!(results[0]["vs_control"].is_null());
    assert!(results[1]["vs_control"]["containment"].is_object());
    let counted: i64 = results
        .iter()
        .map(|r| r["conversations"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, 27, "{:#}", detail.body);
    assert_eq!(
        results[0]["conversations"].as_i64().unwrap(),
        i64::from(seen[&1]) + if version == 1 { 3 } else { 0 }
    );
    let listed = viewer.get(&format!("{base}?flow=main")).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    // Stop: back to the active version (1) for everyone.
    let stopped = owner.post(&format!("{base}/{id}/stop"), json!({})).await;
    assert_eq!(stopped.status, 200, "{:?}", stopped.body);
    assert_eq!(stopped.body["status"], "stopped");
    assert_eq!(
        owner
            .post(&format!("{base}/{id}/stop"), json!({}))
            .await
            .status,
        409
    );
    for _ in 0..4 {
        let (c, _) = open(node.addr(), None).await;
        assert_eq!(conversation(&mut conn, &c).await.1, 1);
    }

    // Promote: the winner becomes the active version, audited.
    let not_an_arm = owner
        .post(&format!("{base}/{id}/promote"), json!({"version": 7}))
        .await;
    assert_eq!(not_an_arm.status, 400);
    let promoted = owner
        .post(&format!("{base}/{id}/promote"), json!({"version": 2}))
        .await;
    assert_eq!(promoted.status, 200, "{:?}", promoted.body);
    assert_eq!(promoted.body["winner"], 2);
    let flow = owner.get("/v1/admin/tenants/acme/flows/main").await;
    assert_eq!(flow.body["active_version"], 2, "{:?}", flow.body);
    let (c, _) = open(node.addr(), None).await;
    assert_eq!(conversation(&mut conn, &c).await.1, 2);
    let audit = owner.get("/v1/admin/tenants/acme/audit").await;
    let actions: Vec<&str> = audit.body["entries"]
        .as_array()
        .or(audit.body.as_array())
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["experiment.create", "experiment.stop", "experiment.promote"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }

    // Every route is in the OpenAPI document.
    let doc: Value = reqwest::get(format!("http://{}/v1/openapi.json", node.addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/v1/admin/tenants/{tenant}/experiments", "post"),
        ("/v1/admin/tenants/{tenant}/experiments", "get"),
        ("/v1/admin/tenants/{tenant}/experiments/{id}", "get"),
        ("/v1/admin/tenants/{tenant}/experiments/{id}/stop", "post"),
        (
            "/v1/admin/tenants/{tenant}/experiments/{id}/promote",
            "post",
        ),
        ("/v1/admin/tenants/{tenant}/analytics", "get"),
        ("/v1/admin/tenants/{tenant}/analytics.csv", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    drop(conn);
    node.shutdown().await;
}
