//! `parse` against payloads shaped like Slack's documented Events API examples, and junk.

use serde_json::{Value, json};

use crate::channels::inbound::{InboundEvent, InboundMessage};
use crate::channels::slack::{ParseError, SlackPayload, parse};

fn envelope(event: Value) -> Value {
    json!({
        "token": "XXYYZZ",
        "team_id": "T061EG9RZ",
        "api_app_id": "A0FFV41KK",
        "event": event,
        "type": "event_callback",
        "authorizations": [{
            "enterprise_id": null, "team_id": "T061EG9RZ", "user_id": "U0LAN0Z89",
            "is_bot": true, "is_enterprise_install": false
        }],
        "event_id": "Ev0LAN670R",
        "event_time": 1515449522,
        "event_context": "1-message-T061EG9RZ-C0LAN2Q65"
    })
}

fn parse_event(event: Value) -> InboundEvent {
    match parse(envelope(event).to_string().as_bytes()) {
        Ok(SlackPayload::Event {
            team_id,
            api_app_id,
            event,
        }) => {
            assert_eq!(team_id.as_deref(), Some("T061EG9RZ"));
            assert_eq!(api_app_id.as_deref(), Some("A0FFV41KK"));
            event
        }
        other => panic!("expected an event, got {other:?}"),
    }
}

fn reason(event: &InboundEvent) -> &str {
    match event {
        InboundEvent::Ignored { reason } => reason,
        other => panic!("expected Ignored, got {other:?}"),
    }
}

#[test]
fn url_verification() {
    let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    assert_eq!(
        parse(body),
        Ok(SlackPayload::UrlVerification {
            challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
        })
    );
    assert_eq!(
        parse(br#"{"type":"url_verification"}"#),
        Err(ParseError::MissingChallenge)
    );
}

#[test]
fn direct_message() {
    let event = parse_event(json!({
        "type": "message", "channel": "D024BE91L", "user": "U2147483697",
        "text": "Hello &amp; welcome &lt;3 &gt;_&lt; &amp;lt;", "ts": "1355517523.000005",
        "event_ts": "1355517523.000005", "channel_type": "im",
        "blocks": [{ "type": "rich_text", "block_id": "x", "elements": [] }]
    }));
    assert_eq!(
        event,
        InboundEvent::Message(InboundMessage {
            event_id: "Ev0LAN670R".into(),
            user_id: "U2147483697".into(),
            thread_key: "D024BE91L".into(),
            text: "Hello & welcome <3 >_< &lt;".into(),
            reply_to: json!({ "channel": "D024BE91L", "thread_ts": "1355517523.000005" }),
        })
    );
}

#[test]
fn thread_reply_uses_the_thread_root() {
    let event = parse_event(json!({
        "type": "message", "channel": "C123ABC456", "user": "U222",
        "text": "a reply", "ts": "1482960137.003543", "thread_ts": "1482960000.000001",
        "parent_user_id": "U111", "channel_type": "channel"
    }));
    let InboundEvent::Message(m) = event else {
        panic!("expected a message: {event:?}");
    };
    assert_eq!(m.thread_key, "C123ABC456:1482960000.000001");
    assert_eq!(
        m.reply_to,
        json!({ "channel": "C123ABC456", "thread_ts": "1482960000.000001" })
    );
}

#[test]
fn app_mention_strips_the_leading_bot_mention() {
    let event = parse_event(json!({
        "type": "app_mention", "user": "U061F7AUR",
        "text": "<@U0LAN0Z89> is it everything a river should be?",
        "ts": "1515449522.000016", "channel": "C0LAN2Q65", "event_ts": "1515449522000016"
    }));
    let InboundEvent::Message(m) = event else {
        panic!("expected a message: {event:?}");
    };
    assert_eq!(m.text, "is it everything a river should be?");
    assert_eq!(m.thread_key, "C0LAN2Q65:1515449522.000016");

    // A leading mention of someone else is kept; so is a mention later in the text.
    let event = parse_event(json!({
        "type": "app_mention", "user": "U061F7AUR", "text": "<@U999> and <@U0LAN0Z89> hi",
        "ts": "1.2", "channel": "C1"
    }));
    let InboundEvent::Message(m) = event else {
        panic!("expected a message: {event:?}");
    };
    assert_eq!(m.text, "<@U999> and <@U0LAN0Z89> hi");

    // A bare mention leaves nothing to answer.
    let event = parse_event(json!({
        "type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89|bot>  ",
        "ts": "1.2", "channel": "C1"
    }));
    assert_eq!(reason(&event), "message without text");
}

#[test]
fn bots_edits_joins_and_other_events_are_ignored() {
    let cases = [
        (
            json!({ "type": "message", "subtype": "bot_message", "text": "beep", "ts": "1.1",
                 "username": "bot", "bot_id": "BB12033", "channel": "C1" }),
            "bot_message",
        ),
        (
            json!({ "type": "message", "text": "from an app", "ts": "1.1", "user": "U5",
                 "bot_id": "B0123", "app_id": "A1", "channel": "C1" }),
            "bot",
        ),
        (
            json!({ "type": "message", "subtype": "message_changed", "hidden": true,
                 "channel": "C123ABC456", "ts": "1358878755.000001",
                 "message": { "type": "message", "user": "U123ABC456", "text": "Hello, world!",
                              "ts": "1355517523.000005", "edited": { "user": "U123ABC456", "ts": "1358878755.000001" } } }),
            "message_changed",
        ),
        (
            json!({ "type": "message", "subtype": "channel_join", "user": "U1", "text": "<@U1> has joined the channel",
                 "ts": "1.1", "channel": "C1" }),
            "channel_join",
        ),
        (
            json!({ "type": "message", "text": "no author", "ts": "1.1", "channel": "C1" }),
            "without user",
        ),
        (
            json!({ "type": "message", "user": "U0LAN0Z89", "text": "my own", "ts": "1.1", "channel": "C1" }),
            "bot user",
        ),
        (
            json!({ "type": "message", "user": "U1", "text": "x" }),
            "without channel or ts",
        ),
        (
            json!({ "type": "reaction_added", "user": "U1", "reaction": "thumbsup",
                 "item": { "type": "message", "channel": "C1", "ts": "1.1" } }),
            "reaction_added",
        ),
        (
            json!({ "type": "team_join", "user": { "id": "U1", "name": "x" } }),
            "team_join",
        ),
        (json!({ "user": "U1" }), "without type"),
    ];
    for (event, expected) in cases {
        let got = parse_event(event.clone());
        assert!(reason(&got).contains(expected), "{event} -> {got:?}");
    }
}

#[test]
fn other_envelopes_are_ignored_events() {
    let body = br#"{"token":"x","team_id":"T1","minute_rate_limited":1518467820,"api_app_id":"A1","type":"app_rate_limited"}"#;
    let Ok(SlackPayload::Event { team_id, event, .. }) = parse(body) else {
        panic!("expected an ignored event");
    };
    assert_eq!(team_id.as_deref(), Some("T1"));
    assert!(reason(&event).contains("app_rate_limited"));

    let mut no_id = envelope(
        json!({ "type": "message", "user": "U1", "text": "x", "ts": "1.1", "channel": "C1" }),
    );
    no_id.as_object_mut().map(|o| o.remove("event_id"));
    let Ok(SlackPayload::Event { event, .. }) = parse(no_id.to_string().as_bytes()) else {
        panic!("expected an ignored event");
    };
    assert!(reason(&event).contains("event_id"));
}

#[test]
fn junk_bodies_are_parse_errors() {
    let deep = format!(
        r#"{{"type":"event_callback","event":{}1{}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    let junk: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"payload=%7B%22type%22%3A%22url_verification%22%7D".to_vec(),
        b"\xc3\x28".to_vec(),
        b"null".to_vec(),
        b"[1,2]".to_vec(),
        b"{}".to_vec(),
        br#"{"type":5}"#.to_vec(),
        br#"{"type":"event_callback"}"#.to_vec(),
        br#"{"type":"event_callback","event":"message"}"#.to_vec(),
        br#"{"type":"event_callback","event":{"type":7}}"#.to_vec(),
        br#"{"type":"event_callback","event_id":9,"event":{}}"#.to_vec(),
        br#"{"type":"event_callback","event":{"type":"message","user":"U1","text":["x"],"ts":"1","channel":"C"}}"#.to_vec(),
        br#"{"type":"event_callback","event":{"type":"message","user":{"id":"U1"},"ts":"1","channel":"C"}}"#.to_vec(),
        br#"{"type":"event_callback","authorizations":{},"event":{"type":"message"}}"#.to_vec(),
        br#"{"type":"url_verification","challenge":12}"#.to_vec(),
        br#"{"type":"event_callback","event":{"type":"message""#.to_vec(),
        deep.into_bytes(),
    ];
    for body in &junk {
        let result = parse(body);
        assert!(
            result.is_err(),
            "{:?} -> {result:?}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
    }
}

#[test]
fn random_mutations_never_panic() {
    let mut rng = super::Rng::new(99);
    let base = envelope(json!({
        "type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89> hi &amp; bye",
        "ts": "1515449522.000016", "channel": "C0LAN2Q65", "thread_ts": "1515449522.000001"
    }))
    .to_string()
    .into_bytes();
    for _ in 0..3000 {
        let mut body = base.clone();
        for _ in 0..=rng.below(6) {
            if body.is_empty() {
                break;
            }
            let i = rng.below(body.len());
            match rng.below(3) {
                0 => body[i] = rng.next() as u8,
                1 => {
                    body.remove(i);
                }
                _ => body.truncate(i),
            }
        }
        let _ = parse(&body);
    }
}
