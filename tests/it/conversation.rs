//! A web chat conversation end to end through the demo flow (collect → branch → llm), on
//! a real socket, on SQLite and on PostgreSQL; and 200 of them at once.

use std::collections::HashMap;

use crate::support::{Backend, Client, spawn_server};
use serde_json::Value;

on_both_stores!(
    three_turns_with_streamed_reply,
    two_hundred_concurrent_conversations
);

async fn three_turns_with_streamed_reply(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let mut client = Client::connect(node.addr()).await;
    let welcome = client.hello("demo").await;
    assert_eq!(welcome["last_seq"], 0);
    assert!(
        welcome["visitor_token"]
            .as_str()
            .unwrap()
            .starts_with("v1.")
    );

    client.bot_says("what's your name").await;

    // Turn 1: collect the name.
    let ack = client.say("Ada").await;
    assert!(ack["message_id"].as_str().is_some());
    client.bot_says("nice to meet you, ada").await;

    // Turn 2: the enum slot; "Technical" normalises and the branch skips billing_info.
    client.say("Technical").await;
    client.bot_says("what would you like to know").await;
    assert!(
        !client
            .messages()
            .iter()
            .any(|f| f["text"].as_str().unwrap().contains("Invoices")),
        "the billing branch must not run for a technical question"
    );

    // Turn 3: the LLM answer streams as reply.delta frames, then arrives whole.
    let before = client.frames.len();
    client.say("How do I reset my password?").await;
    let reply = client
        .until(|f| {
            f["type"] == "message"
                && f["role"] == "bot"
                && !f["text"].as_str().unwrap().contains("would you like")
        })
        .await;
    let reply_id = reply["message_id"].as_str().unwrap();
    let deltas: Vec<&Value> = client.frames[before..]
        .iter()
        .filter(|f| f["type"] == "reply.delta" && f["message_id"] == reply_id)
        .collect();
    assert!(
        deltas.len() > 3,
        "the reply must stream in several deltas, got {}",
        deltas.len()
    );
    let final_index = client
        .frames
        .iter()
        .position(|f| f["message_id"] == reply_id && f["type"] == "message")
        .unwrap();
    let last_delta_index = client
        .frames
        .iter()
        .rposition(|f| f["type"] == "reply.delta" && f["message_id"] == reply_id)
        .unwrap();
    assert!(
        last_delta_index < final_index,
        "deltas must arrive before the final message"
    );
    let mut streamed = String::new();
    for delta in &deltas {
        assert_eq!(
            delta["offset"].as_u64().unwrap() as usize,
            streamed.chars().count(),
            "offsets add up"
        );
        streamed.push_str(delta["text"].as_str().unwrap());
    }
    assert_eq!(
        streamed,
        reply["text"].as_str().unwrap(),
        "the deltas add up to the final text"
    );
    assert!(
        streamed.contains("reset my password"),
        "the offline model answers the question: {streamed}"
    );

    client.bot_says("what would you like to know").await;
    client.say("bye").await;
    client.bot_says("thanks, ada").await;
    client.assert_gap_free();
    client.close().await;
    node.shutdown().await;
}

async fn two_hundred_concurrent_conversations(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let addr = node.addr();
    let mut tasks = Vec::new();
    for i in 0..200 {
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            client.hello("demo").await;
            client.bot_says("what's your name").await;
            let name = format!("Visitor{i}");
            client.say(&name).await;
            client.bot_says(&format!("nice to meet you, {name}")).await;
            client
                .say(if i % 2 == 0 { "billing" } else { "other" })
                .await;
            client.bot_says("what would you like to know").await;
            let question = format!("question number {i} about my account");
            client.say(&question).await;
            let reply = client
                .until(|f| {
                    f["type"] == "message"
                        && f["role"] == "bot"
                        && f["text"].as_str().unwrap().contains("question number")
                })
                .await;
            client.bot_says("what would you like to know").await;
            client.assert_gap_free();
            let conversation = client.conversation_id.clone().unwrap();
            let texts: Vec<String> = client
                .messages()
                .iter()
                .map(|f| f["text"].as_str().unwrap().to_string())
                .collect();
            client.close().await;
            (
                i,
                conversation,
                reply["text"].as_str().unwrap().to_string(),
                texts,
            )
        }));
    }
    let mut conversations = HashMap::new();
    for task in tasks {
        let (i, conversation, reply, texts) = task.await.expect("client task");
        assert!(
            reply.contains(&format!("question number {i} ")),
            "client {i} got someone else's reply: {reply}"
        );
        for text in &texts {
            for other in ["Visitor", "question number "] {
                if let Some(pos) = text.find(other) {
                    let rest = &text[pos + other.len()..];
                    let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    assert_eq!(
                        n,
                        i.to_string(),
                        "client {i} saw another conversation's text: {text}"
                    );
                }
            }
        }
        assert!(
            conversations.insert(conversation, i).is_none(),
            "conversation ids are unique"
        );
    }
    assert_eq!(conversations.len(), 200);
    node.shutdown().await;
}
