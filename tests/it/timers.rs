//! Durable timers through the real runtime: a `collect` with a `timeout` reminds a silent
//! visitor, stops once answered, survives a restart of the node (the timer is in the
//! conversation's row), and a due timer is claimed by one sweep only. On both stores.

use std::time::Duration;

use serde_json::Value;
use sqlx::Connection;

use crate::support::admin::Admin;
use crate::support::{Backend, Client, eventually, spawn_server};

on_both_stores!(
    a_silent_visitor_is_reminded_once_per_timeout_until_they_answer,
    a_timer_survives_a_restart_and_is_claimed_once
);

const FLOW: &str = "id: main\nslots:\n  name: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: name, prompt: \"Your name?\", timeout: 1s, on_timeout: remind }\n    next: bye\n  remind:\n    say: \"Still there?\"\n    next: ask\n  bye:\n    end: \"Bye {{ name }}\"\n";

async fn setup(backend: &Backend, sweep_ms: u64) -> (switchboard::app::Node, Admin) {
    let mut config = backend.config();
    config.conversation.timer_sweep_ms = sweep_ms;
    let node = spawn_server(config).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", FLOW).await;
    (node, owner)
}

async fn a_silent_visitor_is_reminded_once_per_timeout_until_they_answer(backend: Backend) {
    let (node, _) = setup(&backend, 100).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("acme").await;
    client.bot_says("Your name?").await;
    // Silent: reminded, and asked again (which waits again).
    client.bot_says("Still there?").await;
    client.bot_says("Your name?").await;
    client.say("Ada").await;
    client.bot_says("Bye Ada").await;
    // Answered and ended: no reminder comes any more.
    let later = client.try_recv(Duration::from_millis(2_500)).await;
    assert!(
        later
            .as_ref()
            .is_none_or(|f| !f.to_string().contains("Still there?")),
        "{later:?}"
    );
    let texts: Vec<String> = client
        .messages()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    let reminders = texts.iter().filter(|t| *t == "Still there?").count();
    assert!(reminders >= 1, "{texts:?}");
    client.assert_gap_free();
    node.shutdown().await;
}

async fn a_timer_survives_a_restart_and_is_claimed_once(backend: Backend) {
    // The first node never sweeps in time: its timer is still waiting when it stops.
    let (node, owner) = setup(&backend, 60_000).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("acme").await;
    client.bot_says("Your name?").await;
    let conversation = client.conversation_id.clone().unwrap();
    client.close().await;
    node.shutdown().await;

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&backend.url).await.unwrap();
    let (due,): (Option<i64>,) =
        sqlx::query_as("SELECT timer_due_at FROM conversations WHERE id = $1")
            .bind(&conversation)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(due.is_some(), "the timer is stored with the conversation");
    drop(conn);

    // A new node on the same database: its sweep finds the timer and the reminder is
    // stored, once.
    let mut config = backend.config();
    config.conversation.timer_sweep_ms = 100;
    let node = spawn_server(config).await;
    let owner = owner.at(node.addr());
    let path = format!("/v1/admin/tenants/acme/conversations/{conversation}");
    let reminded = |body: &Value| {
        body["messages"].as_array().map_or(0, |m| {
            m.iter().filter(|m| m["text"] == "Still there?").count()
        })
    };
    assert!(
        eventually(Duration::from_secs(10), || async {
            reminded(&owner.get(&path).await.body) >= 1
        })
        .await,
        "reminded after the restart"
    );
    // Claims: a timer due now is claimed by one caller only.
    let store = &node.runtime().services().store;
    let mut conn = sqlx::AnyConnection::connect(&backend.url).await.unwrap();
    sqlx::query(
        "UPDATE conversations SET timer_due_at = 1, timer_claimed_until = NULL WHERE id = $1",
    )
    .bind(&conversation)
    .execute(&mut conn)
    .await
    .unwrap();
    let now = switchboard::store::now_ms();
    let (a, b) = tokio::join!(
        store.claim_due_timers(now, 30_000, 10),
        store.claim_due_timers(now, 30_000, 10)
    );
    let claimed: usize = [a.unwrap(), b.unwrap()]
        .iter()
        .map(|c| {
            c.iter()
                .filter(|t| t.conversation_id == conversation)
                .count()
        })
        .sum();
    // (The node's own sweep may have won it: then neither call does.)
    assert!(claimed <= 1, "claimed {claimed} times");
    let (claimed_until,): (Option<i64>,) =
        sqlx::query_as("SELECT timer_claimed_until FROM conversations WHERE id = $1")
            .bind(&conversation)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(
        claimed_until.is_some_and(|until| until > now),
        "one claim holds it"
    );
    // A deleted tenant's timers wait: nobody claims them.
    let operator = Admin::operator(node.addr());
    assert_eq!(operator.delete("/v1/admin/tenants/acme").await.status, 204);
    sqlx::query(
        "UPDATE conversations SET timer_due_at = 1, timer_claimed_until = NULL WHERE id = $1",
    )
    .bind(&conversation)
    .execute(&mut conn)
    .await
    .unwrap();
    let later = store
        .claim_due_timers(switchboard::store::now_ms(), 30_000, 10)
        .await
        .unwrap();
    assert!(
        later.iter().all(|t| t.conversation_id != conversation),
        "{later:?}"
    );
    node.shutdown().await;
}
