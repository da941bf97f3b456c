//! How calls fail: deadlines, error statuses, redirects (not followed), oversized and
//! non-JSON bodies, dead ports — and that no failure ever shows the secret.

use std::time::{Duration, Instant};

use serde_json::json;

use super::fake_shop::FakeShop;
use super::{args, open_client, spec};
use crate::adaptors::{
    AdaptorClient, AdaptorClientConfig, AdaptorError, AdaptorSecret, AdaptorSpec, NetworkPolicy,
};

fn get(url: String, timeout_ms: u64) -> AdaptorSpec {
    spec(json!({"method": "GET", "url": url, "timeout_ms": timeout_ms}))
}

async fn call(spec: &AdaptorSpec) -> Result<serde_json::Value, AdaptorError> {
    open_client().call(spec, None, &args(json!({})), None).await
}

#[tokio::test]
async fn a_slow_api_times_out_near_the_deadline() {
    let shop = FakeShop::start().await.unwrap();
    let started = Instant::now();
    let result = call(&get(shop.url("/slow"), 300)).await;
    let elapsed = started.elapsed();
    assert_eq!(result, Err(AdaptorError::Timeout { after_ms: 300 }));
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    // The per-call override wins over the spec's timeout.
    let started = Instant::now();
    let result = open_client()
        .call(
            &get(shop.url("/slow"), 60_000),
            None,
            &args(json!({})),
            Some(200),
        )
        .await;
    assert_eq!(result, Err(AdaptorError::Timeout { after_ms: 200 }));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(shop.requests().len(), 2);
    shop.stop().await;
}

#[tokio::test]
async fn error_statuses_are_status_errors() {
    let shop = FakeShop::start().await.unwrap();
    for code in [500u16, 404, 429] {
        let result = call(&get(shop.url(&format!("/status/{code}")), 2000)).await;
        assert_eq!(result, Err(AdaptorError::Status { status: code }));
    }
    let result = call(&get(shop.url("/no/such/route"), 2000)).await;
    assert_eq!(result, Err(AdaptorError::Status { status: 404 }));
    shop.stop().await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let shop = FakeShop::start().await.unwrap();
    let result = call(&get(shop.url("/redirect"), 2000)).await;
    assert_eq!(result, Err(AdaptorError::Status { status: 302 }));
    let targets: Vec<String> = shop.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/redirect"]);
    shop.stop().await;
}

#[tokio::test]
async fn oversized_and_non_json_bodies_are_invalid_responses() {
    let shop = FakeShop::start().await.unwrap();
    // 2 MiB with a Content-Length against the default 1 MiB cap.
    let result = call(&get(shop.url("/big"), 5000)).await;
    assert!(
        matches!(result, Err(AdaptorError::InvalidResponse(ref m)) if m.contains("exceeds")),
        "{result:?}"
    );
    // 8 KiB chunked (no Content-Length) against a 1 KiB cap: caught while streaming.
    let small = AdaptorClient::with_config(AdaptorClientConfig {
        policy: NetworkPolicy {
            allow_private: true,
        },
        max_response_bytes: 1024,
    })
    .unwrap();
    let result = small
        .call(
            &get(shop.url("/big-chunked"), 5000),
            None,
            &args(json!({})),
            None,
        )
        .await;
    assert!(
        matches!(result, Err(AdaptorError::InvalidResponse(ref m)) if m.contains("exceeds 1024")),
        "{result:?}"
    );
    // Within the cap the same client works.
    let ok = small
        .call(
            &get(shop.url("/api/orders/1"), 5000),
            None,
            &args(json!({})),
            None,
        )
        .await;
    assert!(ok.is_ok(), "{ok:?}");

    let result = call(&get(shop.url("/html"), 2000)).await;
    assert!(
        matches!(result, Err(AdaptorError::InvalidResponse(ref m)) if m.contains("not JSON")),
        "{result:?}"
    );
    shop.stop().await;
}

#[tokio::test]
async fn a_closed_port_is_a_network_error() {
    let port = {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let result = call(&get(format!("http://127.0.0.1:{port}/"), 2000)).await;
    assert!(
        matches!(result, Err(AdaptorError::Network(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn secrets_never_show_in_debug_display_or_errors() {
    const SECRET: &str = "tok-9f8e7d6c5b4a";
    let shop = FakeShop::start().await.unwrap();
    let secret = AdaptorSecret::new(SECRET);
    let spec = spec(json!({
        "method": "POST",
        "url": shop.url("/status/500"),
        "body": "{}",
        "auth": {"type": "bearer"}
    }));
    let client = open_client();
    let error = client
        .call(&spec, Some(&secret), &args(json!({})), None)
        .await
        .unwrap_err();
    assert_eq!(error, AdaptorError::Status { status: 500 });
    assert_eq!(
        shop.single_request().header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );

    // A secret that cannot be a header value fails without being echoed.
    let broken = AdaptorSecret::new(format!("{SECRET}\r\nX-Injected: 1"));
    let invalid = client
        .call(&spec, Some(&broken), &args(json!({})), None)
        .await
        .unwrap_err();
    assert!(
        matches!(invalid, AdaptorError::InvalidRequest(_)),
        "{invalid:?}"
    );

    let shown = [
        format!("{secret:?}"),
        format!("{secret}"),
        format!("{broken:?} {broken}"),
        format!("{error:?} {error}"),
        format!("{invalid:?} {invalid}"),
        format!("{spec:?} {secret:?}"),
        format!("{spec:#?} {secret}"),
        format!("{client:?}"),
    ];
    for text in shown {
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("tok-"), "{text}");
    }
    assert_eq!(shop.requests().len(), 1, "the broken secret sent nothing");
    shop.stop().await;
}
