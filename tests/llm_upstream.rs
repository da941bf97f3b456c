//! Conversations against a real OpenAI-compatible upstream (the local fake, speaking SSE
//! with `[DONE]`): tokens reach the client in order, and a failing or stalled upstream
//! gives the user a polite message within the configured timeout.

mod support;

use std::time::{Duration, Instant};

use support::{Backend, Client, spawn_server};
use switchboard::actors::conversation::LLM_APOLOGY;
use switchboard::testkit::fake_openai::{FakeBehaviour, FakeOpenAi};

const FIRST_TOKEN_TIMEOUT_MS: u64 = 800;

/// A client at the question prompt of the demo flow, on a node using `upstream`.
async fn at_question_prompt(
    backend: &Backend,
    upstream: &FakeOpenAi,
) -> (switchboard::app::Node, Client) {
    let mut config = backend.config();
    config.llm.base_url = upstream.base_url.clone();
    config.llm.api_key = "sk-test".into();
    config.llm.model = "gpt-test".into();
    config.llm.first_token_timeout_ms = FIRST_TOKEN_TIMEOUT_MS;
    config.llm.idle_timeout_ms = FIRST_TOKEN_TIMEOUT_MS;
    let node = spawn_server(config).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.say("Ada").await;
    client.bot_says("nice to meet you, ada").await;
    client.say("technical").await;
    client.bot_says("what would you like to know").await;
    (node, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_tokens_reach_the_client_in_order() {
    let tokens: Vec<String> = [
        "Try",
        " the",
        " \"Forgot",
        " password\"",
        " link",
        " — it",
        " works",
        ".",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    let upstream = FakeOpenAi::start(FakeBehaviour::Stream {
        tokens: tokens.clone(),
        gap: Duration::from_millis(15),
    })
    .await
    .unwrap();
    let backend = Backend::sqlite();
    let (node, mut client) = at_question_prompt(&backend, &upstream).await;
    let start = client.frames.len();
    client.say("How do I reset my password?").await;
    let reply = client.bot_says("forgot password").await;
    let deltas: Vec<String> = client.frames[start..]
        .iter()
        .filter(|f| f["type"] == "reply.delta")
        .map(|f| f["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        deltas, tokens,
        "every upstream token, in order, as its own delta"
    );
    assert_eq!(reply["text"].as_str().unwrap(), tokens.concat());

    // The request upstream: streaming, the configured model, the rendered system prompt,
    // and the question as the last user message.
    let requests = upstream.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request["stream"], true);
    assert_eq!(request["model"], "gpt-test");
    let messages = request["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("The customer is Ada")
    );
    let last = messages.last().unwrap();
    assert_eq!(last["role"], "user");
    assert_eq!(last["content"], "How do I reset my password?");
    client.bot_says("what would you like to know").await;
    client.assert_gap_free();
    node.shutdown().await;
}

async fn apology_within_timeout(behaviour: FakeBehaviour) {
    let upstream = FakeOpenAi::start(FakeBehaviour::Stream {
        tokens: vec![],
        gap: Duration::ZERO,
    })
    .await
    .unwrap();
    let backend = Backend::sqlite();
    let (node, mut client) = at_question_prompt(&backend, &upstream).await;
    upstream.set_behaviour(behaviour);
    let asked = Instant::now();
    client.say("Will this work?").await;
    let reply = client.bot_says("sorry").await;
    let waited = asked.elapsed();
    assert_eq!(reply["text"], LLM_APOLOGY);
    // Generous slack for a noisy machine; the point is that it does not hang.
    assert!(
        waited < Duration::from_millis(FIRST_TOKEN_TIMEOUT_MS) + Duration::from_secs(5),
        "the apology took {waited:?}"
    );
    // The conversation is not stuck: the flow goes on.
    client.bot_says("what would you like to know").await;
    client.say("bye").await;
    client.bot_says("thanks, ada").await;
    client.assert_gap_free();
    node.shutdown().await;
}

/// Issue #18, defect 2, inside a turn: a model reply with U+0000 is stored alike on both
/// stores (as U+FFFD; PostgreSQL cannot store U+0000), and the conversation goes on,
/// with no restart and no quarantine.
async fn a_model_reply_with_nul_is_stored_and_the_conversation_goes_on(backend: Backend) {
    let upstream = FakeOpenAi::start(FakeBehaviour::tokens(["Null", "\u{0}", "byte"]))
        .await
        .unwrap();
    let (node, mut client) = at_question_prompt(&backend, &upstream).await;
    client.say("What is NUL?").await;
    let reply = client.bot_says("null").await;
    assert_eq!(reply["text"], "Null\u{FFFD}byte");
    client.bot_says("what would you like to know").await;
    client.say("bye").await;
    client.bot_says("thanks, ada").await;
    client.assert_gap_free();
    node.shutdown().await;
}

on_both_stores!(a_model_reply_with_nul_is_stored_and_the_conversation_goes_on);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_upstream_gives_a_polite_message() {
    apology_within_timeout(FakeBehaviour::Error {
        status: 500,
        message: "upstream exploded".into(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_upstream_gives_a_polite_message_within_the_timeout() {
    apology_within_timeout(FakeBehaviour::StallBeforeFirstToken).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_stalling_mid_reply_gives_a_polite_message() {
    apology_within_timeout(FakeBehaviour::StallAfter {
        tokens: vec!["Half".into(), " an".into(), " answer".into()],
        after: 3,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_can_choose_its_model() {
    let upstream = FakeOpenAi::start(FakeBehaviour::Stream {
        tokens: vec!["Sure".into(), "!".into()],
        gap: Duration::ZERO,
    })
    .await
    .unwrap();
    let backend = Backend::sqlite();
    let mut config = backend.config();
    config.llm.base_url = upstream.base_url.clone();
    config.llm.model = "gpt-default".into();
    let node = spawn_server(config).await;
    let operator = support::admin::Admin::operator(node.addr());
    let created = operator
        .post(
            "/v1/admin/tenants",
            serde_json::json!({"id": "picky", "name": "Picky", "entry_flow": "main", "llm_model": "gpt-tenant"}),
        )
        .await;
    assert_eq!(
        created.body["llm_model"], "gpt-tenant",
        "{:?}",
        created.body
    );
    let owner = operator.with_key(&operator.key_for("picky", "owner").await);
    let flow = "id: main\nslots:\n  q: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: q, prompt: \"Ask.\" }\n    next: answer\n  answer:\n    llm: { prompt: \"{{ q }}\" }\n    next: done\n  done:\n    end: \"Done.\"\n";
    owner.publish_flow("picky", "main", flow).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("picky").await;
    client.say("Hello?").await;
    client.bot_says("sure!").await;
    assert_eq!(upstream.requests()[0]["model"], "gpt-tenant");
    node.shutdown().await;
}
