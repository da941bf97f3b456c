//! Resuming a conversation: across a server restart, with missed events replayed in
//! order, and never with somebody else's visitor token.

use crate::support::{Backend, Client, spawn_server};
use serde_json::json;

on_both_stores!(
    resume_after_restart_replays_missed_events,
    resume_is_refused_to_other_visitors
);

async fn resume_after_restart_replays_missed_events(backend: Backend) {
    let config = backend.config();
    let node = spawn_server(config.clone()).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.bot_says("what's your name").await;
    let seen_before_turn = client.last_seq();
    let ack = client.say("Grace").await;
    client.bot_says("nice to meet you, grace").await;
    let conversation = client.conversation_id.clone().unwrap();
    let token = client.visitor_token.clone().unwrap();
    let everything: Vec<_> = client.messages().into_iter().cloned().collect();
    client.close().await;
    node.shutdown().await;

    // A new process on the same database. The client pretends it saw nothing after the
    // name prompt, so the user message and the bot's answer must be replayed.
    let node = spawn_server(config).await;
    let mut client = Client::connect(node.addr()).await;
    let welcome = client
        .resume("demo", &token, &conversation, seen_before_turn)
        .await;
    assert_eq!(welcome["conversation_id"], conversation.as_str());
    assert_eq!(welcome["last_seq"], everything.last().unwrap()["seq"]);
    let missed = everything.len() - seen_before_turn as usize;
    let mut replayed = Vec::new();
    for _ in 0..missed {
        replayed.push(client.until(|f| f["type"] == "message").await);
    }
    assert_eq!(
        replayed,
        everything[seen_before_turn as usize..].to_vec(),
        "the missed events, in order, unchanged"
    );
    assert_eq!(
        replayed[0]["message_id"], ack["message_id"],
        "the acked message survived the restart"
    );
    assert_eq!(replayed[0]["role"], "user");

    // The conversation continues at the right state: the topic question.
    client.say("billing").await;
    client.bot_says("invoices are sent").await;
    client.bot_says("what would you like to know").await;
    let seqs: Vec<i64> = client
        .messages()
        .iter()
        .map(|f| f["seq"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> =
        (seen_before_turn + 1..=seen_before_turn + seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "gap-free after the restart");
    client.close().await;
    node.shutdown().await;
}

async fn resume_is_refused_to_other_visitors(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let mut owner = Client::connect(node.addr()).await;
    owner.hello("demo").await;
    owner.bot_says("what's your name").await;
    let conversation = owner.conversation_id.clone().unwrap();

    let mut stranger = Client::connect(node.addr()).await;
    stranger.hello("demo").await;
    let stranger_token = stranger.visitor_token.clone().unwrap();
    stranger.close().await;

    let mut intruder = Client::connect(node.addr()).await;
    intruder
        .send_json(json!({"type":"hello","tenant":"demo","visitor_token":stranger_token,"conversation_id":conversation,"last_seq":0}))
        .await;
    let error = intruder.until(|f| f["type"] == "error").await;
    assert_eq!(error["code"], "conversation_not_found");
    // A forged token is refused outright.
    intruder
        .send_json(json!({"type":"hello","tenant":"demo","visitor_token":"v1.someone.AAAA","conversation_id":conversation}))
        .await;
    let error = intruder.until(|f| f["type"] == "error").await;
    assert_eq!(error["code"], "invalid_visitor_token");
    // No message frame of the owner's conversation ever reached the intruder.
    assert!(intruder.messages().is_empty());
    // The socket stays usable: a fresh hello works.
    intruder.hello("demo").await;
    assert_ne!(
        intruder.conversation_id.as_deref(),
        Some(conversation.as_str())
    );
    node.shutdown().await;
}
