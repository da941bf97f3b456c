//! Defect 3: a client that sends its headers and then drips its body is answered 408
//! (and disconnected) once `server.body_timeout_secs` have passed; it was held open
//! indefinitely.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::admin::BOOTSTRAP_KEY;
use crate::support::{Backend, spawn_server};

/// Sends `head` (with a Content-Length of 10,000), then one body byte every 100 ms, and
/// returns what the server answered and when, or `None` if it said nothing in `within`.
async fn drip(
    addr: std::net::SocketAddr,
    head: String,
    within: Duration,
) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = tcp.into_split();
    let dripping = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let outcome = tokio::time::timeout(within, async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    dripping.abort();
    outcome.ok().map(|()| {
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dripped_bodies_get_408_within_the_bound() {
    let backend = Backend::sqlite();
    let mut config = backend.config();
    config.server.body_timeout_secs = 1;
    let node = spawn_server(config).await;
    let addr = node.addr();
    let heads = [
        // A webhook, unauthenticated: the body is read before anything else.
        "POST /v1/channels/whatsapp/PN1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n".to_string(),
        // The admin API, with a valid key.
        format!("POST /v1/admin/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {BOOTSTRAP_KEY}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n"),
        // A flow draft (a raw body read by the handler).
        format!("PUT /v1/admin/tenants/demo/flows/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {BOOTSTRAP_KEY}\r\nContent-Type: application/yaml\r\nContent-Length: 10000\r\n\r\n"),
    ];
    for head in heads {
        let (answer, after) = drip(addr, head.clone(), Duration::from_secs(8))
            .await
            .unwrap_or_else(|| panic!("no answer within 8 s to a dripped body: {head}"));
        assert!(answer.starts_with("HTTP/1.1 408"), "{head}: {answer}");
        assert!(
            answer.to_lowercase().contains("connection: close"),
            "{answer}"
        );
        assert!(after >= Duration::from_millis(900), "{after:?}: {answer}");
    }
    // A body that arrives in time is served as usual.
    let health = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(health.status(), 200);
    node.shutdown().await;
}
