//! Bad frames get `error` frames with stable codes, the socket stays open, and the server
//! keeps serving. Abuse closes the socket with a close code.

use std::time::Duration;

use crate::support::{Backend, Client, spawn_server};
use serde_json::json;

async fn expect_error(client: &mut Client, code: &str) -> serde_json::Value {
    let frame = client.until(|f| f["type"] == "error").await;
    assert_eq!(frame["code"], code, "{frame}");
    assert!(frame["message"].as_str().is_some_and(|m| !m.is_empty()));
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_frames_and_the_socket_survives() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let mut client = Client::connect(node.addr()).await;

    client.send_raw("this is not json").await;
    expect_error(&mut client, "invalid_json").await;
    client.send_json(json!({"type": "teleport"})).await;
    expect_error(&mut client, "unknown_type").await;
    client.send_json(json!({"type": "hello"})).await;
    expect_error(&mut client, "missing_field").await;
    client
        .send_json(json!({"type": "message", "client_id": "early", "text": "hi"}))
        .await;
    let error = expect_error(&mut client, "hello_required").await;
    assert_eq!(error["client_id"], "early");
    client
        .send_json(json!({"type": "hello", "tenant": "no-such-tenant"}))
        .await;
    expect_error(&mut client, "unknown_tenant").await;

    // After all that, the same socket still joins and chats.
    client.hello("demo").await;
    client.bot_says("what's your name").await;
    client
        .send_json(json!({"type": "message", "client_id": "m1"}))
        .await;
    expect_error(&mut client, "missing_field").await;
    let long = "x".repeat(4_001);
    client
        .send_json(json!({"type": "message", "client_id": "m2", "text": long}))
        .await;
    let error = expect_error(&mut client, "text_too_long").await;
    assert_eq!(error["client_id"], "m2");
    client
        .send_json(json!({"type": "hello", "tenant": "demo"}))
        .await;
    expect_error(&mut client, "already_joined").await;
    client.say("Edsger").await;
    client.bot_says("nice to meet you, edsger").await;
    client.assert_gap_free();

    // The server is fine for everybody else.
    let mut other = Client::connect(node.addr()).await;
    other.hello("demo").await;
    other.bot_says("what's your name").await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_client_id_is_acked_again_and_processed_once() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.bot_says("what's your name").await;
    let frame = json!({"type": "message", "client_id": "same", "text": "Linus"});
    client.send_json(frame.clone()).await;
    let first = client.until(|f| f["type"] == "ack").await;
    client.bot_says("nice to meet you, linus").await;
    client.send_json(frame).await;
    let second = client.until(|f| f["type"] == "ack").await;
    assert_eq!(first, second, "the same ack, message id and seq");
    // Prove nothing else happened: the next turn follows directly.
    client.say("other").await;
    client.bot_says("what would you like to know").await;
    let users: Vec<_> = client
        .messages()
        .into_iter()
        .filter(|f| f["role"] == "user")
        .collect();
    assert_eq!(
        users.len(),
        2,
        "the resent message was stored once: {users:#?}"
    );
    client.assert_gap_free();
    node.shutdown().await;
}

/// A client that keeps hitting the rate limit and resends politely is never cut off:
/// `rate_limited` answers do not count towards `max_bad_frames`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_clients_are_not_closed_as_abusive() {
    let backend = Backend::sqlite();
    let mut config = backend.config();
    config.webchat.messages_per_second = 1;
    config.webchat.message_burst = 1;
    config.webchat.max_bad_frames = 3;
    let node = spawn_server(config).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.bot_says("what's your name").await;
    let burst = 12;
    for i in 0..burst {
        client
            .send_json(json!({"type": "message", "client_id": format!("r{i}"), "text": "Ada"}))
            .await;
    }
    let mut limited = 0;
    let mut acked = 0;
    while limited + acked < burst {
        let frame = client
            .until(|f| f["type"] == "ack" || f["type"] == "error")
            .await;
        match frame["type"].as_str() {
            Some("ack") => acked += 1,
            _ => {
                assert_eq!(frame["code"], "rate_limited", "{frame}");
                limited += 1;
            }
        }
    }
    assert!(
        limited > 3,
        "more rate_limited answers than max_bad_frames: {limited}"
    );
    // Still open: a message resent later, with the same client id, is taken.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ack = loop {
        client
            .send_json(json!({"type": "message", "client_id": "r11", "text": "Ada"}))
            .await;
        let answer = client
            .until(|f| (f["type"] == "ack" || f["type"] == "error") && f["client_id"] == "r11")
            .await;
        if answer["type"] == "ack" || tokio::time::Instant::now() > deadline {
            break answer["type"] == "ack";
        }
        // Pacing: one attempt per rate-limit period.
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        ack,
        "the socket stayed open and the resent message was taken"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_origin_hello_timeout_and_oversized_frames() {
    let backend = Backend::sqlite();
    let mut config = backend.config();
    config.webchat.messages_per_second = 1;
    config.webchat.message_burst = 2;
    config.webchat.hello_timeout_ms = 300;
    config.webchat.max_frame_bytes = 8 * 1024;
    config.demo.allowed_origins = vec!["https://shop.example".into()];
    let node = spawn_server(config).await;

    // Allowed origin joins; a burst beyond the limit gets rate_limited errors.
    let mut client = Client::connect_with_origin(node.addr(), Some("https://shop.example")).await;
    client.hello("demo").await;
    for i in 0..5 {
        client
            .send_json(json!({"type": "message", "client_id": format!("r{i}"), "text": "Ada"}))
            .await;
    }
    expect_error(&mut client, "rate_limited").await;

    // A foreign origin is refused and closed with 1008.
    let mut foreign = Client::connect_with_origin(node.addr(), Some("https://evil.example")).await;
    foreign
        .send_json(json!({"type": "hello", "tenant": "demo"}))
        .await;
    expect_error(&mut foreign, "origin_not_allowed").await;
    assert_eq!(foreign.closed().await, Some(1008));

    // No hello in time: error frame, then close 1008.
    let mut silent = Client::connect_with_origin(node.addr(), Some("https://shop.example")).await;
    expect_error(&mut silent, "hello_timeout").await;
    assert_eq!(silent.closed().await, Some(1008));

    // A frame over the size limit closes with 1009.
    let mut huge = Client::connect_with_origin(node.addr(), Some("https://shop.example")).await;
    huge.send_raw(&"y".repeat(16 * 1024)).await;
    assert_eq!(huge.closed().await, Some(1009));

    // And the server still serves.
    let mut fine = Client::connect_with_origin(node.addr(), Some("https://shop.example")).await;
    fine.hello("demo").await;
    fine.bot_says("what's your name").await;
    node.shutdown().await;
}
