//! Conversations against a real OpenAI-compatible upstream (the local fake, speaking SSE
//! with `[DONE]`): tokens reach the client in order, and a failing or stalled upstream
//! gives the user a polite message within the configured timeout.

use std::time::{Duration, Instant};

use crate::support::admin::Admin;
use crate::support::{Backend, Client, eventually, spawn_server};
use serde_json::Value;
use switchboard::actors::conversation::LLM_APOLOGY;
use switchboard::llm::ModelPrice;
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
    let operator = crate::support::admin::Admin::operator(node.addr());
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

/// Every model call of a conversation is metered: the stored calls carry the tokens the
/// upstream reported, exactly, priced to the micro-unit, attributed to the tenant,
/// conversation, flow, version, state and channel; the usage report sums them by each
/// grouping, and another tenant sees none of it.
async fn model_calls_are_metered_and_reported(backend: Backend) {
    let tokens: Vec<String> = ["Reset", " it", " from", " settings."]
        .map(String::from)
        .to_vec();
    let upstream = FakeOpenAi::start(FakeBehaviour::tokens(tokens.clone()))
        .await
        .unwrap();
    let mut config = backend.config();
    config.llm.base_url = upstream.base_url.clone();
    config.llm.api_key = "sk-test".into();
    config.llm.model = "gpt-test".into();
    config.llm.currency = "EUR".into();
    config.llm.prices.insert(
        "gpt-test".into(),
        ModelPrice {
            input: 2_500_000,
            output: 10_000_000,
        },
    );
    let node = spawn_server(config).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.say("Ada").await;
    client.bot_says("nice to meet you, ada").await;
    client.say("technical").await;
    client.bot_says("what would you like to know").await;
    client.say("How do I reset my password?").await;
    client.bot_says("reset it from settings").await;
    client.bot_says("what would you like to know").await;
    client.say("And my e-mail address?").await;
    client.bot_says("reset it from settings").await;
    let conversation = client.conversation_id.clone().unwrap();

    let admin = Admin::operator(node.addr());
    let calls_path = "/v1/admin/tenants/demo/usage/calls";
    let both_stored = eventually(Duration::from_secs(10), || {
        let admin = admin.clone();
        async move {
            let reply = admin.get(calls_path).await;
            reply.body.as_array().is_some_and(|c| c.len() == 2)
        }
    })
    .await;
    let calls: Value = admin.get(calls_path).await.body;
    assert!(both_stored, "two metered calls: {calls}");
    let reported = upstream.reported_usage();
    assert_eq!(reported.len(), 2, "the upstream reported usage for both");
    let mut expected_cost = 0;
    // Newest first.
    for (call, usage) in calls.as_array().unwrap().iter().zip(reported.iter().rev()) {
        assert_eq!(call["tokens_in"], usage.prompt_tokens, "{call}");
        assert_eq!(call["tokens_out"], usage.completion_tokens, "{call}");
        assert_eq!(call["usage_source"], "provider");
        let scaled = usage.prompt_tokens * 2_500_000 + usage.completion_tokens * 10_000_000;
        let cost = ((scaled + 500_000) / 1_000_000) as i64;
        assert_eq!(call["cost_micros"], cost, "{call}");
        expected_cost += cost;
        assert_eq!(call["conversation_id"], conversation.as_str());
        assert_eq!(call["channel"], "webchat");
        assert_eq!(call["provider"], "default");
        assert_eq!(call["model"], "gpt-test");
        assert_eq!(call["outcome"], "ok");
        assert_eq!(call["kind"], "chat");
        assert!(
            call["state"].as_str().is_some_and(|s| !s.is_empty()),
            "{call}"
        );
        assert!(
            call["flow_id"].as_str().is_some_and(|s| !s.is_empty()),
            "{call}"
        );
        assert!(
            call["flow_version"].as_i64().is_some_and(|v| v >= 1),
            "{call}"
        );
    }
    let tokens_in: u64 = reported.iter().map(|u| u.prompt_tokens).sum();
    let tokens_out: u64 = reported.iter().map(|u| u.completion_tokens).sum();
    let first = &calls[0];
    for (group_by, key) in [
        ("day", None),
        ("flow", first["flow_id"].as_str()),
        ("state", first["state"].as_str()),
        ("model", Some("gpt-test")),
        ("conversation", Some(conversation.as_str())),
    ] {
        let report = admin
            .get(&format!("/v1/admin/tenants/demo/usage?group_by={group_by}"))
            .await;
        assert_eq!(report.status, 200, "{:?}", report.body);
        let body = &report.body;
        assert_eq!(body["currency"], "EUR");
        assert_eq!(body["group_by"], group_by);
        for sums in [&body["total"], &body["groups"][0]] {
            assert_eq!(sums["calls"], 2, "{group_by}: {body}");
            assert_eq!(sums["tokens_in"], tokens_in, "{group_by}: {body}");
            assert_eq!(sums["tokens_out"], tokens_out, "{group_by}: {body}");
            assert_eq!(sums["cost_micros"], expected_cost, "{group_by}: {body}");
        }
        assert_eq!(body["groups"].as_array().unwrap().len(), 1, "{body}");
        match key {
            Some(key) => assert_eq!(body["groups"][0]["key"], key),
            // Today, in UTC.
            None => assert_eq!(body["groups"][0]["key"], body["to"]),
        }
    }
    // A range with no calls, bad parameters, and another tenant's view.
    let empty = admin
        .get("/v1/admin/tenants/demo/usage?from=2020-01-01&to=2020-01-31")
        .await;
    assert_eq!(empty.body["total"]["calls"], 0, "{:?}", empty.body);
    assert_eq!(empty.body["groups"], serde_json::json!([]));
    for bad in [
        "group_by=week",
        "from=2026-02-30",
        "from=2026-03-01&to=2026-02-01",
        "from=2020-01-01&to=2026-01-01",
        "limit=0",
    ] {
        let reply = admin
            .get(&format!("/v1/admin/tenants/demo/usage?{bad}"))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_request"),
            "{bad}"
        );
    }
    let other_key = admin.tenant_with_owner("other", "demo").await;
    let other = admin.with_key(&other_key);
    // Another tenant's usage does not exist for this key.
    assert_eq!(other.get("/v1/admin/tenants/demo/usage").await.status, 404);
    let theirs = other.get("/v1/admin/tenants/other/usage").await;
    assert_eq!(theirs.body["total"]["calls"], 0);
    assert_eq!(
        other.get("/v1/admin/tenants/other/usage/calls").await.body,
        serde_json::json!([])
    );
    node.shutdown().await;
}

on_both_stores!(model_calls_are_metered_and_reported);

/// A conversation whose route's first target is down is answered by the next one; both
/// attempts are metered; the operator sees the providers (never a key), the route and the
/// breaker, and a tenant key does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_falls_back_along_its_route() {
    let primary = FakeOpenAi::start(FakeBehaviour::Error {
        status: 502,
        message: "bad gateway".into(),
    })
    .await
    .unwrap();
    let spare = FakeOpenAi::start(FakeBehaviour::tokens(["The", " spare", " answers."]))
        .await
        .unwrap();
    let backend = Backend::sqlite();
    let mut config = backend.config();
    config.llm.base_url = primary.base_url.clone();
    config.llm.api_key = "sk-primary-secret".into();
    config.llm.model = "gpt-test".into();
    config.llm.providers.insert(
        "spare".into(),
        switchboard::config::ProviderConfig {
            kind: "openai".into(),
            base_url: spare.base_url.clone(),
            api_key: "sk-spare-secret".into(),
            ..Default::default()
        },
    );
    config.llm.routes.insert(
        "main".into(),
        vec!["default:gpt-test".into(), "spare:gpt-spare".into()],
    );
    config.llm.route = "main".into();
    let node = spawn_server(config).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.say("Ada").await;
    client.bot_says("nice to meet you, ada").await;
    client.say("technical").await;
    client.bot_says("what would you like to know").await;
    client.say("Is anyone there?").await;
    client.bot_says("the spare answers").await;
    assert_eq!((primary.request_count(), spare.request_count()), (1, 1));

    let admin = Admin::operator(node.addr());
    let calls_path = "/v1/admin/tenants/demo/usage/calls";
    let both = eventually(Duration::from_secs(10), || {
        let admin = admin.clone();
        async move {
            admin
                .get(calls_path)
                .await
                .body
                .as_array()
                .is_some_and(|c| c.len() == 2)
        }
    })
    .await;
    let calls = admin.get(calls_path).await.body;
    assert!(both, "{calls}");
    let attempts: Vec<(i64, &str, &str)> = calls
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|c| {
            (
                c["attempt"].as_i64().unwrap(),
                c["provider"].as_str().unwrap(),
                c["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(1, "default", "error"), (2, "spare", "ok")]);

    let status = admin.get("/v1/admin/model-gateway").await;
    assert_eq!(status.status, 200, "{:?}", status.body);
    let text = status.body.to_string();
    assert!(!text.contains("secret"), "no key in the status: {text}");
    assert_eq!(
        status.body["routes"]["main"],
        serde_json::json!(["default:gpt-test", "spare:gpt-spare"])
    );
    assert_eq!(status.body["default_route"], status.body["routes"]["main"]);
    let breaker = status.body["breakers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["provider"] == "default")
        .cloned()
        .unwrap();
    assert_eq!(breaker["state"], "closed");
    assert_eq!(breaker["recent_failures"], 1);
    let tenant_key = admin.key_for("demo", "owner").await;
    assert_eq!(
        admin
            .with_key(&tenant_key)
            .get("/v1/admin/model-gateway")
            .await
            .status,
        403
    );
    node.shutdown().await;
}

/// The same metering through Anthropic's Messages API: the stored calls carry exactly
/// the tokens the fake Anthropic reported, priced to the micro-unit.
async fn anthropic_calls_are_metered_exactly(backend: Backend) {
    use switchboard::testkit::fake_anthropic::{AnthropicBehaviour, FakeAnthropic};
    let upstream = FakeAnthropic::start(
        "sk-ant-test",
        AnthropicBehaviour::tokens(["Reset", " it", " here."]),
    )
    .await
    .unwrap();
    let mut config = backend.config();
    config.llm.providers.insert(
        "claude".into(),
        switchboard::config::ProviderConfig {
            kind: "anthropic".into(),
            base_url: upstream.base_url.clone(),
            api_key: "sk-ant-test".into(),
            ..Default::default()
        },
    );
    config
        .llm
        .routes
        .insert("c".into(), vec!["claude:claude-test".into()]);
    config.llm.route = "c".into();
    config.llm.prices.insert(
        "claude-test".into(),
        ModelPrice {
            input: 800_000,
            output: 4_000_000,
        },
    );
    let node = spawn_server(config).await;
    let mut client = Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.say("Ada").await;
    client.bot_says("nice to meet you, ada").await;
    client.say("technical").await;
    client.bot_says("what would you like to know").await;
    client.say("How do I reset my password?").await;
    client.bot_says("reset it here").await;
    let admin = Admin::operator(node.addr());
    let calls_path = "/v1/admin/tenants/demo/usage/calls";
    let stored = eventually(Duration::from_secs(10), || {
        let admin = admin.clone();
        async move {
            admin
                .get(calls_path)
                .await
                .body
                .as_array()
                .is_some_and(|c| c.len() == 1)
        }
    })
    .await;
    let calls = admin.get(calls_path).await.body;
    assert!(stored, "{calls}");
    let reported = upstream.reported_usage();
    assert_eq!(reported.len(), 1);
    let call = &calls[0];
    assert_eq!(call["provider"], "claude");
    assert_eq!(call["model"], "claude-test");
    assert_eq!(call["usage_source"], "provider");
    assert_eq!(call["tokens_in"], reported[0].input_tokens);
    assert_eq!(call["tokens_out"], reported[0].output_tokens);
    let scaled = reported[0].input_tokens * 800_000 + reported[0].output_tokens * 4_000_000;
    assert_eq!(call["cost_micros"], ((scaled + 500_000) / 1_000_000) as i64);
    node.shutdown().await;
}

on_both_stores!(anthropic_calls_are_metered_exactly);
