//! Health, readiness and the demo page over real HTTP.

use crate::support::{Backend, spawn_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_demo_page() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let base = format!("http://{}", node.addr());

    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );

    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = page.text().await.unwrap();
    assert!(
        body.contains("src=\"/widget.js\"") && body.contains("data-tenant=\"demo\""),
        "the page embeds the widget as a customer would"
    );

    let missing = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(missing.status(), 404);
    node.shutdown().await;
}

/// One sample: name, sorted labels, value (a histogram's count).
type Sample = (String, Vec<(String, String)>, f64);

/// The samples of `/metrics`, parsed like Prometheus would.
async fn scrape(base: &str, token: Option<&str>) -> (u16, Vec<Sample>) {
    let mut request = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    if status != 200 {
        return (status, Vec::new());
    }
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the Prometheus text format");
    let samples = scrape
        .samples
        .into_iter()
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.last().map_or(0.0, |b| b.count)
                }
                prometheus_parse::Value::Summary(_) => 0.0,
            };
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            labels.sort();
            (s.metric, labels, value)
        })
        .collect();
    (status, samples)
}

fn total(samples: &[Sample], name: &str) -> f64 {
    samples.iter().filter(|s| s.0 == name).map(|s| s.2).sum()
}

/// `/metrics` parses as Prometheus text, its counters move as traffic flows, and a
/// configured bearer token protects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_with_traffic() {
    let backend = Backend::sqlite();
    let mut config = backend.config();
    config.metrics.bearer_token = "scrape-token".into();
    let node = spawn_server(config).await;
    let base = format!("http://{}", node.addr());
    assert_eq!(scrape(&base, None).await.0, 401);
    assert_eq!(scrape(&base, Some("wrong")).await.0, 401);
    let (status, before) = scrape(&base, Some("scrape-token")).await;
    assert_eq!(status, 200);

    let mut client = crate::support::Client::connect(node.addr()).await;
    client.hello("demo").await;
    client.say("Ada").await;
    client.bot_says("nice to meet you, ada").await;
    client.say("technical").await;
    client.bot_says("what would you like to know").await;
    client.say("How do I reset my password?").await;
    client.bot_says("offline demo model").await;

    let (_, after) = scrape(&base, Some("scrape-token")).await;
    let moved = |name: &str| total(&after, name) - total(&before, name);
    assert!(moved("switchboard_user_messages_total") >= 3.0, "{after:?}");
    assert!(
        moved("switchboard_ack_seconds_count") >= 3.0 || moved("switchboard_ack_seconds") >= 3.0
    );
    assert!(
        moved("switchboard_store_commit_seconds_count") >= 1.0
            || moved("switchboard_store_commit_seconds") >= 1.0
    );
    assert!(moved("switchboard_model_calls_total") >= 1.0);
    assert!(moved("switchboard_model_tokens_total") >= 1.0);
    assert!(
        moved("switchboard_first_delta_seconds_count") >= 1.0
            || moved("switchboard_first_delta_seconds") >= 1.0
    );
    assert!(
        total(&after, "switchboard_webchat_sockets") >= 1.0,
        "the socket is open"
    );
    assert!(
        moved("switchboard_webchat_frames_total") >= 4.0,
        "hello and 3 messages"
    );
    assert!(moved("switchboard_webchat_frames_sent_total") >= 6.0);
    assert!(moved("switchboard_turns_total") >= 3.0);
    assert!(
        moved("switchboard_turn_seconds_count") >= 3.0 || moved("switchboard_turn_seconds") >= 3.0
    );
    // Live actors: the demo tenant and this conversation, at least.
    let live = |kind: &str| {
        after
            .iter()
            .filter(|s| {
                s.0 == "switchboard_actors_live" && s.1.contains(&("kind".into(), kind.into()))
            })
            .map(|s| s.2)
            .sum::<f64>()
    };
    assert!(
        live("tenant") >= 1.0 && live("conversation") >= 1.0,
        "{after:?}"
    );
    // Queue depths are exported (other tests of this binary share the recorder, so the
    // value itself may be anything small).
    let depth = |queue: &str| {
        after
            .iter()
            .find(|s| {
                s.0 == "switchboard_queue_depth" && s.1.contains(&("queue".into(), queue.into()))
            })
            .map(|s| s.2)
    };
    assert!(depth("store_writes").is_some_and(|d| d >= 0.0), "{after:?}");
    // No tenant, conversation or user in any label.
    for (_, labels, _) in &after {
        for (key, _) in labels {
            assert!(
                !["tenant", "conversation", "user", "visitor"].contains(&key.as_str()),
                "{key}"
            );
        }
    }
    client.close().await;
    node.shutdown().await;
}
