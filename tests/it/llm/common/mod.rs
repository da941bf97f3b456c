//! Helpers shared by the integration tests: gateway configs pointing at a fake
//! upstream and a collector that records what a token stream produced and when.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use switchboard::config::LlmConfig;
use switchboard::llm::{ChatMessage, CompletionRequest, LlmError, LlmGateway};

pub fn config(base_url: &str) -> LlmConfig {
    LlmConfig {
        base_url: base_url.to_owned(),
        api_key: "sk-test-not-a-real-key".to_owned(),
        model: "gpt-test".to_owned(),
        max_tokens: 64,
        first_token_timeout_ms: 3_000,
        idle_timeout_ms: 3_000,
        request_timeout_ms: 20_000,
        ..LlmConfig::default()
    }
}

pub fn gateway(cfg: &LlmConfig) -> LlmGateway {
    LlmGateway::from_config(cfg).expect("valid config")
}

pub fn request(text: &str) -> CompletionRequest {
    CompletionRequest {
        messages: vec![
            ChatMessage::system("You are a test assistant."),
            ChatMessage::user(text),
        ],
        max_tokens: Some(32),
        temperature: None,
        model: None,
        ..CompletionRequest::default()
    }
}

/// Everything one completion produced: fragments with arrival times, and the error
/// (from `stream()` itself or as the last item), if any.
#[derive(Debug)]
pub struct Outcome {
    pub started: Instant,
    pub fragments: Vec<(String, Instant)>,
    pub error: Option<LlmError>,
    pub ended: Instant,
}

impl Outcome {
    pub fn text(&self) -> String {
        self.fragments.iter().map(|(t, _)| t.as_str()).collect()
    }

    pub fn texts(&self) -> Vec<String> {
        self.fragments.iter().map(|(t, _)| t.clone()).collect()
    }
}

/// Runs a completion to its end; panics if it takes longer than `limit` (a hang).
pub async fn run(gw: &LlmGateway, req: CompletionRequest, limit: Duration) -> Outcome {
    tokio::time::timeout(limit, run_unbounded(gw, req))
        .await
        .expect("completion did not finish in time")
}

async fn run_unbounded(gw: &LlmGateway, req: CompletionRequest) -> Outcome {
    let started = Instant::now();
    let mut fragments = Vec::new();
    let mut error = None;
    match gw.stream(req).await {
        Err(e) => error = Some(e),
        Ok(mut s) => {
            while let Some(item) = s.next().await {
                match item {
                    Ok(t) => {
                        assert!(error.is_none(), "fragment after an error");
                        fragments.push((t, Instant::now()));
                    }
                    Err(e) => {
                        assert!(error.is_none(), "two error items");
                        error = Some(e);
                    }
                }
            }
        }
    }
    Outcome {
        started,
        fragments,
        error,
        ended: Instant::now(),
    }
}

/// Polls `cond` every 20 ms for up to `limit`.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
