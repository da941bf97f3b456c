//! `WhatsappClient` against the fake Graph API (and raw sockets) over real TCP.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::channels::inbound::SendError;
use crate::channels::whatsapp::{ClientConfigError, WhatsappClient, WhatsappConfig};
use crate::testkit::fake_whatsapp::{Failure, FakeWhatsapp};

const TOKEN: &str = "EAAG-secret-token";

fn client(base_url: &str) -> WhatsappClient {
    let mut config = WhatsappConfig::new(base_url, "v21.0", TOKEN);
    config.timeout = Duration::from_secs(5);
    WhatsappClient::new(config).expect("client builds")
}

#[tokio::test(flavor = "multi_thread")]
async fn send_text_posts_the_documented_body_and_returns_the_wamid() {
    let fake = FakeWhatsapp::start_with_token(TOKEN).expect("fake starts");
    let client = client(&fake.base_url());

    let id = client
        .send_text("106540352242922", "16505551234", "Hello \"there\" ✓")
        .await;
    assert_eq!(id.as_deref(), Ok("wamid.1"));
    let id = client
        .send_text("106540352242922", "16505551234", "second")
        .await;
    assert_eq!(id.as_deref(), Ok("wamid.2"));

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/v21.0/106540352242922/messages");
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer EAAG-secret-token")
    );
    assert_eq!(
        requests[0].content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(
        requests[0].body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "text",
            "text": { "preview_url": false, "body": "Hello \"there\" ✓" },
        })
    );
    assert_eq!(
        fake.delivered(),
        vec![
            ("16505551234".to_owned(), "Hello \"there\" ✓".to_owned()),
            ("16505551234".to_owned(), "second".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_classified_and_only_successes_are_delivered() {
    let fake = FakeWhatsapp::start().expect("fake starts");
    let client = client(&fake.base_url());
    fake.fail_next(vec![
        Failure::Status(429, Some(7)),
        Failure::Status(429, None),
        Failure::Status(500, None),
        Failure::Status(503, Some(2)),
        Failure::Drop,
        Failure::Status(400, None),
        Failure::GraphError {
            status: 400,
            code: 131056,
        },
        Failure::GraphError {
            status: 400,
            code: 130429,
        },
        Failure::GraphError {
            status: 400,
            code: 131000,
        },
        Failure::GraphError {
            status: 400,
            code: 131026,
        },
    ]);
    let mut results = Vec::new();
    for i in 0..11 {
        results.push(client.send_text("PN", "111", &format!("attempt {i}")).await);
    }
    assert_eq!(
        results[0],
        Err(SendError::RateLimited {
            retry_after_ms: 7000
        })
    );
    assert_eq!(
        results[1],
        Err(SendError::RateLimited {
            retry_after_ms: 1000
        })
    );
    assert!(
        matches!(&results[2], Err(SendError::Transient(m)) if m.contains("500")),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(results[3], Err(SendError::Transient(_))),
        "{:?}",
        results[3]
    );
    // No HTTP status at all: the connection closed without a response.
    assert!(
        matches!(&results[4], Err(SendError::Transient(m)) if !m.contains("HTTP")),
        "drop: {:?}",
        results[4]
    );
    assert!(
        matches!(&results[5], Err(SendError::Permanent(m)) if m.contains("400")),
        "{:?}",
        results[5]
    );
    assert_eq!(
        results[6],
        Err(SendError::RateLimited {
            retry_after_ms: 6000
        })
    );
    assert_eq!(
        results[7],
        Err(SendError::RateLimited {
            retry_after_ms: 1000
        })
    );
    assert!(
        matches!(results[8], Err(SendError::Transient(_))),
        "{:?}",
        results[8]
    );
    assert!(
        matches!(&results[9], Err(SendError::Permanent(m)) if m.contains("131026")),
        "{:?}",
        results[9]
    );
    assert_eq!(results[10].as_deref(), Ok("wamid.1"));

    assert_eq!(fake.requests().len(), 11);
    assert_eq!(
        fake.delivered(),
        vec![("111".to_owned(), "attempt 10".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_are_permanent() {
    let fake = FakeWhatsapp::start_with_token("the-right-token").expect("fake starts");
    let client = client(&fake.base_url());
    let result = client.send_text("PN", "111", "hi").await;
    let Err(SendError::Permanent(message)) = result else {
        panic!("expected Permanent, got {result:?}");
    };
    assert!(
        message.contains("401") && message.contains("190"),
        "{message}"
    );
    assert!(!message.contains(TOKEN));
    assert!(fake.delivered().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn route_key_stays_inside_its_path_segment() {
    let fake = FakeWhatsapp::start().expect("fake starts");
    // Trailing slash on the base URL is tolerated.
    let client = client(&format!("{}/", fake.base_url()));
    let result = client.send_text("../../x", "111", "hi").await;
    assert_eq!(result.as_deref(), Ok("wamid.1"));
    assert_eq!(fake.requests()[0].path, "/v21.0/..%2F..%2Fx/messages");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_text_is_rejected_without_a_request() {
    let fake = FakeWhatsapp::start().expect("fake starts");
    let client = client(&fake.base_url());
    let long = "x".repeat(4097);
    for (pn, to, text) in [
        ("PN", "111", ""),
        ("PN", "111", " \n"),
        ("PN", "111", long.as_str()),
        ("", "111", "hi"),
        ("PN", "", "hi"),
    ] {
        let result = client.send_text(pn, to, text).await;
        assert!(matches!(result, Err(SendError::Permanent(_))), "{result:?}");
    }
    assert!(
        client
            .send_text("PN", "111", &"é".repeat(4096))
            .await
            .is_ok()
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_and_refused_connection_are_transient() {
    // Accepts (via the kernel backlog) but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut config = WhatsappConfig::new(
        format!("http://{}", silent.local_addr().expect("addr")),
        "v21.0",
        TOKEN,
    );
    config.timeout = Duration::from_millis(300);
    let slow_client = WhatsappClient::new(config).expect("client");
    let started = Instant::now();
    let result = slow_client.send_text("PN", "111", "hi").await;
    assert!(
        matches!(&result, Err(SendError::Transient(m)) if m.contains("timeout")),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let client = client(&format!("http://{addr}"));
    let result = client.send_text("PN", "111", "hi").await;
    assert!(matches!(result, Err(SendError::Transient(_))), "{result:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_text_is_scrubbed_of_the_token_and_2xx_without_id_is_permanent() {
    let echo = format!(
        r#"{{"error":{{"message":"bad token {TOKEN}","type":"OAuthException","code":190}}}}"#
    );
    let addr = one_shot_server(format!(
        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{echo}",
        echo.len()
    ));
    let result = client(&format!("http://{addr}"))
        .send_text("PN", "111", "hi")
        .await;
    let Err(SendError::Permanent(message)) = result else {
        panic!("expected Permanent, got {result:?}");
    };
    assert!(
        message.contains("[redacted]") && !message.contains(TOKEN),
        "{message}"
    );

    let addr = one_shot_server(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_owned(),
    );
    let result = client(&format!("http://{addr}"))
        .send_text("PN", "111", "hi")
        .await;
    assert!(matches!(result, Err(SendError::Permanent(_))), "{result:?}");
}

#[test]
fn config_errors_and_debug_redaction() {
    let bad = |base: &str, version: &str, token: &str| {
        WhatsappClient::new(WhatsappConfig::new(base, version, token)).err()
    };
    assert!(matches!(
        bad("not a url", "v21.0", "t"),
        Some(ClientConfigError::BaseUrl(_))
    ));
    assert!(matches!(
        bad("ftp://x", "v21.0", "t"),
        Some(ClientConfigError::BaseUrl(_))
    ));
    assert_eq!(
        bad("http://x", "", "t"),
        Some(ClientConfigError::ApiVersion)
    );
    assert_eq!(
        bad("http://x", "v1/../2", "t"),
        Some(ClientConfigError::ApiVersion)
    );
    assert_eq!(bad("http://x", "v21.0", ""), Some(ClientConfigError::Token));
    assert_eq!(
        bad("http://x", "v21.0", "a\nb"),
        Some(ClientConfigError::Token)
    );

    let config = WhatsappConfig::new("https://graph.facebook.com", "v21.0", TOKEN);
    let client = WhatsappClient::new(config.clone()).expect("client");
    for text in [format!("{config:?}"), format!("{client:?}")] {
        assert!(
            !text.contains(TOKEN) && text.contains("[redacted]"),
            "{text}"
        );
    }
}

/// Serves one connection with a canned raw HTTP response, after reading the whole
/// request (headers and `content-length` body).
fn one_shot_server(response: String) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(response.as_bytes());
    });
    addr
}
