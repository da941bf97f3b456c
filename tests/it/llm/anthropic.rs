//! Anthropic's Messages API through the gateway, against the fake Anthropic server over
//! a real socket: streamed events, usage from `message_start` and `message_delta`, error
//! bodies, 429 with `Retry-After`, error events mid-stream, and extraction by tool use.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::common::{config, request, run};
use switchboard::config::ProviderConfig;
use switchboard::llm::usage::{CallOutcome, UsageSource, cost_micros};
use switchboard::llm::{LlmError, LlmGateway, MemorySink, ModelPrice, PriceTable};
use switchboard::testkit::fake_anthropic::{AnthropicBehaviour, FakeAnthropic};

const LIMIT: Duration = Duration::from_secs(10);
const KEY: &str = "sk-ant-test";
const PRICE: ModelPrice = ModelPrice {
    input: 800_000,
    output: 4_000_000,
};

fn claude(fake: &FakeAnthropic) -> (LlmGateway, MemorySink) {
    let mut cfg = config("http://127.0.0.1:9/v1");
    cfg.providers = BTreeMap::from([(
        "claude".to_string(),
        ProviderConfig {
            kind: "anthropic".into(),
            base_url: fake.base_url.clone(),
            api_key: KEY.into(),
            ..ProviderConfig::default()
        },
    )]);
    cfg.routes = BTreeMap::from([("c".to_string(), vec!["claude:claude-test".to_string()])]);
    cfg.route = "c".into();
    let sink = MemorySink::default();
    let prices = PriceTable::new(BTreeMap::from([("claude-test".to_string(), PRICE)]));
    let gw = LlmGateway::from_config(&cfg)
        .unwrap()
        .with_prices(prices)
        .with_usage_sink(Arc::new(sink.clone()));
    (gw, sink)
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_text_and_meters_the_usage_anthropic_reports() {
    let tokens = ["Your", " parcel", " is", " on", " its", " way."];
    let fake = FakeAnthropic::start(
        KEY,
        AnthropicBehaviour::Reply {
            tokens: tokens.map(String::from).to_vec(),
            gap: Duration::from_millis(5),
        },
    )
    .await
    .unwrap();
    let (gw, sink) = claude(&fake);
    let out = run(&gw, request("Where is my parcel?"), LIMIT).await;
    assert_eq!(out.error, None);
    assert_eq!(out.texts(), tokens.map(String::from).to_vec());

    let sent = &fake.requests()[0];
    assert_eq!(sent["model"], "claude-test");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["system"], "You are a test assistant.");
    assert_eq!(sent["messages"][0]["role"], "user");
    assert_eq!(sent["max_tokens"], 32);

    let reported = fake.reported_usage();
    assert_eq!(reported.len(), 1);
    let calls = sink.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(
        (call.provider.as_str(), call.outcome),
        ("claude", CallOutcome::Ok)
    );
    assert_eq!(call.usage_source, UsageSource::Provider);
    assert_eq!(call.usage.tokens_in, reported[0].input_tokens);
    assert_eq!(call.usage.tokens_out, reported[0].output_tokens);
    assert_eq!(call.usage.tokens_out, 6);
    assert_eq!(call.cost_micros, cost_micros(PRICE, call.usage));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_keep_their_meaning() {
    let fake = FakeAnthropic::start(
        KEY,
        AnthropicBehaviour::Error {
            status: 529,
            error_type: "overloaded_error".into(),
            retry_after_secs: None,
        },
    )
    .await
    .unwrap();
    let (gw, _) = claude(&fake);
    let out = run(&gw, request("x"), LIMIT).await;
    assert!(
        matches!(&out.error, Some(LlmError::Upstream { status: Some(529), message }) if message == "the fake says no"),
        "{:?}",
        out.error
    );

    fake.set_behaviour(AnthropicBehaviour::Error {
        status: 429,
        error_type: "rate_limit_error".into(),
        retry_after_secs: Some(40),
    });
    let out = run(&gw, request("x"), LIMIT).await;
    assert_eq!(
        out.error,
        Some(LlmError::RateLimited {
            retry_after_ms: Some(40_000),
            message: "the fake says no".into()
        })
    );

    // Mid-stream: the tokens so far, then the error event as the last item.
    fake.set_behaviour(AnthropicBehaviour::ErrorEventAfter {
        tokens: vec!["par".into(), "tial".into(), " never".into()],
        after: 2,
    });
    let out = run(&gw, request("x"), LIMIT).await;
    assert_eq!(out.text(), "partial");
    assert!(matches!(
        out.error,
        Some(LlmError::Upstream {
            status: Some(529),
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_a_401() {
    let fake = FakeAnthropic::start("another-key", AnthropicBehaviour::tokens(["x"]))
        .await
        .unwrap();
    let (gw, _) = claude(&fake);
    let out = run(&gw, request("x"), LIMIT).await;
    assert!(matches!(
        out.error,
        Some(LlmError::Upstream {
            status: Some(401),
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn extraction_forces_a_tool_call_and_meters_it() {
    let fake = FakeAnthropic::start(KEY, AnthropicBehaviour::tokens([r#"{"email": "a@b.co"}"#]))
        .await
        .unwrap();
    let (gw, sink) = claude(&fake);
    let schema = serde_json::json!({"type": "object", "properties": {"email": {"type": "string"}}});
    let values = gw.extract(request("I am a@b.co"), &schema).await.unwrap();
    assert_eq!(values["email"], "a@b.co");
    let sent = &fake.requests()[0];
    assert_eq!(sent["tool_choice"]["type"], "tool");
    assert_eq!(sent["tools"][0]["input_schema"], schema);
    let reported = fake.reported_usage();
    let call = &sink.calls()[0];
    assert_eq!(call.usage.tokens_in, reported[0].input_tokens);
    assert_eq!(call.usage.tokens_out, reported[0].output_tokens);
}
