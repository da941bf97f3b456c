//! Publishing to live traffic: 50 conversations in the middle of a flow on v1 while v2
//! is published and activated. All 50 finish on v1; new conversations run v2.

use crate::support::admin::Admin;
use crate::support::{Backend, Client, spawn_server};

on_both_stores!(publishing_never_disturbs_running_conversations);

fn flow(label: &str) -> String {
    format!(
        "id: main\nslots:\n  name: {{ type: string }}\nstart: ask\nstates:\n  ask:\n    collect: {{ slot: name, prompt: \"Hello from {label}! Your name?\" }}\n    next: bye\n  bye:\n    end: \"Bye {{{{ name }}}} ({label})\"\n"
    )
}

async fn publishing_never_disturbs_running_conversations(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    assert_eq!(owner.publish_flow("acme", "main", &flow("v1")).await, 1);

    let mut running = Vec::new();
    for _ in 0..50 {
        let mut client = Client::connect(node.addr()).await;
        client.hello("acme").await;
        client.bot_says("hello from v1").await;
        running.push(client);
    }
    assert_eq!(owner.publish_flow("acme", "main", &flow("v2")).await, 2);

    let mut fresh = Client::connect(node.addr()).await;
    fresh.hello("acme").await;
    fresh.bot_says("hello from v2").await;

    let mut tasks = Vec::new();
    for (i, mut client) in running.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            client.say(&format!("User{i}")).await;
            let bye = client.bot_says(&format!("bye user{i} ")).await;
            client.assert_gap_free();
            bye["text"].as_str().unwrap().to_string()
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), format!("Bye User{i} (v1)"));
    }
    fresh.say("Zed").await;
    fresh.bot_says("bye zed (v2)").await;

    let listed = owner
        .get("/v1/admin/tenants/acme/conversations?limit=200")
        .await;
    let versions: Vec<i64> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["flow_version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions.iter().filter(|v| **v == 1).count(), 50);
    assert_eq!(versions.iter().filter(|v| **v == 2).count(), 1);
    node.shutdown().await;
}
