//! Gateway against the fake OpenAI upstream over a real socket: streaming order and
//! progress, the request body sent upstream, error mapping and all three timeouts.

use std::time::Duration;

use super::common::{config, eventually, gateway, request, run};
use switchboard::llm::{LlmError, LlmGateway, TimeoutPhase};
use switchboard::testkit::fake_openai::{FakeBehaviour, FakeOpenAi};

const LIMIT: Duration = Duration::from_secs(10);

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|w| (*w).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_tokens_in_order_and_sends_expected_request() {
    let tokens = words(&["Hello", ",", " world", "!", " ünïcode 🎉"]);
    let fake = FakeOpenAi::start(FakeBehaviour::Stream {
        tokens: tokens.clone(),
        gap: Duration::from_millis(5),
    })
    .await
    .unwrap();
    let gw = gateway(&config(&fake.base_url));
    assert!(!gw.is_offline());
    assert_eq!(gw.model(), "gpt-test");

    let out = run(&gw, request("Say hello"), LIMIT).await;
    assert_eq!(out.error, None);
    assert_eq!(
        out.texts(),
        tokens,
        "fragments arrive in order, one per delta"
    );
    assert_eq!(out.text(), tokens.concat());

    assert_eq!(fake.request_count(), 1);
    let body = &fake.requests()[0];
    assert_eq!(body["stream"], true);
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["max_tokens"], 32, "per-request max_tokens wins");
    let temp = body["temperature"].as_f64().unwrap();
    assert!(
        (temp - 0.3).abs() < 1e-6,
        "configured temperature, got {temp}"
    );
    assert_eq!(
        body["messages"],
        serde_json::json!([
            {"role": "system", "content": "You are a test assistant."},
            {"role": "user", "content": "Say hello"},
        ])
    );
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_arrive_progressively() {
    let gap = Duration::from_millis(50);
    let fake = FakeOpenAi::start(FakeBehaviour::Stream {
        tokens: words(&["a", " b", " c", " d", " e"]),
        gap,
    })
    .await
    .unwrap();
    let gw = gateway(&config(&fake.base_url));
    let out = run(&gw, request("go"), LIMIT).await;
    assert_eq!(out.error, None);
    assert_eq!(out.fragments.len(), 5);
    let first = out.fragments[0].1;
    let last = out.fragments[4].1;
    // The fake sleeps `gap` before each token, so ≥ 4 gaps separate the first and
    // last token. A buffered (non-streaming) body would deliver them together.
    assert!(
        last.duration_since(first) >= gap * 3,
        "first fragment came {:?} before the last; body looks buffered",
        last.duration_since(first)
    );
    assert!(out.ended.duration_since(first) >= gap * 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_500_is_reported_once_and_promptly() {
    let fake = FakeOpenAi::start(FakeBehaviour::Error {
        status: 500,
        message: "The server had an error".into(),
    })
    .await
    .unwrap();
    let gw = gateway(&config(&fake.base_url));
    let out = run(&gw, request("x"), LIMIT).await;
    assert!(out.fragments.is_empty());
    assert_eq!(
        out.error,
        Some(LlmError::Upstream {
            status: Some(500),
            message: "The server had an error".into()
        })
    );
    assert!(out.ended.duration_since(out.started) < Duration::from_secs(2));
    assert_eq!(fake.request_count(), 1, "no built-in retries");
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_429_and_404_keep_their_status() {
    let fake = FakeOpenAi::start(FakeBehaviour::Error {
        status: 429,
        message: "Rate limit reached".into(),
    })
    .await
    .unwrap();
    let gw = gateway(&config(&fake.base_url));
    let out = run(&gw, request("x"), LIMIT).await;
    assert_eq!(
        out.error,
        Some(LlmError::RateLimited {
            retry_after_ms: None,
            message: "Rate limit reached".into()
        })
    );
    assert!(out.error.as_ref().unwrap().is_retryable());

    // A base URL missing the `/v1` suffix hits actix's plain 404 (empty, non-JSON body).
    let wrong = fake.base_url.trim_end_matches("/v1").to_owned();
    let out = run(&gateway(&config(&wrong)), request("x"), LIMIT).await;
    match out.error {
        Some(LlmError::Upstream {
            status: Some(404), ..
        }) => {}
        other => panic!("expected Upstream 404, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stall_before_first_token_times_out_and_releases_upstream() {
    let fake = FakeOpenAi::start(FakeBehaviour::StallBeforeFirstToken)
        .await
        .unwrap();
    let cfg = switchboard::config::LlmConfig {
        first_token_timeout_ms: 300,
        ..config(&fake.base_url)
    };
    let out = run(&gateway(&cfg), request("x"), LIMIT).await;
    assert!(out.fragments.is_empty());
    assert_eq!(
        out.error,
        Some(LlmError::Timeout {
            phase: TimeoutPhase::FirstToken,
            after_ms: 300
        })
    );
    let took = out.ended.duration_since(out.started);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // Our side dropped the connection, so the fake's stalled body task must end.
    assert!(
        eventually(Duration::from_secs(5), || fake.open_streams() == 0).await,
        "stalled response still open after client went away"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stall_after_some_tokens_is_idle_timeout() {
    let fake = FakeOpenAi::start(FakeBehaviour::StallAfter {
        tokens: words(&["one", " two", " three", " four"]),
        after: 2,
    })
    .await
    .unwrap();
    let cfg = switchboard::config::LlmConfig {
        first_token_timeout_ms: 2_000,
        idle_timeout_ms: 300,
        ..config(&fake.base_url)
    };
    let out = run(&gateway(&cfg), request("x"), LIMIT).await;
    assert_eq!(out.texts(), words(&["one", " two"]));
    assert_eq!(
        out.error,
        Some(LlmError::Timeout {
            phase: TimeoutPhase::Idle,
            after_ms: 300
        })
    );
    assert!(eventually(Duration::from_secs(5), || fake.open_streams() == 0).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_stream_hits_total_timeout() {
    let fake = FakeOpenAi::start(FakeBehaviour::Stream {
        tokens: (0..20).map(|i| format!(" t{i}")).collect(),
        gap: Duration::from_millis(100),
    })
    .await
    .unwrap();
    let cfg = switchboard::config::LlmConfig {
        request_timeout_ms: 450,
        ..config(&fake.base_url)
    };
    let out = run(&gateway(&cfg), request("x"), LIMIT).await;
    assert!(!out.fragments.is_empty() && out.fragments.len() < 20);
    assert_eq!(
        out.error,
        Some(LlmError::Timeout {
            phase: TimeoutPhase::Total,
            after_ms: 450
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_fails_fast() {
    // Bind then drop to get a port with (almost certainly) nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gw = gateway(&config(&format!("http://127.0.0.1:{port}/v1")));
    let out = run(&gw, request("x"), LIMIT).await;
    match &out.error {
        Some(LlmError::Transport(msg)) => assert!(!msg.contains("sk-test"), "{msg}"),
        Some(LlmError::Upstream { .. }) => {}
        other => panic!("expected Transport/Upstream, got {other:?}"),
    }
    assert!(out.ended.duration_since(out.started) < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn behaviour_switches_at_runtime_and_gateway_is_shared() {
    let fake = FakeOpenAi::start(FakeBehaviour::tokens(["first"]))
        .await
        .unwrap();
    let gw: LlmGateway = gateway(&config(&fake.base_url));
    let gw2 = gw.clone();
    let a = tokio::spawn(async move { run(&gw2, request("a"), LIMIT).await.text() });
    assert_eq!(a.await.unwrap(), "first");
    fake.set_behaviour(FakeBehaviour::tokens(["second", " reply"]));
    assert_eq!(run(&gw, request("b"), LIMIT).await.text(), "second reply");
    fake.set_behaviour(FakeBehaviour::Error {
        status: 503,
        message: "down".into(),
    });
    let err = run(&gw, request("c"), LIMIT).await.error.unwrap();
    assert_eq!(err.code(), "llm_upstream");
    let prompts: Vec<_> = fake
        .requests()
        .iter()
        .map(|b| b["messages"][1]["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(prompts, ["a", "b", "c"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_stream_closes_the_upstream_response() {
    use futures_util::StreamExt;
    let fake = FakeOpenAi::start(FakeBehaviour::Stream {
        tokens: (0..50).map(|i| format!(" w{i}")).collect(),
        gap: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let gw = gateway(&config(&fake.base_url));
    let mut s = gw.stream(request("x")).await.unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), " w0");
    assert_eq!(fake.open_streams(), 1);
    drop(s);
    assert!(
        eventually(Duration::from_secs(5), || fake.open_streams() == 0).await,
        "upstream response kept streaming after the consumer dropped it"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn works_from_a_current_thread_runtime() {
    let fake = FakeOpenAi::start(FakeBehaviour::tokens(["single", " threaded"]))
        .await
        .unwrap();
    let out = run(&gateway(&config(&fake.base_url)), request("x"), LIMIT).await;
    assert_eq!(out.text(), "single threaded");
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_and_drop_shut_the_server_down() {
    let fake = FakeOpenAi::start(FakeBehaviour::tokens(["x"]))
        .await
        .unwrap();
    let addr = fake.addr();
    fake.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let fake = FakeOpenAi::start(FakeBehaviour::tokens(["x"]))
        .await
        .unwrap();
    let addr = fake.addr();
    drop(fake);
    assert!(
        eventually(Duration::from_secs(5), || std::net::TcpStream::connect(
            addr
        )
        .is_err())
        .await
    );
}
