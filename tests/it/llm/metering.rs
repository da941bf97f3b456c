//! Metering at the gateway, over a real socket to the fake OpenAI upstream: every call
//! ends as exactly one record, with the tokens the provider reported (or, cut short, the
//! gateway's own count), its outcome, and its cost from the price table to the
//! micro-unit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::common::{config, eventually, request, run};
use switchboard::llm::usage::{CallKind, CallOutcome, UsageSource, cost_micros};
use switchboard::llm::{CallOrigin, LlmGateway, MemorySink, ModelPrice, PriceTable, usage::Usage};
use switchboard::testkit::fake_openai::{FakeBehaviour, FakeOpenAi};

const LIMIT: Duration = Duration::from_secs(10);
const PRICE: ModelPrice = ModelPrice {
    input: 150_000,
    output: 600_000,
};

fn metered(base_url: &str) -> (LlmGateway, MemorySink) {
    let sink = MemorySink::default();
    let prices = PriceTable::new(BTreeMap::from([("gpt-test".to_string(), PRICE)]));
    let gateway = LlmGateway::from_config(&config(base_url))
        .expect("valid config")
        .with_prices(prices)
        .with_usage_sink(Arc::new(sink.clone()));
    (gateway, sink)
}

fn origin() -> CallOrigin {
    CallOrigin {
        tenant_id: "shop".into(),
        conversation_id: Some("c1".into()),
        flow_id: Some("support".into()),
        flow_version: Some(3),
        state: Some("answer".into()),
        channel: Some("webchat".into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_reply_is_metered_with_the_providers_own_usage_and_priced_exactly() {
    let tokens: Vec<String> = ["Your", " order", " ships", " today."]
        .map(String::from)
        .to_vec();
    let fake = FakeOpenAi::start(FakeBehaviour::tokens(tokens.clone()))
        .await
        .unwrap();
    let (gw, sink) = metered(&fake.base_url);
    let mut req = request("Where is my order number 42?");
    req.origin = origin();
    let out = run(&gw, req, LIMIT).await;
    assert_eq!(out.error, None);
    assert_eq!(out.text(), tokens.concat());

    // The request asked for usage, and the fake reported it once.
    assert_eq!(fake.requests()[0]["stream_options"]["include_usage"], true);
    let reported = fake.reported_usage();
    assert_eq!(reported.len(), 1);
    let calls = sink.calls();
    assert_eq!(calls.len(), 1, "one record per call");
    let call = &calls[0];
    assert_eq!(call.origin, origin());
    assert_eq!((call.kind, call.outcome), (CallKind::Chat, CallOutcome::Ok));
    assert_eq!(
        (call.provider.as_str(), call.model.as_str(), call.attempt),
        ("default", "gpt-test", 1)
    );
    assert_eq!(call.usage_source, UsageSource::Provider);
    assert_eq!(call.usage.tokens_in, reported[0].prompt_tokens);
    assert_eq!(call.usage.tokens_out, reported[0].completion_tokens);
    assert_eq!(call.usage.tokens_out, 4);
    // system "You are a test assistant." (5 words + 3) and the user text (6 + 3).
    assert_eq!(call.usage.tokens_in, 17);
    let expected = (17 * 150_000 + 4 * 600_000 + 500_000) / 1_000_000;
    assert_eq!(call.cost_micros, expected);
    assert_eq!(call.cost_micros, cost_micros(PRICE, call.usage));
    assert!(call.first_token_ms.is_some() && call.latency_ms >= call.first_token_ms.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cut_short_still_counts_what_was_used() {
    let tokens: Vec<String> = ["one", " two", " three", " four"]
        .map(String::from)
        .to_vec();
    let fake = FakeOpenAi::start(FakeBehaviour::StallAfter { tokens, after: 2 })
        .await
        .unwrap();
    let (gw, sink) = metered(&fake.base_url);
    let mut stream = gw.stream(request("count for me")).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), "one");
    assert_eq!(stream.next().await.unwrap().unwrap(), " two");
    assert!(sink.calls().is_empty(), "recorded only when the call ends");
    drop(stream); // the turn is cancelled mid-stream
    let calls = sink.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.outcome, CallOutcome::Cancelled);
    assert_eq!(call.usage_source, UsageSource::Estimated);
    assert_eq!(
        call.usage.tokens_out, 2,
        "one token per fragment that streamed"
    );
    // "You are a test assistant." is 25 characters (7 tokens), "count for me" 12 (3).
    assert_eq!(call.usage.tokens_in, 10);
    assert_eq!(call.cost_micros, cost_micros(PRICE, call.usage));
    assert!(call.cost_micros > 0);
    assert!(
        eventually(LIMIT, || fake.open_streams() == 0).await,
        "the upstream stream closed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_calls_are_recorded_with_their_error_and_no_tokens() {
    let fake = FakeOpenAi::start(FakeBehaviour::Error {
        status: 503,
        message: "overloaded".into(),
    })
    .await
    .unwrap();
    let (gw, sink) = metered(&fake.base_url);
    let out = run(&gw, request("hello"), LIMIT).await;
    assert!(out.error.is_some());
    let calls = sink.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, CallOutcome::Error);
    assert_eq!(calls[0].error_code, Some("llm_upstream"));
    assert_eq!(calls[0].usage.tokens_out, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn extraction_is_metered_from_the_completions_usage() {
    let fake = FakeOpenAi::start(FakeBehaviour::tokens([r#"{"email": "a@b.co"}"#]))
        .await
        .unwrap();
    let (gw, sink) = metered(&fake.base_url);
    let schema = serde_json::json!({"type": "object", "properties": {"email": {"type": "string"}}});
    let values = gw.extract(request("I am a@b.co"), &schema).await.unwrap();
    assert_eq!(values["email"], "a@b.co");
    let reported = fake.reported_usage();
    let calls = sink.calls();
    assert_eq!((calls.len(), reported.len()), (1, 1));
    assert_eq!(calls[0].kind, CallKind::Extract);
    assert_eq!(calls[0].usage_source, UsageSource::Provider);
    assert_eq!(
        calls[0].usage,
        Usage {
            tokens_in: reported[0].prompt_tokens,
            tokens_out: reported[0].completion_tokens
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_offline_model_counts_its_own_tokens() {
    let sink = MemorySink::default();
    let gw = LlmGateway::offline(Duration::ZERO).with_usage_sink(Arc::new(sink.clone()));
    let out = run(&gw, request("hello there"), LIMIT).await;
    let calls = sink.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(
        (call.provider.as_str(), call.usage_source),
        ("default", UsageSource::Counted)
    );
    assert_eq!(call.model, "offline-demo");
    assert_eq!(call.usage.tokens_out, out.fragments.len() as u64);
    // "You are a test assistant." is 5 fragments, "hello there" 2.
    assert_eq!(call.usage.tokens_in, 7);
    assert_eq!(call.cost_micros, 0, "unpriced");
}
