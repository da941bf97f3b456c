//! Routes, fallback and the circuit breaker, over real sockets to two fake upstreams:
//! a failing primary and a healthy spare.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::common::{config, request, run};
use switchboard::config::{LlmConfig, ProviderConfig};
use switchboard::llm::usage::CallOutcome;
use switchboard::llm::{LlmError, LlmGateway, MemorySink};
use switchboard::testkit::fake_openai::{FakeBehaviour, FakeOpenAi};

const LIMIT: Duration = Duration::from_secs(10);

fn boom() -> FakeBehaviour {
    FakeBehaviour::Error {
        status: 503,
        message: "the primary is down".into(),
    }
}

/// A gateway whose `main` route is `default:gpt-test` (at `primary`), then
/// `spare:gpt-spare` (at `spare`), and the calls it meters.
fn two_targets(
    primary: &FakeOpenAi,
    spare: &FakeOpenAi,
    tweak: impl FnOnce(&mut LlmConfig),
) -> (LlmGateway, MemorySink) {
    let mut cfg = config(&primary.base_url);
    cfg.providers = BTreeMap::from([(
        "spare".to_string(),
        ProviderConfig {
            kind: "openai".into(),
            base_url: spare.base_url.clone(),
            api_key: "sk-spare".into(),
            ..ProviderConfig::default()
        },
    )]);
    cfg.routes = BTreeMap::from([(
        "main".to_string(),
        vec![
            "default:gpt-test".to_string(),
            "spare:gpt-spare".to_string(),
        ],
    )]);
    cfg.route = "main".into();
    tweak(&mut cfg);
    let sink = MemorySink::default();
    let gw = LlmGateway::from_config(&cfg)
        .expect("valid config")
        .with_usage_sink(Arc::new(sink.clone()));
    (gw, sink)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_target_falls_back_to_the_next_and_every_attempt_is_recorded() {
    let primary = FakeOpenAi::start(boom()).await.unwrap();
    let spare = FakeOpenAi::start(FakeBehaviour::tokens(["From", " the", " spare."]))
        .await
        .unwrap();
    let (gw, sink) = two_targets(&primary, &spare, |_| {});
    let out = run(&gw, request("hello"), LIMIT).await;
    assert_eq!(out.error, None);
    assert_eq!(out.text(), "From the spare.");
    assert_eq!(primary.request_count(), 1);
    assert_eq!(spare.request_count(), 1);
    assert_eq!(spare.requests()[0]["model"], "gpt-spare");
    let calls = sink.calls();
    let attempts: Vec<_> = calls
        .iter()
        .map(|c| {
            (
                c.attempt,
                c.provider.as_str(),
                c.model.as_str(),
                c.outcome,
                c.error_code,
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (
                1,
                "default",
                "gpt-test",
                CallOutcome::Error,
                Some("llm_upstream")
            ),
            (2, "spare", "gpt-spare", CallOutcome::Ok, None),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_or_target_named_by_the_call_wins_over_the_default_route() {
    let primary = FakeOpenAi::start(FakeBehaviour::tokens(["primary"]))
        .await
        .unwrap();
    let spare = FakeOpenAi::start(FakeBehaviour::tokens(["spare"]))
        .await
        .unwrap();
    let (gw, _) = two_targets(&primary, &spare, |_| {});
    let mut req = request("hello");
    req.model = Some("spare:gpt-other".into());
    assert_eq!(run(&gw, req, LIMIT).await.text(), "spare");
    assert_eq!(spare.requests()[0]["model"], "gpt-other");
    let mut req = request("hello");
    req.model = Some("gpt-4o".into()); // a bare model: the default provider
    assert_eq!(run(&gw, req, LIMIT).await.text(), "primary");
    assert_eq!(primary.requests()[0]["model"], "gpt-4o");
}

#[tokio::test(flavor = "multi_thread")]
async fn five_failures_open_the_breaker_the_sixth_call_skips_the_failing_upstream_and_a_probe_closes_it()
 {
    let primary = FakeOpenAi::start(boom()).await.unwrap();
    let spare = FakeOpenAi::start(FakeBehaviour::tokens(["spare"]))
        .await
        .unwrap();
    let (gw, sink) = two_targets(&primary, &spare, |cfg| {
        cfg.breaker.open_secs = 1;
    });
    for _ in 0..5 {
        assert_eq!(run(&gw, request("hello"), LIMIT).await.text(), "spare");
    }
    assert_eq!(primary.request_count(), 5);
    let status = gw.status();
    let breaker = status
        .breakers
        .iter()
        .find(|b| b.provider == "default")
        .unwrap();
    assert_eq!(breaker.state, "open", "{status:?}");

    // The sixth call goes to the spare; the failing primary sees no request.
    assert_eq!(run(&gw, request("hello"), LIMIT).await.text(), "spare");
    assert_eq!(
        primary.request_count(),
        5,
        "no request while the breaker is open"
    );
    let skipped = sink
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.provider == "default")
        .unwrap();
    assert_eq!(skipped.error_code, Some("llm_breaker_open"));

    // After open_secs, one probe goes through; it succeeds and closes the breaker.
    primary.set_behaviour(FakeBehaviour::tokens(["primary", " again"]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        run(&gw, request("hello"), LIMIT).await.text(),
        "primary again"
    );
    assert_eq!(primary.request_count(), 6);
    let breaker = gw
        .status()
        .breakers
        .into_iter()
        .find(|b| b.provider == "default")
        .unwrap();
    assert_eq!(breaker.state, "closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_retry_after_is_honoured_on_the_same_target_and_a_long_one_falls_back() {
    let primary = FakeOpenAi::start(FakeBehaviour::tokens(["primary"]))
        .await
        .unwrap();
    let spare = FakeOpenAi::start(FakeBehaviour::tokens(["spare"]))
        .await
        .unwrap();
    let (gw, _) = two_targets(&primary, &spare, |cfg| cfg.retry_after_cap_ms = 1_500);
    primary.queue_behaviours([FakeBehaviour::RateLimited {
        retry_after_secs: Some(1),
    }]);
    let started = Instant::now();
    assert_eq!(run(&gw, request("hello"), LIMIT).await.text(), "primary");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited as asked"
    );
    assert_eq!((primary.request_count(), spare.request_count()), (2, 0));

    primary.queue_behaviours([FakeBehaviour::RateLimited {
        retry_after_secs: Some(30),
    }]);
    let started = Instant::now();
    assert_eq!(run(&gw, request("hello"), LIMIT).await.text(), "spare");
    assert!(started.elapsed() < Duration::from_secs(5), "no 30 s wait");
    assert_eq!((primary.request_count(), spare.request_count()), (3, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_fallback_once_tokens_have_reached_the_caller() {
    let primary = FakeOpenAi::start(FakeBehaviour::StallAfter {
        tokens: vec!["half".into(), " a".into(), " reply".into()],
        after: 1,
    })
    .await
    .unwrap();
    let spare = FakeOpenAi::start(FakeBehaviour::tokens(["spare"]))
        .await
        .unwrap();
    let (gw, _) = two_targets(&primary, &spare, |cfg| cfg.idle_timeout_ms = 300);
    let mut stream = gw.stream(request("hello")).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), "half");
    match stream.next().await {
        Some(Err(LlmError::Timeout { .. })) => {}
        other => panic!("expected the idle timeout, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
    assert_eq!(spare.request_count(), 0, "never a fallback after a token");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_error_does_not_fall_back() {
    let primary = FakeOpenAi::start(FakeBehaviour::Error {
        status: 400,
        message: "bad request".into(),
    })
    .await
    .unwrap();
    let spare = FakeOpenAi::start(FakeBehaviour::tokens(["spare"]))
        .await
        .unwrap();
    let (gw, _) = two_targets(&primary, &spare, |_| {});
    let out = run(&gw, request("hello"), LIMIT).await;
    assert!(matches!(
        out.error,
        Some(LlmError::Upstream {
            status: Some(400),
            ..
        })
    ));
    assert_eq!(spare.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_puts_the_deployment_in_the_path_with_api_version_and_api_key() {
    let fake = FakeOpenAi::start(FakeBehaviour::tokens(["from", " azure"]))
        .await
        .unwrap();
    let mut cfg = config("http://127.0.0.1:9/v1");
    cfg.providers = BTreeMap::from([(
        "azure-eu".to_string(),
        ProviderConfig {
            kind: "azure".into(),
            base_url: fake.base_url.trim_end_matches("/v1").to_owned(),
            api_key: "azure-key".into(),
            api_version: "2024-10-21".into(),
        },
    )]);
    let sink = MemorySink::default();
    let gw = LlmGateway::from_config(&cfg)
        .unwrap()
        .with_usage_sink(Arc::new(sink.clone()));
    let mut req = request("hello");
    req.model = Some("azure-eu:gpt4o-eu".into());
    let out = run(&gw, req, LIMIT).await;
    assert_eq!(out.error, None);
    assert_eq!(out.text(), "from azure");
    let sent = &fake.requests()[0];
    assert_eq!(sent["_azure"]["deployment"], "gpt4o-eu");
    assert_eq!(sent["_azure"]["api_version"], "2024-10-21");
    assert_eq!(sent["_azure"]["api_key"], "azure-key");
    let call = &sink.calls()[0];
    assert_eq!(
        (call.provider.as_str(), call.model.as_str()),
        ("azure-eu", "gpt4o-eu")
    );
    assert_eq!(
        call.usage.tokens_out, 2,
        "usage reported through include_usage"
    );
}
