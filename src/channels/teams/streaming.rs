//! Teams response streaming ("Stream bot messages"), as a pure state machine with no IO:
//! the caller sends what it returns and reports the id the first send got back
//! ([`TeamsStreamer::set_stream_id`]). In 1:1 (`personal`) chats the sequence is an
//! optional informative update (`typing` + `streaminfo` `informative`), cumulative
//! `typing` chunks (`streaminfo` `streaming`, carrying the `streamId` once known, at most
//! one per `min_interval` — the docs allow about one request per second), and a final
//! `message` (`streaminfo` `final`). `streamSequence` starts at 1 and strictly increases.
//! Group chats and channels do not support streaming: nothing is emitted until
//! [`TeamsStreamer::finish`], which returns one plain message.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::outbound::OutboundActivity;
use super::target::{PERSONAL, ReplyTarget};

/// The rate the Teams docs allow for streaming updates.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Informative updates must not exceed 1000 characters.
const MAX_INFORMATIVE_CHARS: usize = 1000;

/// Streaming state of one bot reply.
#[derive(Debug, Clone)]
pub struct TeamsStreamer {
    streaming: bool,
    min_interval: Duration,
    text: String,
    sequence: u32,
    stream_id: Option<String>,
    last_sent_at: Option<Instant>,
    /// Length of `text` at the last streaming chunk (0: no chunk yet).
    streamed_len: usize,
}

impl TeamsStreamer {
    /// A streamer for a conversation of this type (`personal` streams, others do not).
    pub fn new(conversation_type: &str, min_interval: Duration) -> Self {
        Self {
            streaming: conversation_type.eq_ignore_ascii_case(PERSONAL),
            min_interval,
            text: String::new(),
            sequence: 0,
            stream_id: None,
            last_sent_at: None,
            streamed_len: 0,
        }
    }

    /// A streamer for a reply target, with [`DEFAULT_MIN_INTERVAL`].
    pub fn for_target(target: &ReplyTarget) -> Self {
        Self::new(&target.conversation_type, DEFAULT_MIN_INTERVAL)
    }

    /// Whether intermediate updates are emitted (1:1 chats).
    pub fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// The full text accumulated so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The last `streamSequence` used (0 before the first update).
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    pub fn stream_id(&self) -> Option<&str> {
        self.stream_id.as_deref()
    }

    /// Records the id the first update's send returned; later calls are ignored.
    pub fn set_stream_id(&mut self, id: impl Into<String>) {
        let id = id.into();
        if self.stream_id.is_none() && !id.is_empty() {
            self.stream_id = Some(id);
        }
    }

    /// An informative update ("Searching the catalogue…"), only before any response
    /// chunk, and subject to the same rate limit. `None` when it must not be sent.
    pub fn informative(&mut self, text: &str, now: Instant) -> Option<OutboundActivity> {
        let text: String = text.trim().chars().take(MAX_INFORMATIVE_CHARS).collect();
        if text.is_empty() || self.streamed_len > 0 || !self.can_send(now) {
            return None;
        }
        Some(self.update("informative", text, now))
    }

    /// Appends a fragment of the answer; returns a cumulative streaming chunk when one
    /// is due.
    pub fn push(&mut self, fragment: &str, now: Instant) -> Option<OutboundActivity> {
        self.text.push_str(fragment);
        self.tick(now)
    }

    /// A chunk with the text accumulated since the last one, if the interval has passed
    /// (call on a timer so a pause in fragments does not hold text back).
    pub fn tick(&mut self, now: Instant) -> Option<OutboundActivity> {
        if self.text.trim().is_empty()
            || self.text.len() == self.streamed_len
            || !self.can_send(now)
        {
            return None;
        }
        self.streamed_len = self.text.len();
        Some(self.update("streaming", self.text.clone(), now))
    }

    /// The closing activity: a `final` streaming message when a stream was started and
    /// its id is known, a plain message otherwise (group chats, nothing streamed yet).
    pub fn finish(self) -> OutboundActivity {
        let message = OutboundActivity::message(self.text);
        match (self.streaming, self.stream_id) {
            (true, Some(id)) => message.with_entity(json!({
                "type": "streaminfo",
                "streamId": id,
                "streamType": "final",
            })),
            _ => message,
        }
    }

    /// Streaming allowed, not waiting for the stream id, and the interval elapsed.
    fn can_send(&self, now: Instant) -> bool {
        if !self.streaming {
            return false;
        }
        match self.last_sent_at {
            None => true,
            Some(last) => {
                self.stream_id.is_some() && now.saturating_duration_since(last) >= self.min_interval
            }
        }
    }

    fn update(&mut self, stream_type: &str, text: String, now: Instant) -> OutboundActivity {
        self.sequence = self.sequence.saturating_add(1);
        self.last_sent_at = Some(now);
        let mut info = serde_json::Map::new();
        info.insert("type".into(), json!("streaminfo"));
        if let Some(id) = &self.stream_id {
            info.insert("streamId".into(), json!(id));
        }
        info.insert("streamType".into(), json!(stream_type));
        info.insert("streamSequence".into(), json!(self.sequence));
        OutboundActivity::typing()
            .with_text(text)
            .with_entity(Value::Object(info))
    }
}
