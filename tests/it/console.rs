//! The admin console's server side over real HTTP, on both stores: `GET /console` and
//! its assets (strict CSP, no-store, compiled in), `GET /v1/admin/whoami` for every kind
//! of key, and `POST …/flows/{flow}/graph` (states with lines, labelled transitions,
//! reachability, parse errors as 422, tenant isolation). The console itself is tested
//! in a real browser by `tests/browser/console.spec.mjs` (scripts/browser-tests.sh).

use crate::support::admin::Admin;
use crate::support::{Backend, spawn_server};
use reqwest::Method;
use serde_json::{Value, json};

on_both_stores!(
    whoami_names_the_key_and_its_role,
    graph_of_a_draft_or_posted_flow
);

const FLOW: &str = "id: main
start: ask
interrupts:
  - match: [agent]
    goto: human
slots:
  topic: { type: string }
states:
  ask:
    collect: { slot: topic, prompt: \"Topic?\" }
    next:
      - if: 'topic == \"billing\"'
        then: billing
      - else: bye
  billing:
    say: \"<script>alert(1)</script>\"
    next: bye
  orphan:
    say: never
    next: bye
  human:
    handoff: { queue: support }
  bye:
    end: Bye
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_is_served_with_a_strict_csp() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", node.addr());
    let page = http.get(format!("{base}/console")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';") && csp.contains("default-src 'none'"));
    assert!(
        !csp.contains("unsafe"),
        "no unsafe-inline or unsafe-eval: {csp}"
    );
    // A fresh nonce per page, for CodeMirror's <style> element only, also in the page.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a style nonce")
        .to_string();
    assert!(nonce.len() >= 22, "{nonce}");
    assert_eq!(csp, switchboard::http::console::page_csp(&nonce));
    let again = http.get(format!("{base}/console")).send().await.unwrap();
    assert!(
        !again.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(&nonce),
        "a new nonce each time"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/console.js") && html.contains("/console/console.css"));
    assert!(html.contains(&format!("<meta name=\"csp-nonce\" content=\"{nonce}\">")));
    assert!(
        !html.contains("<script>") && !html.contains(" onclick=") && !html.contains("style="),
        "no inline script or style in the page"
    );

    for (asset, kind) in [
        ("core.js", "text/javascript"),
        ("diff.js", "text/javascript"),
        ("graph.js", "text/javascript"),
        ("flows.js", "text/javascript"),
        ("transcripts.js", "text/javascript"),
        ("settings.js", "text/javascript"),
        ("console.js", "text/javascript"),
        ("editor.js", "text/javascript"),
        ("console.css", "text/css"),
    ] {
        assert!(
            html.contains(&format!("/console/{asset}")),
            "{asset} is linked"
        );
        let reply = http
            .get(format!("{base}/console/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{asset}");
        assert!(
            reply.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{asset}"
        );
        assert_eq!(
            reply.headers()["content-security-policy"],
            switchboard::http::console::CSP
        );
        assert!(!reply.bytes().await.unwrap().is_empty(), "{asset}");
    }
    let missing = http
        .get(format!("{base}/console/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing = http
        .get(format!("{base}/console/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    node.shutdown().await;
}

async fn whoami_names_the_key_and_its_role(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.tenant_with_owner("acme", "main").await;
    let viewer = operator.key_for("acme", "viewer").await;

    let me = operator.get("/v1/admin/whoami").await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(
        me.body,
        json!({"operator": true, "tenant": null, "role": "owner", "key_id": null})
    );

    let me = operator.with_key(&viewer).get("/v1/admin/whoami").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["operator"], false);
    assert_eq!(me.body["tenant"], "acme");
    assert_eq!(me.body["role"], "viewer");
    assert!(me.body["key_id"].as_str().is_some_and(|k| !k.is_empty()));

    let me = operator.with_key(&owner).get("/v1/admin/whoami").await;
    assert_eq!(me.body["role"], "owner");

    for key in ["", "sbk_not-a-key"] {
        let me = operator.with_key(key).get("/v1/admin/whoami").await;
        assert_eq!(me.status, 401, "{key:?}");
        assert_eq!(me.code(), "unauthorized");
    }
    // A revoked key is nobody.
    let keys = operator.get("/v1/admin/tenants/acme/keys").await;
    let viewer_id = keys
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "viewer")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = operator
        .delete(&format!("/v1/admin/tenants/acme/keys/{viewer_id}"))
        .await;
    assert!(revoked.status < 300, "{:?}", revoked.body);
    let me = operator.with_key(&viewer).get("/v1/admin/whoami").await;
    assert_eq!(me.status, 401);

    let doc = reqwest::get(format!("http://{}/v1/openapi.json", node.addr()))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(doc["paths"]["/v1/admin/whoami"]["get"].is_object());
    assert!(doc["paths"]["/v1/admin/tenants/{tenant}/flows/{flow}/graph"]["post"].is_object());
    node.shutdown().await;
}

async fn graph_of_a_draft_or_posted_flow(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.tenant_with_owner("acme", "main").await;
    let viewer = operator.key_for("acme", "viewer").await;
    let owner = operator.with_key(&owner);
    let saved = owner
        .put_yaml("/v1/admin/tenants/acme/flows/main", FLOW)
        .await;
    assert!(saved.status < 300, "{:?}", saved.body);

    // The saved draft, read by a viewer.
    let graph = owner
        .with_key(&viewer)
        .send(
            Method::POST,
            "/v1/admin/tenants/acme/flows/main/graph",
            None,
            &[],
        )
        .await;
    assert_eq!(graph.status, 200, "{:?}", graph.body);
    let nodes: Vec<(String, u64, bool)> = graph.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["line"].as_u64().unwrap(),
                n["reachable"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64, bool)> = [
        ("ask", 9, true),
        ("billing", 15, true),
        ("orphan", 18, false),
        ("human", 21, true),
        ("bye", 23, true),
    ]
    .iter()
    .map(|(n, l, r)| (n.to_string(), *l, *r))
    .collect();
    assert_eq!(nodes, expected);
    assert_eq!(graph.body["start"], "ask");
    assert_eq!(graph.body["nodes"][0]["kind"], "collect");
    assert_eq!(graph.body["nodes"][0]["start"], true);
    assert_eq!(graph.body["nodes"][3]["interrupt"], true);
    let edges = graph.body["edges"].as_array().unwrap();
    assert!(edges.contains(
        &json!({"from": "ask", "to": "billing", "label": "if topic == \"billing\"", "known": true})
    ));
    assert!(edges.contains(&json!({"from": "ask", "to": "bye", "label": "else", "known": true})));
    assert!(edges.contains(&json!({"from": "billing", "to": "bye", "label": "", "known": true})));
    assert_eq!(
        graph.body["interrupts"],
        json!([{"to": "human", "label": "says agent"}])
    );

    // A posted body is drawn instead of the draft, even with an unknown target.
    let posted = FLOW.replace("then: billing", "then: billing_inf");
    let graph = owner
        .send(
            Method::POST,
            "/v1/admin/tenants/acme/flows/main/graph",
            Some(("application/yaml", posted)),
            &[],
        )
        .await;
    assert_eq!(graph.status, 200, "{:?}", graph.body);
    let edges = graph.body["edges"].as_array().unwrap();
    assert!(edges.contains(
        &json!({"from": "ask", "to": "billing_inf", "label": "if topic == \"billing\"", "known": false})
    ));
    let billing = graph.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "billing")
        .unwrap();
    assert_eq!(billing["reachable"], false);

    // YAML that does not parse: 422 with the parser's diagnostics, positioned.
    let broken = owner
        .send(
            Method::POST,
            "/v1/admin/tenants/acme/flows/main/graph",
            Some(("application/yaml", "id: main\nstates: [\n".into())),
            &[],
        )
        .await;
    assert_eq!(broken.status, 422, "{:?}", broken.body);
    assert_eq!(broken.code(), "validation_failed");
    let diagnostic = &broken.body["error"]["details"]["diagnostics"][0];
    assert_eq!(diagnostic["file"], "main.yaml");
    assert!(diagnostic["line"].as_u64().is_some());

    // Another tenant's key gets 404; no key 401; an unknown flow without a body 404.
    let other = operator.tenant_with_owner("other", "main").await;
    let foreign = owner
        .with_key(&other)
        .send(
            Method::POST,
            "/v1/admin/tenants/acme/flows/main/graph",
            None,
            &[],
        )
        .await;
    assert_eq!(foreign.status, 404);
    let anonymous = owner
        .with_key("")
        .send(
            Method::POST,
            "/v1/admin/tenants/acme/flows/main/graph",
            None,
            &[],
        )
        .await;
    assert_eq!(anonymous.status, 401);
    let unknown = owner
        .send(
            Method::POST,
            "/v1/admin/tenants/acme/flows/nope/graph",
            None,
            &[],
        )
        .await;
    assert_eq!(unknown.status, 404);
    node.shutdown().await;
}
