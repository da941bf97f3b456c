//! With the default policy, nothing reaches a non-public address: literal addresses
//! and local names are refused at validation, and at call time literals are refused
//! by the policy and names by what they *resolve* to, before any byte is sent.

use serde_json::json;

use super::fake_shop::FakeShop;
use super::{args, spec, strict_client};
use crate::adaptors::{AdaptorError, AdaptorSpec, NetworkPolicy, validate_spec};

fn get(url: &str) -> AdaptorSpec {
    spec(json!({"method": "GET", "url": url, "timeout_ms": 2000}))
}

fn assert_refused_at_validation(spec: &AdaptorSpec) {
    let errors = validate_spec(spec, &NetworkPolicy::default()).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.field == "url" && e.message.starts_with("refused at validation")),
        "{}: {errors:?}",
        spec.url
    );
}

/// Calls `spec` with the default policy and returns the refusal reason.
async fn assert_refused_at_call(spec: &AdaptorSpec) -> String {
    let result = strict_client()
        .call(spec, None, &args(json!({})), None)
        .await;
    match result {
        Err(AdaptorError::Refused { reason }) => reason,
        other => panic!("{}: expected a refusal, got {other:?}", spec.url),
    }
}

#[tokio::test]
async fn the_loopback_fake_is_refused_and_receives_nothing() {
    let shop = FakeShop::start().await.unwrap();
    let by_ip = get(&shop.url("/api/orders/1"));
    let by_name = get(&format!(
        "http://localhost:{}/api/orders/1",
        shop.addr().port()
    ));
    let by_mapped_ip = get(&format!(
        "http://[::ffff:127.0.0.1]:{}/api/orders/1",
        shop.addr().port()
    ));
    for spec in [&by_ip, &by_name, &by_mapped_ip] {
        assert_refused_at_validation(spec);
        assert_refused_at_call(spec).await;
    }
    // At call time names are not judged by their text but by what they resolve to:
    // the refusal for `localhost` comes from the vetting resolver.
    let reason = assert_refused_at_call(&by_name).await;
    assert!(
        reason.contains("resolves to a forbidden address"),
        "{reason}"
    );
    // An argument cannot smuggle the destination in either.
    let templated = spec(json!({"method": "GET", "url": "http://{{ host }}/api/orders/1"}));
    let result = strict_client()
        .call(
            &templated,
            None,
            &args(json!({"host": shop.addr().to_string()})),
            None,
        )
        .await;
    assert!(
        matches!(
            result,
            Err(AdaptorError::Refused { .. }) | Err(AdaptorError::InvalidRequest(_))
        ),
        "{result:?}"
    );
    assert!(shop.requests().is_empty(), "{:?}", shop.requests());
    shop.stop().await;
}

#[tokio::test]
async fn forbidden_destinations_are_refused_at_validation_and_call_time() {
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/",
        "http://192.168.0.1/admin",
        "http://100.64.0.1/",
        "http://[::1]:80/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://localhost/",
        "ftp://shop.example/",
        "http://user:pass@shop.example/",
    ] {
        let spec = get(url);
        assert_refused_at_validation(&spec);
        assert_refused_at_call(&spec).await;
    }
}
