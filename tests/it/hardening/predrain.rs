//! Defect 5: on shutdown the node keeps serving for `server.predrain_secs` while
//! `/readyz` answers 503, so a load balancer sees it leave before the listener closes
//! (it went straight from 200 to connection refused), then drains as before.

use std::time::Duration;

use crate::support::{Backend, Client, eventually, spawn_server};

/// A client that opens a new connection per request, as a load balancer's probe would.
fn probe() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_while_the_node_serves_on_then_it_drains() {
    let backend = Backend::sqlite();
    let mut config = backend.config();
    config.server.predrain_secs = 3;
    let node = spawn_server(config).await;
    let addr = node.addr();
    let http = probe();
    let mut chat = Client::connect(addr).await;
    chat.hello("demo").await;
    chat.bot_says("what's your name").await;

    let stopping = tokio::spawn(node.shutdown());
    let readyz = format!("http://{addr}/readyz");
    assert!(
        eventually(Duration::from_secs(2), || async {
            matches!(http.get(&readyz).send().await, Ok(r) if r.status() == 503)
        })
        .await,
        "/readyz never answered 503 after shutdown began"
    );
    // Still serving everything: new connections, new sockets, and the open socket.
    let health = http.get(format!("http://{addr}/healthz")).send().await;
    assert_eq!(health.expect("still accepting").status(), 200);
    let ready = http.get(&readyz).send().await.expect("still accepting");
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["reason"], "shutting down");
    let mut late = Client::connect(addr).await;
    late.hello("demo").await;
    chat.say("Edsger").await;
    chat.bot_says("nice to meet you, edsger").await;

    // Then the drain: the node stops and its listener closes.
    tokio::time::timeout(Duration::from_secs(30), stopping)
        .await
        .expect("shutdown ends")
        .unwrap();
    assert!(
        http.get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_err(),
        "the listener is closed after the drain"
    );
}
