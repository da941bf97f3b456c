//! The offline model through the public gateway API: determinism, exact
//! concatenation, per-fragment delay and max_tokens.

use std::time::Duration;

use futures_util::StreamExt;
use switchboard::config::LlmConfig;
use switchboard::llm::offline::{OFFLINE_MODEL, fragments, reply_for};
use switchboard::llm::{ChatMessage, CompletionRequest, LlmError, LlmGateway, TimeoutPhase};

fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are the room assistant."),
        ChatMessage::user("Can someone summarise today's standup?"),
    ]
}

async fn collect(gw: &LlmGateway, req: CompletionRequest) -> Vec<Result<String, LlmError>> {
    gw.stream(req).await.unwrap().collect().await
}

#[tokio::test(start_paused = true)]
async fn deterministic_and_concatenates_to_reply_for() {
    let gw = LlmGateway::offline(Duration::from_millis(25));
    assert!(gw.is_offline());
    assert_eq!(gw.model(), OFFLINE_MODEL);
    let a = collect(&gw, CompletionRequest::new(messages())).await;
    let b = collect(&gw, CompletionRequest::new(messages())).await;
    assert_eq!(a, b);
    let parts: Vec<String> = a.into_iter().map(Result::unwrap).collect();
    let expected = reply_for(&messages());
    assert_eq!(parts.concat(), expected);
    assert_eq!(parts, fragments(&expected));
    assert!(parts.len() >= 25);
    assert!(
        expected.contains("summarise today's standup?"),
        "{expected}"
    );
    assert_ne!(
        reply_for(&[ChatMessage::user("something else entirely")]),
        expected
    );
}

#[tokio::test(start_paused = true)]
async fn delay_is_honoured_per_fragment() {
    let delay = Duration::from_millis(25);
    let gw = LlmGateway::offline(delay);
    let n = fragments(&reply_for(&messages())).len() as u32;
    let start = tokio::time::Instant::now();
    let mut s = gw.stream(CompletionRequest::new(messages())).await.unwrap();
    let mut stamps = Vec::new();
    while let Some(item) = s.next().await {
        item.unwrap();
        stamps.push(start.elapsed());
    }
    assert_eq!(stamps.len() as u32, n);
    assert_eq!(stamps[0], delay, "sleeps before the first fragment");
    assert_eq!(*stamps.last().unwrap(), delay * n);
}

#[tokio::test]
async fn zero_delay_streams_immediately_and_from_config() {
    let gw = LlmGateway::from_config(&LlmConfig {
        offline_token_delay_ms: 0,
        ..LlmConfig::default()
    })
    .unwrap();
    assert!(gw.is_offline());
    let started = std::time::Instant::now();
    let parts = collect(&gw, CompletionRequest::new(messages())).await;
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(
        parts.into_iter().map(Result::unwrap).collect::<String>(),
        reply_for(&messages())
    );
}

#[tokio::test(start_paused = true)]
async fn max_tokens_caps_fragments() {
    let gw = LlmGateway::offline(Duration::ZERO);
    let req = CompletionRequest {
        max_tokens: Some(5),
        ..CompletionRequest::new(messages())
    };
    let parts = collect(&gw, req).await;
    assert_eq!(parts.len(), 5);
    let all = fragments(&reply_for(&messages()));
    let got: Vec<String> = parts.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, all[..5]);
}

#[tokio::test(start_paused = true)]
async fn offline_is_subject_to_timeouts_too() {
    let gw = LlmGateway::from_config(&LlmConfig {
        offline_token_delay_ms: 1_000,
        first_token_timeout_ms: 500,
        ..LlmConfig::default()
    })
    .unwrap();
    // Before the first token the gateway may still fall back, so the timeout is the
    // answer of `stream()` itself.
    let error = gw
        .stream(CompletionRequest::new(messages()))
        .await
        .err()
        .expect("no first token in time");
    assert_eq!(
        error,
        LlmError::Timeout {
            phase: TimeoutPhase::FirstToken,
            after_ms: 500
        }
    );
}
