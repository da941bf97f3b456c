//! Gateway against hand-written HTTP responses from a raw TCP server, for upstream
//! misbehaviour the fake does not script: non-SSE bodies, error events inside the
//! stream, garbage chunks, HTML error pages and connections cut mid-body.

use std::time::Duration;

use super::common::{config, gateway, request, run};
use switchboard::llm::LlmError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(10);

/// Serves exactly one connection: reads the request, writes `response` verbatim, closes.
async fn one_shot(response: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read headers, then Content-Length bytes of body.
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break;
                }
            }
        }
        sock.write_all(response.as_bytes()).await.unwrap();
        sock.shutdown().await.ok();
    });
    format!("http://{addr}/v1")
}

fn sse(events: &[&str]) -> String {
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

const HI: &str = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn json_body_instead_of_sse_is_protocol_error() {
    let body = r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[]}"#;
    let url = one_shot(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await;
    let out = run(&gateway(&config(&url)), request("x"), LIMIT).await;
    assert!(out.fragments.is_empty());
    assert!(
        matches!(out.error, Some(LlmError::Protocol(_))),
        "{:?}",
        out.error
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn error_event_mid_stream_is_upstream_error() {
    let url = one_shot(sse(&[
        HI,
        r#"{"error":{"message":"The model is overloaded","type":"server_error","param":null,"code":null}}"#,
    ]))
    .await;
    let out = run(&gateway(&config(&url)), request("x"), LIMIT).await;
    assert_eq!(out.texts(), ["Hi"]);
    assert_eq!(
        out.error,
        Some(LlmError::Upstream {
            status: None,
            message: "The model is overloaded".into()
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_chunk_is_protocol_error() {
    let url = one_shot(sse(&[HI, "{this is not json"])).await;
    let out = run(&gateway(&config(&url)), request("x"), LIMIT).await;
    assert_eq!(out.texts(), ["Hi"]);
    assert!(
        matches!(out.error, Some(LlmError::Protocol(_))),
        "{:?}",
        out.error
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn html_error_page_keeps_status() {
    let body = "<html><body><h1>401 Authorization Required</h1></body></html>";
    let url = one_shot(format!(
        "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await;
    let out = run(&gateway(&config(&url)), request("x"), LIMIT).await;
    match out.error {
        Some(LlmError::Upstream {
            status: Some(401),
            message,
        }) => assert!(message.contains("Authorization Required"), "{message}"),
        other => panic!("expected Upstream 401, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_cut_mid_body_is_transport_error() {
    // Chunked body whose connection closes before the terminating zero-size chunk.
    let event = format!("data: {HI}\n\n");
    let url = one_shot(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
        event.len()
    ))
    .await;
    let out = run(&gateway(&config(&url)), request("x"), LIMIT).await;
    assert_eq!(out.texts(), ["Hi"]);
    assert!(
        matches!(out.error, Some(LlmError::Transport(_))),
        "{:?}",
        out.error
    );
}
