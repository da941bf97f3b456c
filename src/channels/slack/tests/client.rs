//! `SlackClient` against the fake Slack Web API over real TCP, including a streamed
//! reply driven by `UpdateThrottle`.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::channels::inbound::SendError;
use crate::channels::slack::{ClientConfigError, SlackClient, SlackConfig, UpdateThrottle};
use crate::testkit::fake_slack::{Failure, FakeSlack, PostedMessage, SlackOp};

const TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";

fn client(base_url: &str, token: &str) -> SlackClient {
    let mut config = SlackConfig::new(base_url, token);
    config.timeout = Duration::from_secs(5);
    SlackClient::new(config).expect("client builds")
}

#[tokio::test(flavor = "multi_thread")]
async fn post_and_update_send_the_documented_requests() {
    let fake = FakeSlack::start_with_token(TOKEN).expect("fake starts");
    let client = client(&fake.base_url(), TOKEN);

    let ts = client
        .post_message(
            "C0LAN2Q65",
            Some("1515449522.000016"),
            "Hi & <!channel> <@U1>",
        )
        .await
        .expect("posted");
    client
        .update_message("C0LAN2Q65", &ts, "Hi, final")
        .await
        .expect("updated");
    let ts2 = client
        .post_message("D024BE91L", None, "top level")
        .await
        .expect("posted");
    assert!(ts2 > ts, "{ts2} should sort after {ts}");

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].path, "/api/chat.postMessage");
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        requests[0].content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        requests[0].body,
        json!({
            "channel": "C0LAN2Q65",
            "thread_ts": "1515449522.000016",
            "text": "Hi &amp; &lt;!channel&gt; &lt;@U1&gt;",
        })
    );
    assert_eq!(requests[1].path, "/api/chat.update");
    assert_eq!(
        requests[1].body,
        json!({ "channel": "C0LAN2Q65", "ts": ts, "text": "Hi, final" })
    );
    assert_eq!(
        requests[2].body,
        json!({ "channel": "D024BE91L", "text": "top level" })
    );

    assert_eq!(
        fake.delivered(),
        vec![
            PostedMessage {
                channel: "C0LAN2Q65".into(),
                ts: ts.clone(),
                thread_ts: Some("1515449522.000016".into()),
                text: "Hi, final".into(),
            },
            PostedMessage {
                channel: "D024BE91L".into(),
                ts: ts2.clone(),
                thread_ts: None,
                text: "top level".into(),
            },
        ]
    );
    assert_eq!(fake.log().len(), 3);
    assert!(matches!(&fake.log()[1], SlackOp::Update { ts: t, .. } if *t == ts));
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_classified() {
    let fake = FakeSlack::start().expect("fake starts");
    let client = client(&fake.base_url(), TOKEN);
    fake.fail_next(vec![
        Failure::Status(429, Some(3)),
        Failure::Status(429, None),
        Failure::SlackError("ratelimited".into()),
        Failure::Status(500, None),
        Failure::Status(503, Some(1)),
        Failure::Drop,
        Failure::SlackError("internal_error".into()),
        Failure::SlackError("service_unavailable".into()),
        Failure::SlackError("channel_not_found".into()),
        Failure::SlackError("invalid_auth".into()),
        Failure::Status(400, None),
        Failure::Status(404, None),
    ]);
    let mut results = Vec::new();
    for i in 0..13 {
        results.push(
            client
                .post_message("C1", Some("1.1"), &format!("attempt {i}"))
                .await,
        );
    }
    let transient = |r: &Result<String, SendError>| matches!(r, Err(SendError::Transient(_)));
    let permanent = |r: &Result<String, SendError>, what: &str| matches!(r, Err(SendError::Permanent(m)) if m.contains(what));
    assert_eq!(
        results[0],
        Err(SendError::RateLimited {
            retry_after_ms: 3000
        })
    );
    assert_eq!(
        results[1],
        Err(SendError::RateLimited {
            retry_after_ms: 1000
        })
    );
    assert_eq!(
        results[2],
        Err(SendError::RateLimited {
            retry_after_ms: 1000
        })
    );
    assert!(transient(&results[3]), "{:?}", results[3]);
    assert!(transient(&results[4]), "{:?}", results[4]);
    assert!(
        matches!(&results[5], Err(SendError::Transient(m)) if !m.contains("HTTP")),
        "drop: {:?}",
        results[5]
    );
    assert!(transient(&results[6]), "{:?}", results[6]);
    assert!(transient(&results[7]), "{:?}", results[7]);
    assert!(
        permanent(&results[8], "channel_not_found"),
        "{:?}",
        results[8]
    );
    assert!(permanent(&results[9], "invalid_auth"), "{:?}", results[9]);
    assert!(permanent(&results[10], "400"), "{:?}", results[10]);
    assert!(permanent(&results[11], "404"), "{:?}", results[11]);
    assert!(results[12].is_ok(), "{:?}", results[12]);

    assert_eq!(fake.requests().len(), 13);
    assert_eq!(fake.delivered().len(), 1);
    assert_eq!(fake.delivered()[0].text, "attempt 12");
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_and_unknown_message_errors_are_permanent() {
    let fake = FakeSlack::start_with_token(TOKEN).expect("fake starts");
    let wrong = client(&fake.base_url(), "xoxb-wrong");
    let result = wrong.post_message("C1", None, "hi").await;
    assert!(
        matches!(&result, Err(SendError::Permanent(m)) if m.contains("invalid_auth") && !m.contains("xoxb")),
        "{result:?}"
    );
    let right = client(&fake.base_url(), TOKEN);
    let result = right.update_message("C1", "1.000001", "hi").await;
    assert!(
        matches!(&result, Err(SendError::Permanent(m)) if m.contains("message_not_found")),
        "{result:?}"
    );
    for result in [
        right.post_message("", None, "hi").await,
        right.post_message("C1", None, " \n").await,
        right
            .update_message("C1", "", "hi")
            .await
            .map(|()| String::new()),
    ] {
        assert!(matches!(result, Err(SendError::Permanent(_))), "{result:?}");
    }
    assert!(fake.delivered().is_empty());
    assert_eq!(fake.requests().len(), 2, "invalid arguments are not sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_reply_posts_then_updates_to_the_final_text() {
    let fake = FakeSlack::start().expect("fake starts");
    let client = client(&fake.base_url(), TOKEN);
    let fragments = [
        "Sure", "! Here", " is", " the", " plan", ":\n", "1. a", "\n2. b", "\n3. c",
    ];
    let t0 = Instant::now();
    let mut throttle = UpdateThrottle::new(Duration::from_millis(1000));
    let mut ts: Option<String> = None;
    for (i, fragment) in fragments.iter().enumerate() {
        // Synthetic clock: one fragment every 300 ms.
        let now = t0 + Duration::from_millis(300 * i as u64);
        if let Some(text) = throttle.push(fragment, now) {
            match &ts {
                None => {
                    ts = Some(
                        client
                            .post_message("C1", Some("9.9"), &text)
                            .await
                            .expect("post"),
                    )
                }
                Some(ts) => client
                    .update_message("C1", ts, &text)
                    .await
                    .expect("update"),
            }
        }
    }
    let full = throttle.finish();
    let ts = ts.expect("first fragment posts immediately");
    client
        .update_message("C1", &ts, &full)
        .await
        .expect("final update");

    let texts: Vec<String> = fake
        .log()
        .into_iter()
        .map(|op| match op {
            SlackOp::Post { text, .. } => format!("post {text}"),
            SlackOp::Update { text, .. } => format!("update {text}"),
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            "post Sure",
            "update Sure! Here is the plan",
            "update Sure! Here is the plan:\n1. a\n2. b\n3. c",
            "update Sure! Here is the plan:\n1. a\n2. b\n3. c",
        ]
    );
    assert_eq!(fake.delivered().len(), 1);
    assert_eq!(
        fake.delivered()[0].text,
        "Sure! Here is the plan:\n1. a\n2. b\n3. c"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_and_refused_connection_are_transient() {
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut config = SlackConfig::new(
        format!("http://{}/api", silent.local_addr().expect("addr")),
        TOKEN,
    );
    config.timeout = Duration::from_millis(300);
    let slow = SlackClient::new(config).expect("client");
    let result = slow.update_message("C1", "1.1", "hi").await;
    assert!(
        matches!(&result, Err(SendError::Transient(m)) if m.contains("timeout")),
        "{result:?}"
    );

    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let result = client(&format!("http://{addr}/api"), TOKEN)
        .post_message("C1", None, "hi")
        .await;
    assert!(matches!(result, Err(SendError::Transient(_))), "{result:?}");
}

#[test]
fn config_errors_and_debug_redaction() {
    let bad = |base: &str, token: &str| SlackClient::new(SlackConfig::new(base, token)).err();
    assert!(matches!(
        bad("slack.com/api", "t"),
        Some(ClientConfigError::BaseUrl(_))
    ));
    assert!(matches!(
        bad("mailto:x@y", "t"),
        Some(ClientConfigError::BaseUrl(_))
    ));
    assert_eq!(
        bad("https://slack.com/api", ""),
        Some(ClientConfigError::Token)
    );
    assert_eq!(
        bad("https://slack.com/api", "x\r\ny"),
        Some(ClientConfigError::Token)
    );

    let config = SlackConfig::new("https://slack.com/api", TOKEN);
    let client = SlackClient::new(config.clone()).expect("client");
    for text in [format!("{config:?}"), format!("{client:?}")] {
        assert!(
            !text.contains(TOKEN) && text.contains("[redacted]"),
            "{text}"
        );
    }
}
