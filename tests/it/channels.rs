//! WhatsApp, Slack and Teams end to end against local fake providers: requests signed as
//! the providers sign them, real payload shapes, idempotent ingestion (every event
//! delivered three times, two of them concurrently), forged requests refused with nothing
//! stored, outbound retries (429 with Retry-After, 500, dropped connections) delivering
//! each reply exactly once and in order, streaming in each channel's form, and the same
//! transcript as web chat.

use std::time::Duration;

use crate::support::admin::Admin;
use crate::support::{Backend, Client, eventually, spawn_server};
use serde_json::{Value, json};
use switchboard::channels::{slack, whatsapp};
use switchboard::testkit::fake_openai::{FakeBehaviour, FakeOpenAi};
use switchboard::testkit::fake_slack::{self, FakeSlack, SlackOp};
use switchboard::testkit::fake_teams::{self, FakeTeams, TestKey};
use switchboard::testkit::fake_whatsapp::{self, FakeWhatsapp};

const FLOW: &str = r#"
id: main
slots:
  q: { type: string }
start: ask
states:
  ask:
    collect: { slot: q, prompt: "Ask me anything." }
    next:
      - if: 'q.lowerAscii() == "bye"'
        then: done
      - else: answer
  answer:
    llm: { prompt: "{{ q }}" }
    next: ask
  done:
    end: "Bye!"
"#;

const REPLY: [&str; 8] = [
    "First",
    " paragraph",
    ".\n\n",
    "Second",
    " paragraph",
    ".\n\n",
    "Third",
    ".",
];
const WAIT: Duration = Duration::from_secs(15);

struct World {
    node: switchboard::app::Node,
    owner: Admin,
    wa: FakeWhatsapp,
    slack: FakeSlack,
    teams: FakeTeams,
    http: reqwest::Client,
    _llm: FakeOpenAi,
    _backend: Backend,
}

async fn world() -> World {
    let backend = Backend::sqlite();
    let wa = FakeWhatsapp::start_with_token("wa-token").unwrap();
    let slack = FakeSlack::start_with_token("xoxb-test").unwrap();
    let teams = FakeTeams::start().await.unwrap();
    let llm = FakeOpenAi::start(FakeBehaviour::Stream {
        tokens: REPLY.iter().map(|t| t.to_string()).collect(),
        gap: Duration::from_millis(40),
    })
    .await
    .unwrap();
    let mut config = backend.config();
    config.llm.base_url = llm.base_url.clone();
    config.llm.api_key = "sk-test".into();
    config.channels.whatsapp_base_url = wa.base_url();
    config.channels.slack_base_url = slack.base_url();
    config.channels.teams_openid_metadata_url = teams.openid_metadata_url();
    config.channels.teams_token_url = teams.token_url();
    config.channels.stream_update_interval_ms = 100;
    config.channels.send_backoff_ms = 50;
    let node = spawn_server(config).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", FLOW).await;
    for (id, body) in [
        (
            "wa-main",
            json!({"provider": "whatsapp", "config": {"phone_number_id": "PN1"},
            "secrets": {"app_secret": "wa-app-secret", "verify_token": "wa-verify", "access_token": "wa-token"}}),
        ),
        (
            "slack-main",
            json!({"provider": "slack", "config": {},
            "secrets": {"signing_secret": "slack-signing", "bot_token": "xoxb-test"}}),
        ),
        (
            "teams-main",
            json!({"provider": "teams", "config": {"app_id": teams.app_id()},
            "secrets": {"app_password": teams.app_password()}}),
        ),
    ] {
        let put = owner
            .put_json(&format!("/v1/admin/tenants/acme/channels/{id}"), body)
            .await;
        assert_eq!(put.status, 201, "{:?}", put.body);
        assert!(
            !put.body.to_string().contains("secret"),
            "secrets are never returned: {}",
            put.body
        );
    }
    let listed = owner.get("/v1/admin/tenants/acme/channels").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 3);
    let one = owner.get("/v1/admin/tenants/acme/channels/wa-main").await;
    assert_eq!(one.body["webhook_path"], "/v1/channels/whatsapp/wa-main");
    let spare = json!({"provider": "slack", "config": {}, "secrets": {"signing_secret": "s", "bot_token": "t"}});
    assert_eq!(
        owner
            .put_json("/v1/admin/tenants/acme/channels/spare", spare)
            .await
            .status,
        201
    );
    assert_eq!(
        owner
            .delete("/v1/admin/tenants/acme/channels/spare")
            .await
            .status,
        204
    );
    assert_eq!(
        owner
            .get("/v1/admin/tenants/acme/channels/spare")
            .await
            .status,
        404
    );
    World {
        node,
        owner,
        wa,
        slack,
        teams,
        http: reqwest::Client::new(),
        _llm: llm,
        _backend: backend,
    }
}

impl World {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.node.addr())
    }

    async fn post(&self, path: &str, body: &str, headers: &[(&str, String)]) -> u16 {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.unwrap().status().as_u16()
    }

    async fn transcript(&self, channel: &str) -> Vec<(String, String)> {
        let list = self
            .owner
            .get(&format!(
                "/v1/admin/tenants/acme/conversations?channel={channel}"
            ))
            .await;
        let Some(id) = list.body[0]["id"].as_str() else {
            return Vec::new();
        };
        let detail = self
            .owner
            .get(&format!("/v1/admin/tenants/acme/conversations/{id}"))
            .await;
        detail.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["role"].as_str().unwrap().to_string(),
                    m["text"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    async fn conversation_count(&self) -> usize {
        self.owner
            .get("/v1/admin/tenants/acme/conversations")
            .await
            .body
            .as_array()
            .unwrap()
            .len()
    }
}

fn wa_body(wamid: &str, text: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PN1"},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "4915112345678"}],
        "messages": [{"from": "4915112345678", "id": wamid, "timestamp": "1700000000", "type": "text", "text": {"body": text}}]
    }}]}]})
    .to_string()
}

async fn post_wa(w: &World, wamid: &str, text: &str) -> u16 {
    let body = wa_body(wamid, text);
    let signature = whatsapp::sign(body.as_bytes(), "wa-app-secret");
    w.post(
        "/v1/channels/whatsapp/wa-main",
        &body,
        &[("x-hub-signature-256", signature)],
    )
    .await
}

/// Delivers the same request three times, two of them concurrently; all must be accepted.
async fn thrice<F, Fut>(send: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let (a, b) = tokio::join!(send(), send());
    let c = send().await;
    assert_eq!((a, b, c), (200, 200, 200));
}

async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_end_to_end() {
    let w = world().await;
    // Meta's subscription handshake.
    let ok = w.http.get(w.url("/v1/channels/whatsapp/wa-main?hub.mode=subscribe&hub.verify_token=wa-verify&hub.challenge=4242")).send().await.unwrap();
    assert_eq!(
        (ok.status().as_u16(), ok.text().await.unwrap()),
        (200, "4242".to_string())
    );
    let bad = w.http.get(w.url("/v1/channels/whatsapp/wa-main?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")).send().await.unwrap();
    assert_eq!(bad.status(), 403);

    // Forgeries: refused, nothing stored.
    let body = wa_body("wamid.forged", "hi");
    assert_eq!(
        w.post("/v1/channels/whatsapp/wa-main", &body, &[]).await,
        401
    );
    assert_eq!(
        w.post(
            "/v1/channels/whatsapp/wa-main",
            &body,
            &[(
                "x-hub-signature-256",
                whatsapp::sign(body.as_bytes(), "wrong")
            )]
        )
        .await,
        401
    );
    let tampered = body.replace("hi", "hello");
    assert_eq!(
        w.post(
            "/v1/channels/whatsapp/wa-main",
            &tampered,
            &[(
                "x-hub-signature-256",
                whatsapp::sign(body.as_bytes(), "wa-app-secret")
            )]
        )
        .await,
        401
    );
    assert_eq!(w.conversation_count().await, 0);

    // The first message, three times: one stored message, one reply.
    thrice(|| post_wa(&w, "wamid.1", "hi")).await;
    wait_for("the first reply", || {
        (w.wa.delivered().len() == 1).then_some(())
    })
    .await;

    // An LLM reply arrives paragraph by paragraph, then the next prompt.
    thrice(|| post_wa(&w, "wamid.2", "What is Rust?")).await;
    let expected = [
        "Ask me anything.",
        "First paragraph.",
        "Second paragraph.",
        "Third.",
        "Ask me anything.",
    ];
    let delivered = wait_for("the streamed paragraphs", || {
        let d = w.wa.delivered();
        (d.len() >= 5).then_some(d)
    })
    .await;
    assert_eq!(
        delivered
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>(),
        expected
    );
    assert!(delivered.iter().all(|(to, _)| to == "4915112345678"));

    // Outbound failures (429 with Retry-After, 500, a dropped connection) are retried:
    // everything arrives once, in order.
    w.wa.fail_next(vec![
        fake_whatsapp::Failure::Status(429, Some(1)),
        fake_whatsapp::Failure::Status(500, None),
        fake_whatsapp::Failure::Drop,
    ]);
    assert_eq!(post_wa(&w, "wamid.3", "And Go?").await, 200);
    let delivered = wait_for("the replies after failures", || {
        let d = w.wa.delivered();
        (d.len() >= 9).then_some(d)
    })
    .await;
    let texts: Vec<&str> = delivered.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(&texts[5..], &expected[1..]);
    assert!(
        w.wa.requests().len() >= 12,
        "the failed attempts reached the fake too"
    );
    // Once no reply is pending in the outbox, nothing can be sent again: count then.
    let store = w.node.runtime().services().store.clone();
    assert!(
        eventually(WAIT, || async {
            store
                .pending_outbox("acme", "wa-main", None)
                .await
                .is_ok_and(|pending| pending.is_empty())
        })
        .await,
        "the outbox drains"
    );
    assert_eq!(w.wa.delivered().len(), 9, "nothing is sent twice");

    let transcript = w.transcript("whatsapp").await;
    let users: Vec<&str> = transcript
        .iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        users,
        vec!["hi", "What is Rust?", "And Go?"],
        "each event stored once"
    );
    w.node.shutdown().await;
}

fn slack_event(event_id: &str, ts: &str, text: &str, extra: Value) -> String {
    let mut event = json!({"type": "message", "channel": "C1", "user": "U1", "text": text, "ts": ts, "channel_type": "im"});
    if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
        event.extend(extra.clone());
    }
    json!({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": event_id,
        "event_time": 1700000000, "event": event})
    .to_string()
}

async fn post_slack(w: &World, body: &str, ts_offset: i64, retry: Option<&str>) -> u16 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + ts_offset;
    let mut headers = vec![
        ("x-slack-request-timestamp", now.to_string()),
        (
            "x-slack-signature",
            slack::sign(body.as_bytes(), "slack-signing", now),
        ),
    ];
    if let Some(retry) = retry {
        headers.push(("x-slack-retry-num", retry.to_string()));
    }
    w.post("/v1/channels/slack/slack-main", body, &headers)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_end_to_end() {
    let w = world().await;
    let challenge =
        json!({"token": "x", "challenge": "c-123", "type": "url_verification"}).to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let answer = w
        .http
        .post(w.url("/v1/channels/slack/slack-main"))
        .header("x-slack-request-timestamp", now.to_string())
        .header(
            "x-slack-signature",
            slack::sign(challenge.as_bytes(), "slack-signing", now),
        )
        .body(challenge.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap()["challenge"], "c-123");

    let hi = slack_event("Ev1", "1700000000.000100", "hi", json!({}));
    assert_eq!(
        post_slack(&w, &hi, -400, None).await,
        401,
        "a stale timestamp is refused"
    );
    assert_eq!(
        w.post(
            "/v1/channels/slack/slack-main",
            &hi,
            &[
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", "v0=00".into())
            ]
        )
        .await,
        401
    );
    assert_eq!(w.conversation_count().await, 0);

    thrice(|| post_slack(&w, &hi, 0, Some("1"))).await;
    let first = wait_for("the first reply", || w.slack.delivered().into_iter().next()).await;
    assert_eq!(
        (
            first.channel.as_str(),
            first.thread_ts.as_deref(),
            first.text.as_str()
        ),
        ("C1", Some("1700000000.000100"), "Ask me anything.")
    );

    // The bot's own messages are ignored.
    let own = slack_event(
        "Ev-bot",
        "1700000000.000150",
        "I am the bot",
        json!({"bot_id": "B1"}),
    );
    assert_eq!(post_slack(&w, &own, 0, None).await, 200);

    // A streamed reply: posted once, updated, ending with the full text.
    let question = slack_event(
        "Ev2",
        "1700000000.000200",
        "What is Rust?",
        json!({"thread_ts": "1700000000.000100"}),
    );
    thrice(|| post_slack(&w, &question, 0, None)).await;
    let full = REPLY.concat();
    wait_for("the next prompt", || {
        (w.slack.delivered().len() == 3).then_some(())
    })
    .await;
    let log = w.slack.log();
    let reply_ts = log
        .iter()
        .find_map(|op| match op {
            SlackOp::Post { ts, text, .. } if text != "Ask me anything." => Some(ts.clone()),
            _ => None,
        })
        .expect("the reply was posted");
    let updates: Vec<&String> = log
        .iter()
        .filter_map(|op| match op {
            SlackOp::Update { ts, text, .. } if *ts == reply_ts => Some(text),
            _ => None,
        })
        .collect();
    assert!(
        !updates.is_empty(),
        "the reply grew through chat.update: {log:?}"
    );
    assert_eq!(updates.last().unwrap().as_str(), full.as_str());
    let delivered = w.slack.delivered();
    assert_eq!(delivered.iter().filter(|m| m.text == full).count(), 1);
    assert_eq!(delivered.last().unwrap().text, "Ask me anything.");

    // Retries from the provider's side: 429 and a 500 on posting.
    w.slack.fail_next(vec![
        fake_slack::Failure::Status(429, Some(1)),
        fake_slack::Failure::Status(500, None),
    ]);
    let bye = slack_event(
        "Ev3",
        "1700000000.000300",
        "bye",
        json!({"thread_ts": "1700000000.000100"}),
    );
    assert_eq!(post_slack(&w, &bye, 0, None).await, 200);
    wait_for("the goodbye", || {
        w.slack
            .delivered()
            .iter()
            .any(|m| m.text == "Bye!")
            .then_some(())
    })
    .await;
    assert_eq!(
        w.slack
            .delivered()
            .iter()
            .filter(|m| m.text == "Bye!")
            .count(),
        1
    );
    let users: Vec<String> = w
        .transcript("slack")
        .await
        .into_iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(users, vec!["hi", "What is Rust?", "bye"]);
    w.node.shutdown().await;
}

fn teams_activity(w: &World, id: &str, text: &str) -> String {
    json!({"type": "message", "id": id, "timestamp": "2026-11-22T10:00:00Z", "channelId": "msteams",
        "serviceUrl": w.teams.service_url(), "from": {"id": "29:user-1", "name": "Ada"},
        "conversation": {"id": "a:conv-1", "conversationType": "personal", "tenantId": "tid"},
        "recipient": {"id": "28:bot", "name": "Switchboard"}, "text": text})
    .to_string()
}

async fn post_teams(w: &World, body: &str, token: &str) -> u16 {
    w.post(
        "/v1/channels/teams/teams-main",
        body,
        &[("authorization", format!("Bearer {token}"))],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_end_to_end() {
    let w = world().await;
    let hi = teams_activity(&w, "act-1", "hi");
    let valid = w.teams.sign_token(w.teams.valid_claims());
    let mut claims = w.teams.valid_claims();
    claims["aud"] = json!("someone-else");
    let wrong_audience = w.teams.sign_token(claims);
    let mut claims = w.teams.valid_claims();
    claims["iss"] = json!("https://evil.example");
    let wrong_issuer = w.teams.sign_token(claims);
    let mut claims = w.teams.valid_claims();
    claims["exp"] = json!(fake_teams::now_secs() - 3600);
    claims["nbf"] = json!(fake_teams::now_secs() - 7200);
    let expired = w.teams.sign_token(claims);
    let unknown_key =
        w.teams
            .sign_token_with(TestKey::Unpublished, "unknown-kid", w.teams.valid_claims());
    for forged in [
        wrong_audience,
        wrong_issuer,
        expired,
        unknown_key,
        "not-a-jwt".to_string(),
    ] {
        assert_eq!(post_teams(&w, &hi, &forged).await, 401);
    }
    assert_eq!(
        w.conversation_count().await,
        0,
        "nothing stored for forged requests"
    );

    thrice(|| post_teams(&w, &hi, &valid)).await;
    let first = wait_for("the first reply", || {
        w.teams
            .activities()
            .into_iter()
            .find(|a| a.activity["type"] == "message")
    })
    .await;
    assert_eq!(first.activity["text"], "Ask me anything.");
    assert_eq!(first.conversation_id, "a:conv-1");
    // The typing indicator goes out from a task of its own, beside the reply: it may be
    // recorded just after the first message.
    wait_for("typing while the bot works", || {
        w.teams
            .activities()
            .into_iter()
            .find(|a| a.activity["type"] == "typing")
    })
    .await;

    let question = teams_activity(&w, "act-2", "What is Rust?");
    thrice(|| post_teams(&w, &question, &valid)).await;
    let full = REPLY.concat();
    let activities = wait_for("the final streamed message", || {
        let all = w.teams.activities();
        all.iter()
            .any(|a| a.activity["text"] == "Ask me anything." && a.activity["type"] == "message")
            .then_some(())
            .and_then(|()| {
                (all.iter()
                    .filter(|a| a.activity["text"] == "Ask me anything.")
                    .count()
                    == 2)
                    .then_some(all)
            })
    })
    .await;
    let stream_types: Vec<&str> = activities
        .iter()
        .filter_map(|a| a.activity["entities"].as_array())
        .flatten()
        .filter(|e| e["type"] == "streaminfo")
        .filter_map(|e| e["streamType"].as_str())
        .collect();
    assert!(stream_types.contains(&"streaming"), "{stream_types:?}");
    assert_eq!(stream_types.last(), Some(&"final"));
    let final_message = activities
        .iter()
        .find(|a| {
            a.activity["entities"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["streamType"] == "final"))
        })
        .unwrap();
    assert_eq!(final_message.activity["text"], full.as_str());
    let users: Vec<String> = w
        .transcript("teams")
        .await
        .into_iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(users, vec!["hi", "What is Rust?"]);
    w.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flow_gives_the_same_transcript_everywhere() {
    let w = world().await;
    let mut web = Client::connect(w.node.addr()).await;
    web.hello("acme").await;
    web.bot_says("ask me anything").await;
    web.say("What is Rust?").await;
    web.bot_says("third").await;
    web.say("bye").await;
    web.bot_says("bye!").await;
    let web_transcript = w.transcript("webchat").await;

    let valid = w.teams.sign_token(w.teams.valid_claims());
    for (turn, text) in ["hi", "What is Rust?", "bye"].into_iter().enumerate() {
        assert_eq!(post_wa(&w, &format!("wamid.t{turn}"), text).await, 200);
        let event = slack_event(
            &format!("Ev-t{turn}"),
            &format!("1700000001.00{turn}"),
            text,
            json!({}),
        );
        assert_eq!(post_slack(&w, &event, 0, None).await, 200);
        assert_eq!(
            post_teams(
                &w,
                &teams_activity(&w, &format!("act-t{turn}"), text),
                &valid
            )
            .await,
            200
        );
        // Wait for each channel's turn to complete before the next message.
        let expected_bot = [1, 3, 4][turn];
        for channel in ["whatsapp", "slack", "teams"] {
            let done = eventually(WAIT, || async {
                w.transcript(channel)
                    .await
                    .iter()
                    .filter(|(r, _)| r == "bot")
                    .count()
                    >= expected_bot
            })
            .await;
            assert!(done, "{channel} turn {turn}");
        }
    }
    for channel in ["whatsapp", "slack", "teams"] {
        let transcript = w.transcript(channel).await;
        // A provider conversation opens with the user's first message; then it is the same.
        assert_eq!(transcript[0], ("user".to_string(), "hi".to_string()));
        assert_eq!(&transcript[1..], &web_transcript[..], "{channel}");
    }
    w.node.shutdown().await;
}
