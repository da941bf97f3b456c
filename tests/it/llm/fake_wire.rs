//! Raw HTTP checks of the fake upstream, independent of async-openai: the bytes on
//! the wire must look like OpenAI's chat completions API.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchboard::testkit::fake_openai::{FakeBehaviour, FakeOpenAi};

fn body(stream: bool) -> Value {
    json!({
        "model": "gpt-wire",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
    })
}

/// Splits an SSE body into the `data:` payloads of its events.
fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("event without data prefix: {e:?}"))
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_body_is_openai_sse() {
    let fake = FakeOpenAi::start(FakeBehaviour::Stream {
        tokens: vec!["Hel".into(), "lo \"q\"".into()],
        gap: Duration::from_millis(10),
    })
    .await
    .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/chat/completions", fake.base_url))
        .json(&body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    let data = sse_data(&text);
    assert_eq!(data.len(), 5, "role + 2 tokens + finish + DONE: {data:?}");
    assert_eq!(data[4], "[DONE]");
    let chunks: Vec<Value> = data[..4]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for c in &chunks {
        assert!(c["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(c["id"], chunks[0]["id"], "same id for every chunk");
        assert_eq!(c["object"], "chat.completion.chunk");
        assert!(c["created"].as_u64().unwrap() > 1_600_000_000);
        assert_eq!(c["model"], "gpt-wire");
        assert_eq!(c["choices"][0]["index"], 0);
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(chunks[0]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(chunks[1]["choices"][0]["delta"], json!({"content": "Hel"}));
    assert_eq!(
        chunks[2]["choices"][0]["delta"],
        json!({"content": "lo \"q\""})
    );
    assert_eq!(chunks[3]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(fake.requests(), vec![body(true)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn non_streaming_request_gets_chat_completion() {
    let fake = FakeOpenAi::start(FakeBehaviour::tokens(["Hello", " there"]))
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/chat/completions", fake.base_url))
        .json(&body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-wire");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn error_behaviour_uses_openai_error_body() {
    let fake = FakeOpenAi::start(FakeBehaviour::Error {
        status: 503,
        message: "overloaded".into(),
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{}/chat/completions", fake.base_url))
        .json(&body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "overloaded", "type": "server_error", "param": null, "code": null}})
    );

    // Garbage body → OpenAI-style 400, not recorded as a request.
    let resp = client
        .post(format!("{}/chat/completions", fake.base_url))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn stall_sends_headers_then_nothing() {
    let fake = FakeOpenAi::start(FakeBehaviour::StallBeforeFirstToken)
        .await
        .unwrap();
    let resp = tokio::time::timeout(
        Duration::from_secs(5),
        reqwest::Client::new()
            .post(format!("{}/chat/completions", fake.base_url))
            .json(&body(true))
            .send(),
    )
    .await
    .expect("headers must arrive even though the body stalls")
    .unwrap();
    assert_eq!(resp.status(), 200);
    let mut bytes = resp.bytes_stream();
    let next = tokio::time::timeout(Duration::from_millis(300), bytes.next()).await;
    assert!(next.is_err(), "stalled body produced data: {next:?}");
    assert_eq!(fake.open_streams(), 1);
    drop(bytes);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fake.open_streams() != 0 {
        assert!(std::time::Instant::now() < deadline, "stall task leaked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stall_after_sends_prefix_without_done() {
    let fake = FakeOpenAi::start(FakeBehaviour::StallAfter {
        tokens: vec!["a".into(), "b".into(), "c".into()],
        after: 1,
    })
    .await
    .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/chat/completions", fake.base_url))
        .json(&body(true))
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut seen = String::new();
    // Collect what arrives within 500 ms; the stream must not finish.
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        panic!("stalled stream ended");
    })
    .await;
    let data = sse_data(&seen);
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(
        data[1].contains(r#""delta":{"content":"a"}"#),
        "{}",
        data[1]
    );
    assert!(!seen.contains("[DONE]"));
}
