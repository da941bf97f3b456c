//! The additive fields of web chat protocol v1 that the widget uses (docs/protocol.md):
//! `created_at` and `choices` on messages, `status` on welcome, conversation events and
//! `conversation_ended`, agents' names, `not_available`, and identified visitors.

use crate::support::admin::Admin;
use crate::support::{Backend, Client, spawn_server};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

const SECRET: &str = "acme-widget-identity-secret-0123456789abcdef";

fn identity(sub: &str, secret: &str, expires_in: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    jsonwebtoken::encode(
        &Header::default(),
        &json!({"sub": sub, "name": "Ada", "exp": now + expires_in}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn hello_frame(client: &mut Client, frame: Value) -> Value {
    client.send_json(frame).await;
    client.recv().await
}

async fn choices_status_events_and_ended_conversations(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let mut client = Client::connect(node.addr()).await;
    let welcome = client.hello("demo").await;
    assert_eq!(welcome["status"], "active");
    let prompt = client.bot_says("what's your name").await;
    assert!(
        prompt["created_at"].as_i64().is_some_and(|t| t > 0),
        "{prompt}"
    );
    assert!(
        prompt.get("choices").is_none(),
        "a free-text question has none"
    );
    client.say("Ada").await;
    let topic = client.bot_says("billing, technical or other").await;
    assert_eq!(topic["choices"], json!(["billing", "technical", "other"]));

    // A wrong answer repeats the question, with its choices.
    client.say("weather").await;
    let again = client.bot_says("please answer").await;
    assert_eq!(again["choices"], json!(["billing", "technical", "other"]));

    client.say("other").await;
    client.bot_says("what would you like to know").await;
    client.say("bye").await;
    let ended = client
        .until(|f| f["type"] == "message" && f["role"] == "system")
        .await;
    assert_eq!(ended["event"], "ended", "{ended}");

    // After the end, a message is refused and not stored; the flow never restarts.
    let last_seq = ended["seq"].as_i64().unwrap();
    client
        .send_json(json!({"type": "message", "client_id": "late", "text": "hello?"}))
        .await;
    let refused = client
        .until(|f| f["type"] == "error" || f["type"] == "ack")
        .await;
    assert_eq!(refused["code"], "conversation_ended", "{refused}");
    assert_eq!(refused["client_id"], "late");

    // Resuming it says it ended, and nothing came after the end.
    let mut again = Client::connect(node.addr()).await;
    let welcome = hello_frame(
        &mut again,
        json!({"type": "hello", "tenant": "demo",
            "visitor_token": client.visitor_token, "conversation_id": client.conversation_id,
            "last_seq": last_seq}),
    )
    .await;
    assert_eq!(welcome["status"], "ended");
    assert_eq!(welcome["last_seq"], last_seq);
    // A new hello with the same visitor token starts a new conversation.
    let fresh = hello_frame(
        &mut again,
        json!({"type": "hello", "tenant": "demo", "visitor_token": client.visitor_token}),
    )
    .await;
    assert_eq!(
        fresh["type"], "error",
        "this socket already joined: {fresh}"
    );
    let mut next = Client::connect(node.addr()).await;
    let welcome = hello_frame(
        &mut next,
        json!({"type": "hello", "tenant": "demo", "visitor_token": client.visitor_token}),
    )
    .await;
    assert_eq!(welcome["status"], "active");
    assert_ne!(welcome["conversation_id"], json!(client.conversation_id));
    node.shutdown().await;
}

async fn identified_visitors_and_unavailable_tenants(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "demo").await);
    owner
        .publish_flow(
            "acme",
            "demo",
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/demo.yaml")),
        )
        .await;
    let put = owner
        .put_json(
            "/v1/admin/tenants/acme/widget",
            json!({"identity_secret": SECRET}),
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.body);

    // A genuine token: the visitor's conversation follows them to another device.
    let mut laptop = Client::connect(node.addr()).await;
    let welcome = hello_frame(
        &mut laptop,
        json!({"type": "hello", "tenant": "acme", "identity": identity("user-42", SECRET, 600)}),
    )
    .await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let conversation = welcome["conversation_id"].clone();
    laptop.bot_says("what's your name").await;
    laptop.say("Ada").await;
    laptop.bot_says("nice to meet you, ada").await;
    let mut phone = Client::connect(node.addr()).await;
    let welcome = hello_frame(
        &mut phone,
        json!({"type": "hello", "tenant": "acme", "identity": identity("user-42", SECRET, 600)}),
    )
    .await;
    assert_eq!(welcome["conversation_id"], conversation, "{welcome}");
    // The whole conversation is replayed to the new device.
    let replayed = phone.bot_says("nice to meet you, ada").await;
    assert_eq!(replayed["type"], "message");

    // Bad, expired and other-tenant tokens are refused; the socket stays open.
    let mut stranger = Client::connect(node.addr()).await;
    for (token, code) in [
        ("not.a.jwt".to_string(), "invalid_identity"),
        (identity("user-42", SECRET, -120), "identity_expired"),
        (
            identity("user-42", "another-tenants-secret-0123456789abcdef", 600),
            "invalid_identity",
        ),
    ] {
        let refused = hello_frame(
            &mut stranger,
            json!({"type": "hello", "tenant": "acme", "identity": token}),
        )
        .await;
        assert_eq!(refused["type"], "error");
        assert_eq!(refused["code"], code, "{refused}");
    }
    // A tenant without a secret accepts no identity at all.
    let refused = hello_frame(
        &mut stranger,
        json!({"type": "hello", "tenant": "demo", "identity": identity("user-42", SECRET, 600)}),
    )
    .await;
    assert_eq!(refused["code"], "invalid_identity");

    // A tenant whose entry flow has no active version: not available, plainly.
    operator.tenant_with_owner("closed", "unpublished").await;
    let refused = hello_frame(&mut stranger, json!({"type": "hello", "tenant": "closed"})).await;
    assert_eq!(refused["code"], "not_available", "{refused}");
    node.shutdown().await;
}

/// A user message comes back with the `client_id` it was sent with: live, on every
/// socket of the visitor, and when replayed from the store after a reconnect.
async fn user_messages_echo_their_client_id(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let mut first = Client::connect(node.addr()).await;
    first.hello("demo").await;
    let token = first.visitor_token.clone().unwrap();
    let conversation = first.conversation_id.clone().unwrap();
    let mut second = Client::connect(node.addr()).await;
    second.resume("demo", &token, &conversation, 0).await;
    let ack = first.say("Ada").await;
    let client_id = ack["client_id"].as_str().unwrap().to_string();
    let is_mine = |f: &Value| f["type"] == "message" && f["role"] == "user" && f["text"] == "Ada";
    // The echo may come before or after the ack.
    let live = match first.messages().into_iter().find(|f| is_mine(f)).cloned() {
        Some(frame) => frame,
        None => first.until(is_mine).await,
    };
    assert_eq!(live["client_id"], client_id.as_str(), "{live}");
    let other_tab = second.until(is_mine).await;
    assert_eq!(other_tab["client_id"], client_id.as_str(), "{other_tab}");
    first.bot_says("nice to meet you").await;
    // Replayed from the store on a new socket.
    let mut later = Client::connect(node.addr()).await;
    later.resume("demo", &token, &conversation, 0).await;
    let replayed = later.until(is_mine).await;
    assert_eq!(replayed["client_id"], client_id.as_str(), "{replayed}");
    // Bot messages carry none.
    let bot = later
        .until(|f| f["type"] == "message" && f["role"] == "bot")
        .await;
    assert!(bot.get("client_id").is_none(), "{bot}");
    node.shutdown().await;
}

on_both_stores!(
    choices_status_events_and_ended_conversations,
    identified_visitors_and_unavailable_tenants,
    user_messages_echo_their_client_id
);
