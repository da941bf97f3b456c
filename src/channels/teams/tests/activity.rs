//! Activity parsing of payloads shaped like the ones in the Teams / Bot Framework docs.

use serde_json::{Value, json};

use crate::channels::inbound::{InboundEvent, InboundMessage};
use crate::channels::teams::{ParseError, ReplyTarget, parse};

const SVC: &str = "https://smba.trafficmanager.net/amer/";
const BOT: &str = "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c";
const USER: &str =
    "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkKilBZ9XHoq9j7Zaqt7CZ-NJWi7me2kHTL3Bw";

fn personal_message() -> Value {
    json!({
        "text": "<at>Switchboard</at> What's my order status?",
        "textFormat": "plain",
        "type": "message",
        "timestamp": "2024-10-19T20:17:52.2891902Z",
        "localTimestamp": "2024-10-19T13:17:52.2891902-07:00",
        "id": "1485983408511",
        "channelId": "msteams",
        "serviceUrl": SVC,
        "from": {"id": USER, "name": "Megan Bowen", "aadObjectId": "2e9d1f2b-9f5c-4c1f-8a5b-1b2c3d4e5f60"},
        "conversation": {
            "conversationType": "personal",
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "id": "a:17I0kl8EkpE1O9PH5TWrzrLNwnWWcfrU7QZjKR0WSfOpzbfcAg2IaydGElSo10tVr4C7Fc6GtieTJX663WuJCc1uA83n4CSrHSgGBj5XNYLcVlJAs2ZX8DbYBPck201w-"
        },
        "recipient": {"id": BOT, "name": "Switchboard"},
        "entities": [
            {"mentioned": {"id": BOT, "name": "Switchboard"}, "text": "<at>Switchboard</at>", "type": "mention"},
            {"locale": "en-US", "country": "US", "platform": "Windows", "timezone": "America/Los_Angeles", "type": "clientInfo"}
        ],
        "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
        "locale": "en-US"
    })
}

fn channel_message() -> Value {
    json!({
        "type": "message",
        "id": "1481567603816",
        "timestamp": "2024-12-12T18:33:23.915Z",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "from": {"id": USER, "name": "Ann Other", "aadObjectId": "a1b2"},
        "conversation": {
            "isGroup": true,
            "conversationType": "channel",
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "id": "19:c2cd1c1b8c3a4b2f9a7c6f0d1e2f3a4b@thread.skype;messageid=1481567603816"
        },
        "recipient": {"id": BOT, "name": "Switchboard"},
        "textFormat": "plain",
        "text": "<at>Switchboard</at> ask <at>Megan Bowen</at> about it\n",
        "entities": [
            {"type": "mention", "text": "<at>Switchboard</at>", "mentioned": {"id": BOT, "name": "Switchboard"}},
            {"type": "mention", "text": "<at>Megan Bowen</at>", "mentioned": {"id": "29:megan", "name": "Megan Bowen"}}
        ],
        "channelData": {
            "teamsChannelId": "19:c2cd1c1b8c3a4b2f9a7c6f0d1e2f3a4b@thread.skype",
            "teamsTeamId": "19:efa9296d959346209fea44151c742e73@thread.skype",
            "channel": {"id": "19:c2cd1c1b8c3a4b2f9a7c6f0d1e2f3a4b@thread.skype"},
            "team": {"id": "19:efa9296d959346209fea44151c742e73@thread.skype"},
            "tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
        }
    })
}

fn parse_value(v: &Value) -> Result<crate::channels::teams::ParsedActivity, ParseError> {
    parse(v.to_string().as_bytes())
}

fn message(v: &Value) -> InboundMessage {
    match parse_value(v).expect("parsed").event {
        InboundEvent::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn ignored_reason(v: &Value) -> String {
    match parse_value(v).expect("parsed").event {
        InboundEvent::Ignored { reason } => reason,
        other => panic!("expected Ignored, got {other:?}"),
    }
}

#[test]
fn personal_message_with_mention() {
    let v = personal_message();
    let parsed = parse_value(&v).expect("parsed");
    assert_eq!(parsed.service_url, SVC);
    let m = message(&v);
    assert_eq!(m.event_id, "1485983408511");
    assert_eq!(m.user_id, USER);
    assert_eq!(m.thread_key, v["conversation"]["id"].as_str().expect("id"));
    assert_eq!(m.text, "What's my order status?");
    assert_eq!(m.reply_to["service_url"], SVC);
    assert_eq!(m.reply_to["conversation_id"], v["conversation"]["id"]);
    assert_eq!(m.reply_to["activity_id"], "1485983408511");
    assert_eq!(m.reply_to["bot_id"], BOT);
    assert_eq!(m.reply_to["bot_name"], "Switchboard");
    assert_eq!(m.reply_to["conversation_type"], "personal");
    let target = ReplyTarget::from_reply_to(&m.reply_to).expect("target");
    assert!(target.is_personal());
    assert_eq!(
        target.tenant_id.as_deref(),
        Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
    );

    // No conversationType (older payloads): personal.
    let mut v = personal_message();
    v["conversation"]
        .as_object_mut()
        .map(|c| c.remove("conversationType"));
    assert_eq!(message(&v).reply_to["conversation_type"], "personal");
}

#[test]
fn channel_message_keeps_other_mentions() {
    let m = message(&channel_message());
    assert_eq!(m.text, "ask Megan Bowen about it");
    assert_eq!(
        m.thread_key,
        "19:c2cd1c1b8c3a4b2f9a7c6f0d1e2f3a4b@thread.skype;messageid=1481567603816"
    );
    assert_eq!(m.reply_to["conversation_type"], "channel");
    assert_eq!(
        m.reply_to["service_url"],
        "https://smba.trafficmanager.net/emea/"
    );
}

#[test]
fn non_messages_and_own_messages_are_ignored() {
    let update = json!({
        "type": "conversationUpdate",
        "membersAdded": [{"id": BOT}],
        "timestamp": "2024-02-06T19:30:52.321Z",
        "id": "f:2ca07f0b",
        "channelId": "msteams",
        "serviceUrl": SVC,
        "from": {"id": USER, "aadObjectId": "a1b2"},
        "conversation": {"conversationType": "personal", "tenantId": "t", "id": "a:1"},
        "recipient": {"id": BOT, "name": "Switchboard"},
        "channelData": {"tenant": {"id": "t"}, "eventType": "teamMemberAdded"}
    });
    assert!(ignored_reason(&update).contains("conversationUpdate"));
    assert_eq!(parse_value(&update).expect("parsed").service_url, SVC);

    let mut own = personal_message();
    own["from"] = json!({"id": BOT, "name": "Switchboard"});
    assert!(ignored_reason(&own).contains("bot itself"));

    let mut no_text = personal_message();
    no_text.as_object_mut().map(|o| o.remove("text"));
    no_text["attachments"] = json!([{"contentType": "image/png", "contentUrl": "https://x/y.png"}]);
    assert!(ignored_reason(&no_text).contains("without text"));
    let mut only_mention = personal_message();
    only_mention["text"] = json!("<at>Switchboard</at>  ");
    assert!(ignored_reason(&only_mention).contains("without text"));

    for kind in [
        "typing",
        "messageReaction",
        "invoke",
        "installationUpdate",
        "messageUpdate",
    ] {
        let mut v = personal_message();
        v["type"] = json!(kind);
        let reason = ignored_reason(&v);
        assert!(!reason.is_empty(), "{kind}");
    }
}

#[test]
fn junk_is_a_parse_error() {
    assert!(matches!(
        parse(b"not json"),
        Err(ParseError::InvalidJson(_))
    ));
    assert!(matches!(parse(b""), Err(ParseError::InvalidJson(_))));
    assert_eq!(parse(b"[1,2]"), Err(ParseError::NotAnObject));
    assert_eq!(parse(b"\"message\""), Err(ParseError::NotAnObject));
    assert_eq!(parse(b"{}"), Err(ParseError::MissingField("type")));
    assert_eq!(
        parse(br#"{"type":"message"}"#),
        Err(ParseError::MissingField("serviceUrl"))
    );
    assert_eq!(
        parse(br#"{"type":7,"serviceUrl":"x"}"#),
        Err(ParseError::MissingField("type"))
    );
    for field in ["id", "from", "conversation", "recipient"] {
        let mut v = personal_message();
        v.as_object_mut().map(|o| o.remove(field));
        assert!(
            matches!(parse_value(&v), Err(ParseError::MissingField(_))),
            "{field}"
        );
    }
    let mut v = personal_message();
    v["from"] = json!({"id": 42});
    assert_eq!(parse_value(&v), Err(ParseError::MissingField("from.id")));
    assert!(parse(&[0xff, 0xfe, 0x00]).is_err());
}
