//! Health, readiness and the demo page over real HTTP.

mod support;

use support::{Backend, spawn_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_demo_page() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let base = format!("http://{}", node.addr());

    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );

    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = page.text().await.unwrap();
    assert!(
        body.contains("src=\"/widget.js\"") && body.contains("data-tenant=\"demo\""),
        "the page embeds the widget as a customer would"
    );

    let missing = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(missing.status(), 404);
    node.shutdown().await;
}
