//! Defect 7: a large valid flow compiles through the admin API in linear time, off the
//! HTTP workers, and the flow PUT compiles it once.

use std::time::Duration;

use crate::support::admin::Admin;
use crate::support::{Backend, spawn_server};

/// A valid flow of `n` chained `say` states, compact enough that 8,000 of them fit
/// the 256 KiB admin body limit.
fn chain(n: usize) -> String {
    let mut source = String::from("id: big\nstart: s0\nstates:\n");
    for i in 0..n {
        source.push_str(&format!("  s{i}: {{say: x, next: s{}}}\n", i + 1));
    }
    source.push_str(&format!("  s{n}: {{end: done}}\n"));
    source
}

/// Before the fix, the graph check of this flow was quadratic (62 s and 2.7 GB in a
/// release build) and ran on the actix worker: the request outlived the client's
/// deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_8000_state_flow_validates_and_saves_through_the_admin_api() {
    let backend = Backend::sqlite();
    let mut config = backend.config();
    config.server.workers = 1;
    let node = spawn_server(config).await;
    let admin = Admin::operator(node.addr());
    admin.tenant_with_owner("bigflow", "big").await;
    let source = chain(8_000);
    assert!(source.len() < 256 * 1024, "{} bytes", source.len());

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let base = format!("http://{}/v1/admin/tenants/bigflow/flows/big", node.addr());
    let validate = client
        .post(format!("{base}/validate"))
        .bearer_auth(&admin.key)
        .header("content-type", "application/yaml")
        .body(source.clone())
        .send();
    // While it compiles, the only worker still answers.
    let health = client.get(format!("http://{}/healthz", node.addr())).send();
    let (validate, health) = tokio::join!(validate, health);
    assert_eq!(health.expect("healthz answers").status(), 200);
    let validate = validate.expect("validate answers in time");
    assert_eq!(validate.status(), 200);
    let report: serde_json::Value = validate.json().await.unwrap();
    assert_eq!(report["valid"], true, "{report}");

    let saved = admin
        .put_yaml("/v1/admin/tenants/bigflow/flows/big", &source)
        .await;
    assert_eq!(saved.status, 201, "{:?}", saved.body);
    assert_eq!(saved.body["valid"], true);
    node.shutdown().await;
}
