//! The client side of web chat protocol v1 (docs/protocol.md), as much as the scenarios
//! need: join with `hello`, send `message` frames, read server frames as JSON. Peers
//! (plain echo servers) get the same bytes and answer with them.

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_bench::{Ws, hello_frame};
use tokio_tungstenite::tungstenite::Message;

/// What is at the other end of the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    /// Switchboard: protocol v1.
    Sb,
    /// An echo server: whatever is sent comes back.
    Echo,
}

/// The next text frame, or `None` once the socket is closed.
pub async fn next_text(ws: &mut Ws) -> anyhow::Result<Option<String>> {
    while let Some(message) = ws.next().await {
        match message? {
            Message::Text(text) => return Ok(Some(text.as_str().to_owned())),
            Message::Close(_) => return Ok(None),
            _ => {} // pings are answered by tungstenite
        }
    }
    Ok(None)
}

/// The next text frame as JSON.
pub async fn next_json(ws: &mut Ws) -> anyhow::Result<Value> {
    let text = next_text(ws)
        .await?
        .context("the server closed the socket")?;
    serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))
}

/// Joins: `hello` answered by `welcome` (Switchboard) or by its echo (peers). With
/// `wait_prompt`, also waits for the flow's first bot message, so the conversation has
/// started and is waiting for input.
pub async fn join(
    ws: &mut Ws,
    proto: Proto,
    tenant: &str,
    wait_prompt: bool,
) -> anyhow::Result<()> {
    ws.send(Message::text(hello_frame(tenant))).await?;
    if proto == Proto::Echo {
        next_text(ws)
            .await?
            .context("closed before the hello came back")?;
        return Ok(());
    }
    let mut welcomed = false;
    loop {
        let frame = next_json(ws).await?;
        match frame["type"].as_str() {
            Some("welcome") if !wait_prompt => return Ok(()),
            Some("welcome") => welcomed = true,
            Some("message") if welcomed && frame["role"] == "bot" => return Ok(()),
            Some("error") => bail!("hello refused: {}", frame["code"]),
            _ => {}
        }
    }
}

/// A protocol v1 `message` frame.
pub fn message_frame(client_id: &str, text: &str) -> String {
    json!({"type": "message", "client_id": client_id, "text": text}).to_string()
}
