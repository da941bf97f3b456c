//! `parse` against payloads shaped like Meta's documented webhook examples, and junk.

use serde_json::json;

use crate::channels::inbound::{DeliveryStatus, InboundEvent, InboundMessage};
use crate::channels::whatsapp::{ParseError, parse};

/// One POST batching two business accounts: the first number got two text messages
/// and an image, the second a failed delivery status; plus a non-`messages` change.
const BATCHED: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "102290129340398",
      "changes": [
        {
          "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
            "contacts": [
              { "profile": { "name": "Sheena Nelson" }, "wa_id": "16505551234" },
              { "profile": { "name": "Pablo Morales" }, "wa_id": "16505559876" }
            ],
            "messages": [
              {
                "from": "16505551234",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
                "timestamp": "1749416383",
                "type": "text",
                "text": { "body": "Does it come in another color?" }
              },
              {
                "from": "16505559876",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMQA=",
                "timestamp": "1749416390",
                "type": "text",
                "text": { "body": "Hi &amp; <b>hello</b>\n\nsecond paragraph" }
              },
              {
                "from": "16505551234",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMgA=",
                "timestamp": "1749416400",
                "type": "image",
                "image": {
                  "caption": "This is the one",
                  "mime_type": "image/jpeg",
                  "sha256": "l2Ci2NHKNLpBk9E8ljP5sRDwG/dpOFZ6axx4uhiJZZ8=",
                  "id": "1003383421387256"
                }
              }
            ]
          },
          "field": "messages"
        }
      ]
    },
    {
      "id": "102290129340399",
      "changes": [
        {
          "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783882", "phone_number_id": "106540352242923" },
            "statuses": [
              {
                "id": "wamid.HBgLMTIxMTU1NTc5NDcVAgARGBIyRkQxREU3MTRGOTBFQTM1MEUA",
                "status": "failed",
                "timestamp": "1750263773",
                "recipient_id": "12015553931",
                "errors": [
                  {
                    "code": 131049,
                    "title": "This message was not delivered to maintain healthy ecosystem engagement.",
                    "message": "This message was not delivered to maintain healthy ecosystem engagement.",
                    "error_data": { "details": "In order to maintain a healthy ecosystem engagement, the message failed to be delivered." },
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
                  }
                ]
              }
            ]
          },
          "field": "messages"
        },
        {
          "value": { "event": "APPROVED", "message_template_id": 12345, "message_template_name": "hello" },
          "field": "message_template_status_update"
        }
      ]
    }
  ]
}"#;

#[test]
fn batched_entry_with_messages_image_and_status() {
    let events = parse(BATCHED.as_bytes()).expect("parses");
    assert_eq!(events.len(), 4, "{events:#?}");

    let first = "106540352242922";
    assert_eq!(
        events[0],
        (
            first.to_owned(),
            InboundEvent::Message(InboundMessage {
                event_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=".into(),
                user_id: "16505551234".into(),
                thread_key: "16505551234".into(),
                text: "Does it come in another color?".into(),
                reply_to: json!({ "to": "16505551234", "phone_number_id": first }),
            })
        )
    );
    let InboundEvent::Message(second) = &events[1].1 else {
        panic!("second event should be a message: {:?}", events[1]);
    };
    assert_eq!(events[1].0, first);
    assert_eq!(second.user_id, "16505559876");
    assert_eq!(second.thread_key, "16505559876");
    // WhatsApp text is delivered verbatim: no entity decoding.
    assert_eq!(second.text, "Hi &amp; <b>hello</b>\n\nsecond paragraph");

    assert_eq!(events[2].0, first);
    let InboundEvent::Ignored { reason } = &events[2].1 else {
        panic!("image should be ignored: {:?}", events[2]);
    };
    assert!(reason.contains("image"), "{reason}");

    assert_eq!(
        events[3],
        (
            "106540352242923".to_owned(),
            InboundEvent::Status(DeliveryStatus {
                provider_message_id: "wamid.HBgLMTIxMTU1NTc5NDcVAgARGBIyRkQxREU3MTRGOTBFQTM1MEUA"
                    .into(),
                status: "failed".into(),
                recipient: "12015553931".into(),
                error: Some(
                    "131049: This message was not delivered to maintain healthy ecosystem engagement."
                        .into()
                ),
            })
        )
    );
}

#[test]
fn delivered_and_read_statuses_and_reactions() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "1555", "phone_number_id": "PN" },
            "messages": [{ "from": "111", "id": "wamid.R", "timestamp": "1", "type": "reaction",
                           "reaction": { "message_id": "wamid.X", "emoji": "👍" } },
                         { "from": "111", "id": "wamid.T", "type": "text" }],
            "statuses": [
                { "id": "wamid.A", "status": "delivered", "timestamp": "2", "recipient_id": "111",
                  "conversation": { "id": "c", "origin": { "type": "service" } },
                  "pricing": { "billable": true, "pricing_model": "CBP", "category": "service" } },
                { "id": "wamid.A", "status": "read", "timestamp": "3", "recipient_id": "111" }
            ],
            "errors": [{ "code": 131051, "title": "Unsupported message type" }]
        }}]}]
    });
    let events = parse(body.to_string().as_bytes()).expect("parses");
    let kinds: Vec<String> = events
        .iter()
        .map(|(pn, e)| {
            assert_eq!(pn, "PN");
            match e {
                InboundEvent::Message(m) => format!("message {}", m.event_id),
                InboundEvent::Status(s) => format!("{} {}", s.status, s.provider_message_id),
                InboundEvent::Ignored { reason } => format!("ignored: {reason}"),
            }
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "ignored: unsupported message type `reaction`",
            "ignored: text message without text.body",
            "delivered wamid.A",
            "read wamid.A",
            "ignored: webhook error 131051: Unsupported message type",
        ]
    );
}

#[test]
fn empty_and_non_message_notifications_yield_nothing() {
    for body in [
        r#"{"object":"whatsapp_business_account","entry":[]}"#,
        r#"{"object":"whatsapp_business_account"}"#,
        r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]}]}"#,
        r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1"}}}]}]}"#,
    ] {
        assert_eq!(parse(body.as_bytes()), Ok(vec![]), "{body}");
    }
}

#[test]
fn missing_route_key_is_an_error() {
    let body = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"w","type":"text","text":{"body":"x"}}]}}]}]}"#;
    assert_eq!(
        parse(body.as_bytes()),
        Err(ParseError::MissingPhoneNumberId)
    );
}

#[test]
fn junk_bodies_are_parse_errors() {
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{}1{}]}}"#,
        r#"{"a":"#.repeat(5000),
        "}".repeat(5000)
    );
    let junk: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"not json".to_vec(),
        b"\xff\xfe\x00garbage".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"whatsapp_business_account\"".to_vec(),
        br#"{"object":"page","entry":[]}"#.to_vec(),
        br#"{"entry":[]}"#.to_vec(),
        br#"{"object":5}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":"x"}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":[5]}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":[{"changes":{}}]}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":[]}]}]}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":1},"messages":[]}}]}]}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":5,"from":"1","type":"text"}]}}]}]}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"statuses":"x"}}]}]}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"a","from":"1","type":"text","text":{"body":7}}]}}]}]}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1"},"messages":[{"id":"a""#.to_vec(),
        deep_array.into_bytes(),
        deep_object.into_bytes(),
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
fn random_bytes_and_mutations_never_panic() {
    let mut rng = super::Rng::new(7);
    let base = BATCHED.as_bytes();
    for _ in 0..2000 {
        let mut body = base.to_vec();
        for _ in 0..=rng.below(8) {
            let i = rng.below(body.len());
            match rng.below(3) {
                0 => body[i] = rng.next() as u8,
                1 => {
                    body.remove(i);
                }
                _ => body.truncate(i),
            }
            if body.is_empty() {
                break;
            }
        }
        let _ = parse(&body);
    }
    for len in [0usize, 1, 7, 64, 1024] {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(parse(&bytes).is_err());
    }
}
