//! The shipped example flows, end to end over the WebSocket protocol and through the
//! simulate endpoint: order status against a fake shop API (adaptor success, 5xx,
//! timeout, private-address refusal), support triage with a human handoff, and lead
//! capture with LLM extraction.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::admin::Admin;
use crate::support::{Backend, Client, spawn_server};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

const SHOP_SECRET: &str = "shop-secret-token";

fn flow_source(name: &str) -> String {
    std::fs::read_to_string(format!("{}/flows/{name}.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A shop API on 127.0.0.1:0 that checks the bearer token and counts requests.
async fn fake_shop() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        App::new().route(
            "/orders/{id}",
            web::get().to(move |req: HttpRequest, id: web::Path<String>| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
                    if auth != Some(&format!("Bearer {SHOP_SECRET}")) {
                        return HttpResponse::Unauthorized().finish();
                    }
                    match id.as_str() {
                        "AB-12345" => HttpResponse::Ok()
                            .json(json!({"status": "shipped", "shipping": {"carrier": "DHL", "eta": "2026-11-25"}})),
                        "CD-2222" => HttpResponse::Ok().json(json!({"status": "processing"})),
                        "TT-9999" => {
                            tokio::time::sleep(Duration::from_secs(10)).await;
                            HttpResponse::Ok().json(json!({"status": "shipped"}))
                        }
                        _ => HttpResponse::InternalServerError().body("boom"),
                    }
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{addr}"), hits)
}

fn order_adaptor(shop: &str) -> Value {
    json!({
        "spec": {
            "method": "GET",
            "url": format!("{shop}/orders/{{{{ order_id }}}}"),
            "auth": {"type": "bearer"},
            "timeout_ms": 5000,
            "response": {"status": "/status", "carrier": "/shipping/carrier", "eta": "/shipping/eta"}
        },
        "secret": SHOP_SECRET
    })
}

async fn order_lookup(addr: std::net::SocketAddr, order_id: &str) -> Client {
    let mut client = Client::connect(addr).await;
    client.hello("shop").await;
    client.bot_says("what's your order number").await;
    client.say(order_id).await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_status_calls_the_shop_api_and_takes_on_error_on_failures() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let (shop, hits) = fake_shop().await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("shop", "order_status").await);

    // The flow refers to an adaptor the tenant lacks: publishing is refused.
    owner
        .put_yaml(
            "/v1/admin/tenants/shop/flows/order_status",
            &flow_source("order_status"),
        )
        .await;
    let refused = owner
        .post(
            "/v1/admin/tenants/shop/flows/order_status/publish",
            json!({}),
        )
        .await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert!(refused.body.to_string().contains("unknown-adaptor"));

    let put = owner
        .put_json(
            "/v1/admin/tenants/shop/adaptors/order_status",
            order_adaptor(&shop),
        )
        .await;
    assert_eq!(put.status, 201, "{:?}", put.body);
    assert_eq!(put.body["has_secret"], true);
    assert!(
        !put.body.to_string().contains(SHOP_SECRET),
        "the secret is never returned"
    );
    let one = owner
        .get("/v1/admin/tenants/shop/adaptors/order_status")
        .await;
    assert_eq!(
        (one.status, one.body["has_secret"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(one.body["spec"]["auth"]["type"], "bearer");
    // Updating without `secret` keeps it.
    let kept = owner
        .put_json(
            "/v1/admin/tenants/shop/adaptors/order_status",
            json!({"spec": order_adaptor(&shop)["spec"]}),
        )
        .await;
    assert_eq!(
        (kept.status, kept.body["has_secret"].as_bool()),
        (200, Some(true))
    );
    let scratch = owner
        .put_json(
            "/v1/admin/tenants/shop/adaptors/scratch",
            json!({"spec": order_adaptor(&shop)["spec"]}),
        )
        .await;
    assert_eq!(
        (scratch.status, scratch.body["has_secret"].as_bool()),
        (201, Some(false))
    );
    assert_eq!(
        owner
            .delete("/v1/admin/tenants/shop/adaptors/scratch")
            .await
            .status,
        204
    );
    assert_eq!(
        owner
            .get("/v1/admin/tenants/shop/adaptors/scratch")
            .await
            .status,
        404
    );
    let listed = owner.get("/v1/admin/tenants/shop/adaptors").await;
    assert!(!listed.body.to_string().contains(SHOP_SECRET));
    owner
        .publish_flow("shop", "order_status", &flow_source("order_status"))
        .await;

    // Success: the mapped response reaches the user.
    let mut client = order_lookup(node.addr(), "AB-12345").await;
    client
        .bot_says("has shipped with DHL and should arrive by 2026-11-25")
        .await;
    client.assert_gap_free();
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // 5xx: the flow's on_error path.
    let mut client = order_lookup(node.addr(), "ZZ-5000").await;
    client.bot_says("couldn't look up order zz-5000").await;

    // Timeout: on_error within the call's timeout (3 s in the flow), not the shop's 10 s.
    let started = Instant::now();
    let mut client = order_lookup(node.addr(), "TT-9999").await;
    client.bot_says("couldn't look up order tt-9999").await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    client.say("yes").await;
    client
        .bot_says("connecting you with our order team about tt-9999")
        .await;

    // Private addresses: refused at validation for a tenant without the permission…
    let strict = operator.with_key(&{
        let created = operator
            .post(
                "/v1/admin/tenants",
                json!({"id": "strict", "name": "Strict", "entry_flow": "order_status"}),
            )
            .await;
        assert_eq!(created.status, 201);
        operator.key_for("strict", "owner").await
    });
    let refused = strict
        .put_json(
            "/v1/admin/tenants/strict/adaptors/order_status",
            order_adaptor(&shop),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (422, "validation_failed"),
        "{:?}",
        refused.body
    );
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.8/x",
        "http://[::1]/x",
        "http://localhost/x",
    ] {
        let body = json!({"spec": {"method": "GET", "url": url}});
        assert_eq!(
            strict
                .put_json("/v1/admin/tenants/strict/adaptors/x", body)
                .await
                .status,
            422,
            "{url}"
        );
    }
    // …and at call time once the operator withdraws it: no request reaches the shop.
    node.runtime()
        .services()
        .store
        .set_allow_private_adaptors("shop", false)
        .await
        .unwrap();
    let before = hits.load(Ordering::SeqCst);
    let mut client = order_lookup(node.addr(), "AB-12345").await;
    client.bot_says("couldn't look up order ab-12345").await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before,
        "the refused call never reached the shop"
    );

    // Simulate: stubbed adaptor, same flow.
    let simulated = owner
        .post(
            "/v1/admin/tenants/shop/simulate",
            json!({
                "flow": "order_status",
                "turns": ["nope", "CD-2222"],
                "adaptor_stubs": {"order_status": {"result": {"status": "processing"}}}
            }),
        )
        .await;
    assert_eq!(simulated.status, 200, "{:?}", simulated.body);
    let texts: Vec<&str> = simulated.body["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("That doesn't look like an order number")),
        "{texts:?}"
    );
    assert_eq!(
        *texts.last().unwrap(),
        "Order CD-2222 is being prepared and will ship in the next few days."
    );
    assert_eq!(simulated.body["status"], "ended");
    let failing = owner
        .post(
            "/v1/admin/tenants/shop/simulate",
            json!({
                "source": flow_source("order_status"), "turns": ["AB-12345"],
                "adaptor_stubs": {"order_status": {"error": "timeout"}}
            }),
        )
        .await;
    assert!(
        failing.body["transcript"]
            .to_string()
            .contains("couldn't look up order AB-12345"),
        "{:?}",
        failing.body
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_triage_hands_off_to_a_human_and_back() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("help", "support_triage").await);
    owner
        .publish_flow("help", "support_triage", &flow_source("support_triage"))
        .await;

    let mut client = Client::connect(node.addr()).await;
    client.hello("help").await;
    client.bot_says("what is your problem about").await;
    client.say("Billing").await;
    client.bot_says("describe the problem").await;
    client.say("I was charged twice in October").await;
    client
        .bot_says("connecting you with our billing team")
        .await;
    let conversation = client.conversation_id.clone().unwrap();

    // In human mode the bot is silent: the user's message is stored, nothing answers it.
    client.say("Hello? Anyone there?").await;
    // The user's own message frame may come before or after the ack.
    if !client
        .messages()
        .iter()
        .any(|f| f["text"] == "Hello? Anyone there?")
    {
        client
            .until(|f| f["type"] == "message" && f["text"] == "Hello? Anyone there?")
            .await;
    }
    assert!(
        client.try_recv(Duration::from_millis(500)).await.is_none(),
        "the bot stays silent"
    );
    let handed = owner
        .get("/v1/admin/tenants/help/conversations?status=handoff")
        .await;
    assert_eq!(
        handed.body[0]["id"],
        conversation.as_str(),
        "{:?}",
        handed.body
    );

    // A human answers through the admin API; the user sees an `agent` message.
    let sent = owner
        .post(
            &format!("/v1/admin/tenants/help/conversations/{conversation}/messages"),
            json!({"text": "Hi, I'm Sam from billing. Refund on its way."}),
        )
        .await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    let agent = client
        .until(|f| f["type"] == "message" && f["role"] == "agent")
        .await;
    assert_eq!(
        agent["text"],
        "Hi, I'm Sam from billing. Refund on its way."
    );

    // Release: the flow resumes after the handoff.
    let released = owner
        .post(
            &format!("/v1/admin/tenants/help/conversations/{conversation}/release"),
            Value::Null,
        )
        .await;
    assert_eq!(released.status, 204, "{:?}", released.body);
    client.bot_says("thanks for contacting support").await;
    client.assert_gap_free();
    let again = owner
        .post(
            &format!("/v1/admin/tenants/help/conversations/{conversation}/release"),
            Value::Null,
        )
        .await;
    assert_eq!((again.status, again.code()), (409, "conflict"));
    let transcript = owner
        .get(&format!(
            "/v1/admin/tenants/help/conversations/{conversation}"
        ))
        .await;
    assert_eq!(transcript.body["status"], "ended");
    assert!(
        transcript.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"] == "Hello? Anyone there?")
    );

    // A global interrupt: "agent" at any question.
    let mut other = Client::connect(node.addr()).await;
    other.hello("help").await;
    other.bot_says("what is your problem about").await;
    other.say("agent").await;
    other.bot_says("connecting you with a person").await;

    let simulated = owner
        .post(
            "/v1/admin/tenants/help/simulate",
            json!({"flow": "support_triage", "turns": ["password", "I forgot it", "yes"]}),
        )
        .await;
    assert_eq!(
        simulated.body["transcript"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["text"],
        "Glad I could help. Have a great day!"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lead_capture_extracts_and_asks_only_for_what_is_missing() {
    let backend = Backend::sqlite();
    let node = spawn_server(backend.config()).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("sales", "lead_capture").await);
    owner
        .publish_flow("sales", "lead_capture", &flow_source("lead_capture"))
        .await;

    // Everything in one message: nothing more is asked.
    let mut client = Client::connect(node.addr()).await;
    client.hello("sales").await;
    client.bot_says("tell me a bit about yourself").await;
    client
        .say("Hi, I'm Grace Hopper, grace@navy.example, we are 120 people")
        .await;
    client
        .bot_says("thanks grace hopper! we'll write to grace@navy.example about your team of 120. a member of our sales team")
        .await;
    client.assert_gap_free();

    // Partial: the missing email is asked for and validated, then the size.
    let mut client = Client::connect(node.addr()).await;
    client.hello("sales").await;
    client.bot_says("tell me a bit about yourself").await;
    client.say("My name is Alan and I run a small shop").await;
    client
        .bot_says("thanks, alan! what's your email address")
        .await;
    client.say("alan at example").await;
    client.bot_says("doesn't look like an email address").await;
    client.say("alan@example.com").await;
    client
        .bot_says("how many people work at your company")
        .await;
    client.say("12").await;
    client.bot_says("our getting-started guide").await;

    let simulated = owner
        .post(
            "/v1/admin/tenants/sales/simulate",
            json!({"flow": "lead_capture", "turns": ["I'm Ada, ada@example.org, 75 people"]}),
        )
        .await;
    assert_eq!(
        simulated.body["slots"]["qualified"], true,
        "{:?}",
        simulated.body
    );
    assert_eq!(simulated.body["slots"]["company_size"], 75);
    node.shutdown().await;
}
