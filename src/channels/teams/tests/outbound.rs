//! Token caching and Bot Connector sends against the fake, including failure
//! classification and a streamed reply end to end.

use std::time::{Duration, Instant};

use serde_json::json;

use super::http;
use crate::channels::inbound::SendError;
use crate::channels::teams::token::Secret;
use crate::channels::teams::{
    ConnectorClient, OutboundActivity, ReplyTarget, TeamsStreamer, TokenClient, TokenConfig,
};
use crate::testkit::fake_teams::{Failure, FakeTeams};

fn connector(fake: &FakeTeams) -> ConnectorClient {
    ConnectorClient::new(http(), TokenClient::new(http(), fake.token_config()))
        .with_timeout(Duration::from_secs(5))
}

fn target(fake: &FakeTeams, conversation_id: &str, kind: &str) -> ReplyTarget {
    ReplyTarget::from_reply_to(&json!({
        "service_url": fake.service_url(),
        "conversation_id": conversation_id,
        "activity_id": "1481567603816",
        "bot_id": "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c",
        "bot_name": "Switchboard",
        "conversation_type": kind,
        "user_id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQ",
    }))
    .expect("reply_to")
}

#[tokio::test(flavor = "multi_thread")]
async fn sequential_sends_share_one_token() {
    let fake = FakeTeams::start().await.expect("fake");
    let client = connector(&fake);
    let conv = "19:abc@thread.skype;messageid=1481567603816";
    let to = target(&fake, conv, "channel");
    let mut ids = Vec::new();
    for i in 0..5 {
        let activity = OutboundActivity::message(format!("reply {i}"));
        ids.push(client.send_activity(&to, &activity).await.expect("sent"));
    }
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert_eq!(fake.token_calls(), 1);
    assert_eq!(client.tokens().fetch_count(), 1);
    let recorded = fake.activities();
    assert_eq!(recorded.len(), 5);
    assert_eq!(recorded[0].conversation_id, conv);
    assert_eq!(
        recorded[4].activity,
        json!({"type": "message", "text": "reply 4",
               "from": {"id": "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c", "name": "Switchboard"},
               "conversation": {"id": conv, "conversationType": "channel"},
               "recipient": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQ"},
               "replyToId": "1481567603816"})
    );
    let typing = client
        .send_activity(&to, &OutboundActivity::typing())
        .await
        .expect("typing");
    assert_eq!(typing, "6");
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_sends_share_one_token_fetch() {
    let fake = FakeTeams::start().await.expect("fake");
    let client = connector(&fake);
    let to = target(&fake, "a:1", "personal");
    let sends = (0..10).map(|i| {
        let client = client.clone();
        let to = to.clone();
        tokio::spawn(async move {
            client
                .send_activity(&to, &OutboundActivity::message(format!("m{i}")))
                .await
        })
    });
    for result in futures_util::future::join_all(sends).await {
        assert!(matches!(result, Ok(Ok(_))), "{result:?}");
    }
    assert_eq!(fake.token_calls(), 1);
    assert_eq!(fake.activities().len(), 10);
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_reused_until_their_refresh_time_then_fetched_again() {
    let fake = FakeTeams::start().await.expect("fake");
    let to = target(&fake, "a:1", "personal");
    let msg = OutboundActivity::message("hello");
    // A 2 s token is reused within its window (when exactly it is replaced is the
    // unit test of `refresh_at` in token.rs).
    fake.set_token_expires_in(2);
    let client = connector(&fake);
    client.send_activity(&to, &msg).await.expect("sent");
    client.send_activity(&to, &msg).await.expect("sent");
    assert_eq!(fake.token_calls(), 1);
    // A token that is already due is fetched again for every call.
    fake.set_token_expires_in(0);
    let client = connector(&fake);
    client.send_activity(&to, &msg).await.expect("sent");
    client.send_activity(&to, &msg).await.expect("sent");
    assert_eq!(fake.token_calls(), 3);
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connector_failures_are_classified() {
    let fake = FakeTeams::start().await.expect("fake");
    let client = connector(&fake);
    let to = target(&fake, "a:1", "personal");
    let msg = OutboundActivity::message("hello");
    fake.fail_next(vec![
        Failure::Status(429, Some(7)),
        Failure::Status(429, None),
        Failure::Status(500, None),
        Failure::Status(503, Some(1)),
        Failure::Drop,
        Failure::Status(403, None),
        Failure::Status(404, None),
        Failure::Status(400, None),
    ]);
    let mut results = Vec::new();
    for _ in 0..8 {
        results.push(client.send_activity(&to, &msg).await);
    }
    assert_eq!(
        results[0],
        Err(SendError::RateLimited {
            retry_after_ms: 7_000
        })
    );
    assert_eq!(
        results[1],
        Err(SendError::RateLimited {
            retry_after_ms: 1_000
        })
    );
    assert!(
        matches!(results[2], Err(SendError::Transient(_))),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(results[3], Err(SendError::Transient(_))),
        "{:?}",
        results[3]
    );
    assert!(
        matches!(results[4], Err(SendError::Transient(_))),
        "{:?}",
        results[4]
    );
    for r in &results[5..] {
        assert!(matches!(r, Err(SendError::Permanent(_))), "{r:?}");
    }
    assert!(fake.activities().is_empty());
    assert_eq!(fake.token_calls(), 1);

    // 401: permanent, and the cached token is dropped so the next send fetches anew.
    fake.fail_next(vec![Failure::Status(401, None)]);
    assert!(matches!(
        client.send_activity(&to, &msg).await,
        Err(SendError::Permanent(_))
    ));
    assert_eq!(client.send_activity(&to, &msg).await, Ok("1".to_owned()));
    assert_eq!(fake.token_calls(), 2);
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_failures_are_classified_without_leaking_the_password() {
    let fake = FakeTeams::start().await.expect("fake");
    let to = target(&fake, "a:1", "personal");
    let msg = OutboundActivity::message("hello");

    let mut bad = fake.token_config();
    bad.app_password = Secret::new("wrong-password-value");
    let client = ConnectorClient::new(http(), TokenClient::new(http(), bad));
    let err = client
        .send_activity(&to, &msg)
        .await
        .expect_err("bad password");
    assert!(
        matches!(err, SendError::Permanent(ref m) if m.contains("invalid_client")),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?} {client:?}").contains("wrong-password-value"));

    let client = connector(&fake);
    fake.fail_next_token(vec![Failure::Status(500, None), Failure::Drop]);
    assert!(matches!(
        client.send_activity(&to, &msg).await,
        Err(SendError::Transient(_))
    ));
    assert!(matches!(
        client.send_activity(&to, &msg).await,
        Err(SendError::Transient(_))
    ));
    assert_eq!(client.send_activity(&to, &msg).await, Ok("1".to_owned()));

    // Unreachable connector (closed port): transient.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut gone = to.clone();
    gone.service_url = format!("http://127.0.0.1:{port}/");
    assert!(matches!(
        client.send_activity(&gone, &msg).await,
        Err(SendError::Transient(_))
    ));
    gone.service_url = "not a url".into();
    assert!(matches!(
        client.send_activity(&gone, &msg).await,
        Err(SendError::Permanent(_))
    ));
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_reply_end_to_end() {
    let fake = FakeTeams::start().await.expect("fake");
    let client = connector(&fake);
    let to = target(&fake, "a:1", "personal");
    let t0 = Instant::now();
    let mut streamer = TeamsStreamer::new(&to.conversation_type, Duration::from_secs(1));
    let first = streamer
        .informative("Looking that up…", t0)
        .expect("informative");
    let id = client.send_activity(&to, &first).await.expect("sent");
    streamer.set_stream_id(id.clone());
    for (i, word) in ["The ", "answer ", "is 42."].iter().enumerate() {
        let at = t0 + Duration::from_millis(1100 * (i as u64 + 1));
        if let Some(chunk) = streamer.push(word, at) {
            client.send_activity(&to, &chunk).await.expect("chunk");
        }
    }
    client
        .send_activity(&to, &streamer.finish())
        .await
        .expect("final");
    let recorded: Vec<_> = fake.activities().into_iter().map(|r| r.activity).collect();
    assert_eq!(recorded.len(), 5);
    assert_eq!(recorded[0]["entities"][0]["streamType"], "informative");
    assert_eq!(recorded[3]["text"], "The answer is 42.");
    assert_eq!(recorded[3]["entities"][0]["streamSequence"], 4);
    assert_eq!(recorded[4]["type"], "message");
    assert_eq!(
        recorded[4]["entities"][0],
        json!({"type": "streaminfo", "streamId": id, "streamType": "final"})
    );
    fake.stop().await;
}

#[test]
fn token_config_defaults() {
    let c = TokenConfig::new("app", Secret::new("pw"));
    assert_eq!(
        c.token_url,
        "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
    );
    assert_eq!(c.scope, "https://api.botframework.com/.default");
}
