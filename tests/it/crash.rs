//! A SIGKILL under load, with group commit on: every acked message is in the store after
//! the restart, exactly once, at the seq its ack named, with every conversation's seqs
//! gap-free; and a message resent after the restart (its ack was lost with the server)
//! is stored once. On SQLite (one writer, batches of many conversations) and PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::admin::BOOTSTRAP_KEY;
use crate::support::client::Client;
use crate::support::process::NodeProcess;
use crate::support::{Backend, eventually};
use serde_json::{Value, json};

const VISITORS: usize = 24;
/// Acks to see before the kill: enough that many batches committed and more are queued.
const ACKS_BEFORE_KILL: usize = 400;

on_both_stores!(acked_messages_survive_a_sigkill_under_load);

fn env(backend: &Backend) -> Vec<(&'static str, String)> {
    vec![
        ("SWITCHBOARD__DATABASE__URL", backend.url.clone()),
        ("SWITCHBOARD__ADMIN__BOOTSTRAP_KEY", BOOTSTRAP_KEY.into()),
        // The same key across the restart, so visitor tokens stay valid.
        (
            "SWITCHBOARD__SECURITY__VISITOR_TOKEN_SECRET",
            "crash-test-visitor-token-secret-0123456789".into(),
        ),
        ("SWITCHBOARD__SECURITY__SECRETS_KEY", "cd".repeat(32)),
        (
            "SWITCHBOARD__DEMO__FLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cluster_flows").into(),
        ),
        ("SWITCHBOARD__DEMO__ENTRY_FLOW", "echo".into()),
        ("SWITCHBOARD__WEBCHAT__MESSAGES_PER_SECOND", "10000".into()),
        ("SWITCHBOARD__WEBCHAT__MESSAGE_BURST", "10000".into()),
    ]
}

/// What one visitor saw before the server died.
struct Visitor {
    conversation: String,
    token: String,
    /// client_id → (message_id, seq) from its ack.
    acked: HashMap<String, (String, i64)>,
    /// Sent, never acked (the server died first): resent after the restart.
    unacked: Vec<(String, String)>,
}

/// Sends numbered messages as fast as acks come back (the session keeps a few in flight)
/// until the socket dies.
async fn chat_until_killed(mut client: Client, acks: Arc<AtomicUsize>, n: usize) -> Visitor {
    let welcome = client.hello("demo").await;
    client.bot_says("Say something").await;
    let mut sent: HashMap<String, String> = HashMap::new();
    let mut acked = HashMap::new();
    let mut next = 0;
    'chat: loop {
        // Keep four messages in flight.
        while sent.len() - acked.len() < 4 {
            let client_id = format!("v{n}-m{next}");
            let text = format!("visitor {n} message {next}");
            next += 1;
            if !client
                .try_send_json(json!({"type": "message", "client_id": client_id, "text": text}))
                .await
            {
                break 'chat;
            }
            sent.insert(client_id, text);
        }
        match client.try_recv(Duration::from_secs(20)).await {
            None => break,
            Some(frame) if frame["type"] == "ack" => {
                let id = frame["client_id"].as_str().unwrap().to_string();
                let entry = (
                    frame["message_id"].as_str().unwrap().to_string(),
                    frame["seq"].as_i64().unwrap(),
                );
                assert!(acked.insert(id, entry).is_none(), "one ack per message");
                acks.fetch_add(1, Ordering::Relaxed);
            }
            Some(frame) => assert_ne!(frame["type"], "error", "{frame}"),
        }
    }
    let unacked = sent
        .into_iter()
        .filter(|(id, _)| !acked.contains_key(id))
        .collect();
    Visitor {
        conversation: welcome["conversation_id"].as_str().unwrap().to_string(),
        token: welcome["visitor_token"].as_str().unwrap().to_string(),
        acked,
        unacked,
    }
}

/// (seq, role, message_id, text) of every stored event.
async fn stored(node: &NodeProcess, conversation: &str) -> Vec<(i64, String, String, String)> {
    let reply = node
        .admin()
        .get(&format!(
            "/v1/admin/tenants/demo/conversations/{conversation}"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m: &Value| {
            (
                m["seq"].as_i64().unwrap(),
                m["role"].as_str().unwrap().to_string(),
                m["message_id"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn acked_messages_survive_a_sigkill_under_load(backend: Backend) {
    let mut node = NodeProcess::start("crash-1", &env(&backend)).await;
    let acks = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for n in 0..VISITORS {
        let client = node.client().await;
        tasks.push(tokio::spawn(chat_until_killed(client, acks.clone(), n)));
    }
    let loaded = eventually(Duration::from_secs(60), || {
        let acks = acks.clone();
        async move { acks.load(Ordering::Relaxed) >= ACKS_BEFORE_KILL }
    })
    .await;
    assert!(loaded, "the load never reached {ACKS_BEFORE_KILL} acks");
    node.kill();
    let mut visitors = Vec::new();
    for task in tasks {
        visitors.push(task.await.expect("visitor task"));
    }
    let total: usize = visitors.iter().map(|v| v.acked.len()).sum();
    assert!(total >= ACKS_BEFORE_KILL);

    let node = NodeProcess::start("crash-2", &env(&backend)).await;
    for visitor in &visitors {
        let events = stored(&node, &visitor.conversation).await;
        let seqs: Vec<i64> = events.iter().map(|e| e.0).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "gap-free"
        );
        for (client_id, (message_id, seq)) in &visitor.acked {
            let copies: Vec<_> = events.iter().filter(|e| &e.2 == message_id).collect();
            assert_eq!(copies.len(), 1, "acked {client_id} stored once");
            assert_eq!(copies[0].0, *seq, "at the seq its ack named");
            assert_eq!(copies[0].1, "user");
        }
    }

    // A message whose ack died with the server is resent with the same client_id: it is
    // stored once, whether or not its first copy made it to the store.
    for visitor in visitors.iter().filter(|v| !v.unacked.is_empty()).take(4) {
        let mut client = node.client().await;
        client
            .resume("demo", &visitor.token, &visitor.conversation, 0)
            .await;
        for (client_id, text) in &visitor.unacked {
            client
                .send_json(json!({"type": "message", "client_id": client_id, "text": text}))
                .await;
            client
                .until(|f| f["type"] == "ack" && f["client_id"] == client_id.as_str())
                .await;
        }
        let events = stored(&node, &visitor.conversation).await;
        for (_, text) in &visitor.unacked {
            let copies = events
                .iter()
                .filter(|e| e.1 == "user" && &e.3 == text)
                .count();
            assert_eq!(copies, 1, "{text} stored once");
        }
    }
}
