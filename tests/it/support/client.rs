//! A protocol v1 test client over a real WebSocket.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for any single frame.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every frame received so far, in order.
    pub frames: Vec<Value>,
    pub conversation_id: Option<String>,
    pub visitor_token: Option<String>,
    next_client_id: u64,
    /// Frames received while [`Client::say`] waited for its ack, not yet read: the next
    /// reads return them first, so a reply that overtook the ack is not lost to the test.
    unread: std::collections::VecDeque<Value>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::connect_with_origin(addr, None).await
    }

    /// Connects to another WebSocket endpoint of the server (the agent inbox).
    pub async fn connect_path(addr: SocketAddr, path: &str) -> Self {
        Self::connect_to(format!("ws://{addr}{path}"), None).await
    }

    pub async fn connect_with_origin(addr: SocketAddr, origin: Option<&str>) -> Self {
        Self::connect_to(format!("ws://{addr}/v1/ws"), origin).await
    }

    async fn connect_to(url: String, origin: Option<&str>) -> Self {
        let mut request = url.into_client_request().unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        Self {
            ws,
            frames: Vec::new(),
            conversation_id: None,
            visitor_token: None,
            next_client_id: 0,
            unread: std::collections::VecDeque::new(),
        }
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("send frame");
    }

    /// Sends a frame; `false` when the socket is gone (a killed server).
    pub async fn try_send_json(&mut self, frame: Value) -> bool {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_ok()
    }

    pub async fn send_json(&mut self, frame: Value) {
        self.send_raw(&frame.to_string()).await;
    }

    /// The next text frame, as JSON; panics after [`FRAME_TIMEOUT`] or on close.
    pub async fn recv(&mut self) -> Value {
        self.try_recv(FRAME_TIMEOUT).await.unwrap_or_else(|| {
            panic!(
                "no frame within {FRAME_TIMEOUT:?}; got so far: {:#?}",
                self.frames
            )
        })
    }

    /// The next text frame within `timeout`, or `None` (timeout or closed socket).
    pub async fn try_recv(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(frame) = self.unread.pop_front() {
            return Some(frame);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match next.ok()? {
                Message::Text(text) => {
                    let frame: Value =
                        serde_json::from_str(text.as_str()).expect("server sends JSON");
                    self.frames.push(frame.clone());
                    return Some(frame);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Waits for the socket to be closed by the server; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + FRAME_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(Message::Text(text)))) => {
                    self.frames
                        .push(serde_json::from_str(text.as_str()).unwrap());
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_))) | Ok(None) => return None,
                Err(_) => panic!("socket not closed within {FRAME_TIMEOUT:?}"),
            }
        }
    }

    /// Reads frames until one satisfies `done`; returns that frame.
    pub async fn until(&mut self, mut done: impl FnMut(&Value) -> bool) -> Value {
        loop {
            let frame = self.recv().await;
            if done(&frame) {
                return frame;
            }
        }
    }

    /// Sends hello for a new conversation and returns the welcome.
    pub async fn hello(&mut self, tenant: &str) -> Value {
        self.send_json(json!({"type": "hello", "tenant": tenant}))
            .await;
        self.expect_welcome().await
    }

    /// Sends a hello of the test's own making and returns the welcome.
    pub async fn hello_frame(&mut self, frame: Value) -> Value {
        self.send_json(frame).await;
        self.expect_welcome().await
    }

    /// Resumes a conversation as the given visitor.
    pub async fn resume(
        &mut self,
        tenant: &str,
        token: &str,
        conversation_id: &str,
        last_seq: i64,
    ) -> Value {
        self.send_json(json!({
            "type": "hello", "tenant": tenant, "visitor_token": token,
            "conversation_id": conversation_id, "last_seq": last_seq,
        }))
        .await;
        self.expect_welcome().await
    }

    async fn expect_welcome(&mut self) -> Value {
        let welcome = self.recv().await;
        assert_eq!(
            welcome["type"], "welcome",
            "expected welcome, got {welcome}"
        );
        self.conversation_id = welcome["conversation_id"].as_str().map(str::to_owned);
        self.visitor_token = welcome["visitor_token"].as_str().map(str::to_owned);
        welcome
    }

    /// Sends a user message and returns its ack.
    pub async fn say(&mut self, text: &str) -> Value {
        self.next_client_id += 1;
        // Unique across clients: a resent client_id is (rightly) deduplicated.
        let client_id = format!("c{}-{}", self.next_client_id, uuid::Uuid::new_v4().simple());
        self.send_json(json!({"type": "message", "client_id": client_id, "text": text}))
            .await;
        // Events may arrive before the ack (in a cluster the reply crosses nodes by
        // another way than the events): keep them for the reads that follow.
        let mut before = Vec::new();
        let ack = loop {
            let frame = self.recv().await;
            if frame["type"] == "ack" && frame["client_id"] == client_id.as_str() {
                break frame;
            }
            before.push(frame);
        };
        for frame in before.into_iter().rev() {
            self.unread.push_front(frame);
        }
        ack
    }

    /// Waits for the next durable bot message whose text contains `needle`.
    pub async fn bot_says(&mut self, needle: &str) -> Value {
        let needle = needle.to_lowercase();
        self.until(|f| {
            f["type"] == "message"
                && f["role"] == "bot"
                && f["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(&needle)
        })
        .await
    }

    /// Every durable message frame received so far, in order.
    pub fn messages(&self) -> Vec<&Value> {
        self.frames
            .iter()
            .filter(|f| f["type"] == "message")
            .collect()
    }

    /// Asserts the seqs of the received message frames are exactly 1..=n.
    pub fn assert_gap_free(&self) {
        let seqs: Vec<i64> = self
            .messages()
            .iter()
            .map(|f| f["seq"].as_i64().unwrap())
            .collect();
        let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(seqs, expected, "seqs must be gap-free and increasing");
    }

    pub fn last_seq(&self) -> i64 {
        self.messages()
            .last()
            .map_or(0, |f| f["seq"].as_i64().unwrap())
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
