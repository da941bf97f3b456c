//! The streaming state machine with synthetic instants.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::channels::teams::{OutboundActivity, TeamsStreamer};

const SEC: Duration = Duration::from_secs(1);

fn info(a: &OutboundActivity) -> Value {
    a.stream_info().cloned().unwrap_or(Value::Null)
}

#[test]
fn personal_chat_streams() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut s = TeamsStreamer::new("personal", SEC);
    assert!(s.is_streaming());

    let first = s.informative("Thinking…", at(0)).expect("informative");
    assert_eq!(first.kind(), "typing");
    assert_eq!(first.text(), Some("Thinking…"));
    assert_eq!(
        info(&first),
        json!({"type": "streaminfo", "streamType": "informative", "streamSequence": 1})
    );

    // Waiting for the stream id: nothing else goes out, text accumulates.
    assert!(s.push("Hello", at(2000)).is_none());
    s.set_stream_id("stream-1");
    s.set_stream_id("ignored");
    assert_eq!(s.stream_id(), Some("stream-1"));

    let c1 = s.push(" wor", at(2100)).expect("chunk");
    assert_eq!(c1.kind(), "typing");
    assert_eq!(c1.text(), Some("Hello wor"));
    assert_eq!(
        info(&c1),
        json!({"type": "streaminfo", "streamId": "stream-1", "streamType": "streaming", "streamSequence": 2})
    );
    // Too soon: accumulated, not sent; informative no longer allowed once streaming.
    assert!(s.push("ld", at(2500)).is_none());
    assert!(s.informative("still thinking", at(5000)).is_none());
    assert!(
        s.tick(at(3100))
            .is_some_and(|c| c.text() == Some("Hello world"))
    );
    // Nothing new: nothing to send.
    assert!(s.tick(at(9000)).is_none());
    let c3 = s.push("!", at(9000)).expect("chunk");
    assert_eq!(info(&c3)["streamSequence"], 4);
    assert_eq!(s.sequence(), 4);

    let done = s.finish();
    assert_eq!(done.kind(), "message");
    assert_eq!(done.text(), Some("Hello world!"));
    assert_eq!(
        info(&done),
        json!({"type": "streaminfo", "streamId": "stream-1", "streamType": "final"})
    );
}

#[test]
fn personal_chat_without_informative() {
    let t0 = Instant::now();
    let mut s = TeamsStreamer::new("personal", SEC);
    assert!(s.push("   ", t0).is_none());
    let first = s.push("Hi", t0).expect("first chunk");
    assert_eq!(
        info(&first),
        json!({"type": "streaminfo", "streamType": "streaming", "streamSequence": 1})
    );
    assert_eq!(first.text(), Some("   Hi"));
    // Stream id never arrived (first send failed): finish degrades to a plain message.
    assert!(s.push(" there", t0 + 5 * SEC).is_none());
    let done = s.finish();
    assert_eq!(done.text(), Some("   Hi there"));
    assert!(done.stream_info().is_none());

    // Nothing streamed at all: plain message.
    let s = TeamsStreamer::new("personal", SEC);
    assert_eq!(s.finish(), OutboundActivity::message(""));
}

#[test]
fn group_chats_and_channels_do_not_stream() {
    let t0 = Instant::now();
    for kind in ["groupChat", "channel"] {
        let mut s = TeamsStreamer::new(kind, SEC);
        assert!(!s.is_streaming());
        assert!(s.informative("Thinking…", t0).is_none());
        for i in 0..5u32 {
            assert!(s.push(&format!("w{i} "), t0 + SEC * (i * 2)).is_none());
            assert!(s.tick(t0 + SEC * (i * 2 + 1)).is_none());
        }
        s.set_stream_id("x");
        assert_eq!(s.sequence(), 0);
        let done = s.finish();
        assert_eq!(done, OutboundActivity::message("w0 w1 w2 w3 w4 "));
        assert!(done.stream_info().is_none());
    }
}
