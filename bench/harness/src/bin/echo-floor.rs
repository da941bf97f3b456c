//! The floor: a bare tokio-tungstenite echo server. No protocol, no state, no storage:
//! every text or binary message goes back as it came. Whatever Switchboard spends on
//! top of this is the price of being a chat runtime.
//!
//! `echo-floor [--bind 127.0.0.1:9002] [--read-buffer BYTES]` (tokio multi-thread
//! runtime, one worker per CPU; tungstenite's default buffers unless told otherwise).

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9002")]
    bind: String,
    /// tungstenite's read buffer per connection (its default is 128 KiB).
    #[arg(long)]
    read_buffer: Option<usize>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    switchboard_bench::raise_nofile();
    let mut config = WebSocketConfig::default();
    if let Some(bytes) = args.read_buffer {
        config = config.read_buffer_size(bytes);
    }
    let listener = TcpListener::bind(&args.bind).await?;
    eprintln!("echo-floor listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: say so, keep serving.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(mut ws) =
                tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
            else {
                return;
            };
            while let Some(Ok(message)) = ws.next().await {
                if message.is_close() {
                    return;
                }
                // Pings are answered by tungstenite itself; data goes back as it came.
                if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                    return;
                }
            }
        });
    }
}
