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
    a_timer_survives_a_restart_and_is_claimed_once,
    a_whatsapp_user_outside_the_window_gets_the_template_or_nothing,
    a_hundred_thousand_pending_timers_add_no_live_actors
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

const WA_FLOW: &str = "id: main\nwhatsapp_template: { name: follow_up, language: en }\nslots:\n  name: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: name, prompt: \"Your name?\", timeout: 2s, on_timeout: remind }\n    next: bye\n  remind:\n    say: \"Still there?\"\n    next: ask\n  bye:\n    end: \"Bye {{ name }}\"\n";

fn wa_body(from: &str, wamid: &str, text: &str) -> String {
    serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PN1"},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": from}],
        "messages": [{"from": from, "id": wamid, "timestamp": "1700000000", "type": "text", "text": {"body": text}}]
    }}]}]})
    .to_string()
}

async fn a_whatsapp_user_outside_the_window_gets_the_template_or_nothing(backend: Backend) {
    use switchboard::testkit::fake_whatsapp::FakeWhatsapp;
    let wa = FakeWhatsapp::start_with_token("wa-token").unwrap();
    let mut config = backend.config();
    config.conversation.timer_sweep_ms = 100;
    config.channels.whatsapp_base_url = wa.base_url();
    config.channels.send_backoff_ms = 50;
    let node = spawn_server(config).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", WA_FLOW).await;
    let put = owner
        .put_json(
            "/v1/admin/tenants/acme/channels/wa-main",
            serde_json::json!({"provider": "whatsapp", "config": {"phone_number_id": "PN1"},
                "secrets": {"app_secret": "wa-app-secret", "verify_token": "wa-verify", "access_token": "wa-token"}}),
        )
        .await;
    assert_eq!(put.status, 201, "{:?}", put.body);
    let http = reqwest::Client::new();
    let post = |from: &'static str, wamid: &'static str| {
        let http = http.clone();
        let url = format!("http://{}/v1/channels/whatsapp/wa-main", node.addr());
        async move {
            let body = wa_body(from, wamid, "hi");
            let signature = switchboard::channels::whatsapp::sign(body.as_bytes(), "wa-app-secret");
            let response = http
                .post(url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
        }
    };
    let sent_to = |to: &str| -> Vec<String> {
        wa.delivered()
            .into_iter()
            .filter(|(t, _)| t == to)
            .map(|(_, text)| text)
            .collect()
    };
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&backend.url).await.unwrap();
    // The user's messages were written more than 24 hours ago.
    let age = async |conn: &mut sqlx::AnyConnection, channel_user: &str| {
        sqlx::query(
            "UPDATE events SET created_at = created_at - 90000000 WHERE role = 'user' \
             AND conversation_id IN (SELECT id FROM conversations WHERE external_user = $1)",
        )
        .bind(channel_user)
        .execute(conn)
        .await
        .unwrap();
    };

    // Within the window the question is sent as text.
    post("4915100000001", "wamid.a1").await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            sent_to("4915100000001").contains(&"Your name?".to_string())
        })
        .await
    );
    age(&mut conn, "4915100000001").await;
    // Outside it, the timer's reminder goes as the flow's template, never as text.
    assert!(
        eventually(Duration::from_secs(10), || async {
            sent_to("4915100000001").contains(&"template:follow_up:en".to_string())
        })
        .await,
        "the template was sent: {:?}",
        sent_to("4915100000001")
    );
    assert!(!sent_to("4915100000001").contains(&"Still there?".to_string()));

    // A flow without a template: outside the window nothing is sent, and the transcript
    // says so.
    let without = WA_FLOW.replace("whatsapp_template: { name: follow_up, language: en }\n", "");
    owner.publish_flow("acme", "main", &without).await;
    post("4915100000002", "wamid.b1").await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            sent_to("4915100000002").contains(&"Your name?".to_string())
        })
        .await
    );
    age(&mut conn, "4915100000002").await;
    let (conversation,): (String,) =
        sqlx::query_as("SELECT id FROM conversations WHERE external_user = $1")
            .bind("4915100000002")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let path = format!("/v1/admin/tenants/acme/conversations/{conversation}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            owner.get(&path).await.body["messages"]
                .as_array()
                .is_some_and(|m| {
                    m.iter().any(|m| {
                        m["role"] == "system"
                            && m["text"]
                                .as_str()
                                .unwrap_or("")
                                .contains("Not sent on WhatsApp")
                    })
                })
        })
        .await,
        "the transcript says the reminder was not sent"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sent_to("4915100000002"),
        vec!["Your name?".to_string()],
        "nothing free-form outside the window"
    );
    // The first user's template is a bot message in the transcript, and its reminder is
    // stored there too (not sent).
    drop(conn);
    wa.stop();
    node.shutdown().await;
}

/// Inserts `count` conversations waiting at `ask` with a timer due at `due_at`.
async fn waiting_conversations(
    conn: &mut sqlx::AnyConnection,
    prefix: &str,
    count: i64,
    due_at: i64,
) {
    use switchboard::dialog::{DialogState, Status};
    use switchboard::turn::{PendingTimer, PersistedState};
    let state = PersistedState {
        dialog: DialogState {
            status: Status::AwaitingInput {
                state: "ask".into(),
            },
            ..DialogState::default()
        },
        timer: Some(PendingTimer {
            state: "ask".into(),
            due_at,
        }),
        ..PersistedState::default()
    };
    let now = switchboard::store::now_ms();
    sqlx::query(
        "INSERT INTO conversations (id, tenant_id, channel, external_user, flow_id, flow_version, \
           dialog_state, status, last_seq, applied_seq, created_at, updated_at, timer_due_at) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         SELECT $2 || i, 'acme', 'webchat', $2 || i, 'main', 1, $3, 'active', 0, 0, $4, $4, $5 FROM n",
    )
    .bind(count)
    .bind(prefix)
    .bind(serde_json::to_string(&state).unwrap())
    .bind(now)
    .bind(due_at)
    .execute(conn)
    .await
    .unwrap();
}

async fn a_hundred_thousand_pending_timers_add_no_live_actors(backend: Backend) {
    let (node, _) = setup(&backend, 100).await;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&backend.url).await.unwrap();
    let now = switchboard::store::now_ms();
    // A hundred thousand questions waiting an hour for their timers, ten already due.
    waiting_conversations(&mut conn, "later-", 100_000, now + 3_600_000).await;
    waiting_conversations(&mut conn, "due-", 10, now - 1_000).await;
    let (pending,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM conversations WHERE timer_due_at IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(pending, 100_010);
    let tenant = node.runtime().tenant("acme").await.unwrap().unwrap();
    let live = || async { tenant.stats().await.unwrap().live_conversations };
    // The due ones fire: their actors wake and remind ...
    let store = node.runtime().services().store.clone();
    let reminded = || async {
        let mut reminded = 0;
        for i in 1..=10 {
            let events = store
                .recent_events("acme", &format!("due-{i}"), 10)
                .await
                .unwrap();
            reminded += usize::from(events.iter().any(|m| m.text == "Still there?"));
        }
        reminded
    };
    let most_live = std::cell::Cell::new(0);
    assert!(
        eventually(Duration::from_secs(20), || async {
            most_live.set(most_live.get().max(live().await));
            reminded().await == 10
        })
        .await,
        "each due question was reminded: {}",
        reminded().await
    );
    // ... while the hundred thousand waiting ones cost no actor, sweep after sweep; and
    // once the reminded ones wait again, they cost none either (passivated).
    let quiet_until = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < quiet_until {
        most_live.set(most_live.get().max(live().await));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let most_live = most_live.get();
    assert!(
        most_live <= 10,
        "{most_live} conversations were live at once"
    );
    assert!(
        eventually(Duration::from_secs(5), || async { live().await == 0 }).await,
        "the reminded conversations are passivated once they wait again: {} live",
        live().await
    );
    drop(conn);
    node.shutdown().await;
}
