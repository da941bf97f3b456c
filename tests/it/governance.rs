//! Governance of model spend over real sockets and databases: a hard budget stops calls
//! before any request reaches the upstream and the user gets the tenant's message; two
//! nodes racing for the last credits overspend by at most one reservation; threshold
//! alerts arrive once each, signed, and are retried after a 500.

use std::sync::Arc;
use std::time::Duration;

use crate::support::admin::Admin;
use crate::support::{Backend, Client, eventually, spawn_server};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard::cluster::Cluster;
use switchboard::config::{ClusterConfig, DatabaseConfig, LlmConfig};
use switchboard::governance::{Alerts, Budgets, Governor, ModelLimits};
use switchboard::llm::{CallOrigin, ChatMessage, CompletionRequest, LlmGateway, ModelPrice};
use switchboard::secret_box::SecretBox;
use switchboard::store::Store;
use switchboard::testkit::fake_openai::{FakeBehaviour, FakeOpenAi};
use switchboard::testkit::webhook_receiver::WebhookReceiver;

const WAIT: Duration = Duration::from_secs(15);

/// One micro-unit per token in and out: costs are easy to predict.
const PRICE: ModelPrice = ModelPrice {
    input: 1_000_000,
    output: 1_000_000,
};

fn priced(backend: &Backend, upstream: &FakeOpenAi) -> switchboard::config::Config {
    let mut config = backend.config();
    config.llm.base_url = upstream.base_url.clone();
    config.llm.api_key = "sk-test".into();
    config.llm.model = "gpt-test".into();
    config.llm.max_tokens = 40;
    config.llm.prices.insert("gpt-test".into(), PRICE);
    config
}

/// A client at the demo flow's question prompt.
async fn at_question(addr: std::net::SocketAddr) -> Client {
    let mut client = Client::connect(addr).await;
    client.hello("demo").await;
    client.say("Ada").await;
    client.bot_says("nice to meet you, ada").await;
    client.say("technical").await;
    client.bot_says("what would you like to know").await;
    client
}

async fn budgets(admin: &Admin) -> Value {
    admin.get("/v1/admin/tenants/demo/budgets").await.body
}

async fn hard_limit_stops_the_call_before_the_upstream(backend: Backend) {
    let upstream = FakeOpenAi::start(FakeBehaviour::tokens(["Use", " the", " reset", " link."]))
        .await
        .unwrap();
    let node = spawn_server(priced(&backend, &upstream)).await;
    let admin = Admin::operator(node.addr());
    let put = admin
        .put_json(
            "/v1/admin/tenants/demo/budgets/tenant",
            json!({"period": "day", "limit_micros": 100_000,
                   "message": "We've used today's assistant budget; a colleague will reply soon."}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["hard"], true);
    assert_eq!(put.body["thresholds"], json!([80, 100]));

    // Within the budget: answered, and the spend is the call's cost.
    let mut client = at_question(node.addr()).await;
    client.say("How do I reset my password?").await;
    client.bot_says("use the reset link").await;
    assert_eq!(upstream.request_count(), 1);
    let settled = eventually(WAIT, || {
        let admin = admin.clone();
        async move {
            let b = budgets(&admin).await;
            b[0]["spent_micros"].as_i64().unwrap_or(0) > 0 && b[0]["reserved_micros"] == 0
        }
    })
    .await;
    let listed = budgets(&admin).await;
    assert!(settled, "{listed}");
    let reported = upstream.reported_usage()[0];
    let cost = (reported.prompt_tokens + reported.completion_tokens) as i64;
    assert_eq!(listed[0]["spent_micros"], cost, "{listed}");
    assert_eq!(listed[0]["remaining_micros"], 100_000 - cost);

    // Over the limit: no request upstream; the tenant's message; the flow hands off
    // (the demo's llm state has no on_budget).
    let lowered = admin
        .put_json(
            "/v1/admin/tenants/demo/budgets/tenant",
            json!({"period": "day", "limit_micros": cost,
                   "message": "We've used today's assistant budget; a colleague will reply soon."}),
        )
        .await;
    assert_eq!(lowered.status, 200);
    client.bot_says("what would you like to know").await;
    client.say("And my e-mail?").await;
    client.bot_says("used today's assistant budget").await;
    assert_eq!(
        upstream.request_count(),
        1,
        "the upstream received no request"
    );
    let conversation = client.conversation_id.clone().unwrap();
    let shown = admin
        .get(&format!(
            "/v1/admin/tenants/demo/conversations/{conversation}"
        ))
        .await;
    assert_eq!(shown.body["status"], "handoff", "{:?}", shown.body);
    let calls = admin.get("/v1/admin/tenants/demo/usage/calls").await.body;
    let refused = eventually(WAIT, || {
        let admin = admin.clone();
        async move {
            admin.get("/v1/admin/tenants/demo/usage/calls").await.body[0]["error_code"]
                == "llm_budget_exhausted"
        }
    })
    .await;
    assert!(refused, "{calls}");
    node.shutdown().await;
}

on_both_stores!(hard_limit_stops_the_call_before_the_upstream);

/// Two nodes (two stores and gateways on one PostgreSQL database, their live counters in
/// one Redis), four callers each, call until the credits refuse them: the overspend
/// stays within one reservation, the credits are used up, every admitted call is
/// debited in the ledger, and the refused ones never reached the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_for_the_last_credits_overspend_by_at_most_one_reservation() {
    if !redis_reachable("credits racing across nodes").await {
        return;
    }
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let prefix = format!("sbt{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let upstream = FakeOpenAi::start(FakeBehaviour::tokens(["one", " two", " three"]))
        .await
        .unwrap();
    let database = DatabaseConfig {
        url: backend.url.clone(),
        ..DatabaseConfig::default()
    };
    let mut nodes = Vec::new();
    for node_id in ["node-a", "node-b"] {
        let store = Store::connect(&database).await.unwrap();
        store.migrate().await.unwrap();
        let cluster = Cluster::connect(
            &ClusterConfig {
                redis_url: REDIS_URL.into(),
                node_id: node_id.into(),
                key_prefix: prefix.clone(),
                ..ClusterConfig::default()
            },
            store.clone(),
        )
        .await
        .unwrap();
        let secrets = Arc::new(SecretBox::from_hex(&SecretBox::generate_key_hex()).unwrap());
        let alerts = Alerts::new(store.clone(), secrets);
        let budgets = Budgets::new(store.clone(), alerts, cluster.clone());
        let mut cfg = LlmConfig {
            base_url: upstream.base_url.clone(),
            api_key: "sk-test".into(),
            model: "gpt-test".into(),
            max_tokens: 10,
            ..LlmConfig::default()
        };
        cfg.prices.insert("gpt-test".into(), PRICE);
        let limits = ModelLimits::new(store.clone(), cluster);
        let gateway = LlmGateway::from_config(&cfg)
            .unwrap()
            .with_spend_guard(Arc::new(Governor {
                limits,
                budgets: budgets.clone(),
            }));
        nodes.push((store, gateway, budgets));
    }
    let store = nodes[0].0.clone();
    let budgets = nodes[0].2.clone();
    store
        .create_tenant(&switchboard::store::NewTenant {
            id: "race",
            name: "race",
            entry_flow: "demo",
            allowed_origins: &[],
            allow_private_adaptors: false,
            llm_model: None,
        })
        .await
        .unwrap();
    store
        .put_budget(&switchboard::store::BudgetRow {
            tenant_id: "race".into(),
            flow_id: String::new(),
            period: "credits".into(),
            limit_micros: None,
            hard: 1,
            credit_micros: 0,
            thresholds: "[]".into(),
            message: None,
            updated_at: 0,
            updated_by: "test".into(),
        })
        .await
        .unwrap();
    const CREDITS: i64 = 200;
    store
        .top_up("race", CREDITS, "operator", Some("test"))
        .await
        .unwrap();

    fn request() -> CompletionRequest {
        let mut req = CompletionRequest::new(vec![ChatMessage::user("count to three")]);
        req.origin = CallOrigin {
            tenant_id: "race".into(),
            ..CallOrigin::default()
        };
        req
    }
    // "count to three" is 14 characters: 4 estimated tokens, reserved twice over, plus
    // max_tokens 10: 18 micro-units per reservation.
    const RESERVATION: i64 = 18;
    // Four callers per node, each calling until the credits refuse it.
    let mut tasks = Vec::new();
    for (_, gateway, _) in &nodes {
        for _ in 0..4 {
            let gateway = gateway.clone();
            tasks.push(tokio::spawn(async move {
                use futures_util::StreamExt;
                let mut admitted = 0;
                loop {
                    match gateway.stream(request()).await {
                        Ok(stream) => {
                            let _: Vec<_> = stream.collect().await;
                            admitted += 1;
                        }
                        Err(switchboard::llm::LlmError::BudgetExhausted { .. }) => return admitted,
                        Err(other) => panic!("unexpected {other}"),
                    }
                    assert!(admitted < 100, "the credits never ran out");
                }
            }));
        }
    }
    let mut admitted = 0;
    for task in tasks {
        admitted += task.await.unwrap();
    }
    // A racer gives up at its first refusal, which may come while others still hold
    // reservations that then settle for less. Alone now, one more caller takes what is
    // left, until no reservation fits (once every reservation has settled).
    let all_settled = || {
        let store = store.clone();
        let budgets = budgets.clone();
        async move {
            let live = budgets.live("race", "", "credits").await;
            let durable = store.spend("race", "", "credits").await.unwrap();
            live.is_some_and(|(spent, reserved)| reserved == 0 && spent == durable.spent_micros)
        }
    };
    assert!(
        eventually(WAIT, all_settled).await,
        "the racers' calls settled"
    );
    loop {
        use futures_util::StreamExt;
        match nodes[1].1.stream(request()).await {
            Ok(stream) => {
                let _: Vec<_> = stream.collect().await;
                admitted += 1;
            }
            Err(switchboard::llm::LlmError::BudgetExhausted { .. }) => break,
            Err(other) => panic!("unexpected {other}"),
        }
        assert!(admitted < 100, "the credits never ran out");
    }
    assert_eq!(
        upstream.request_count(),
        admitted,
        "refused calls never reached it"
    );
    assert!(admitted >= 1, "admitted {admitted}");
    let settled = eventually(WAIT, all_settled).await;
    assert!(
        settled,
        "every reservation settled, in Redis and in the database"
    );
    let spend = store.spend("race", "", "credits").await.unwrap();
    // The fake reports 3 words + 3 prompt tokens (one message) and 3 completion tokens.
    let per_call = 9;
    assert_eq!(spend.spent_micros, per_call * admitted as i64);
    assert!(
        spend.spent_micros <= CREDITS + RESERVATION,
        "spent {} of {CREDITS} credits: more than one reservation over",
        spend.spent_micros
    );
    // And the credits were used: the last refusals came when no reservation fit.
    assert!(
        spend.spent_micros > CREDITS - RESERVATION - per_call,
        "spent only {} of {CREDITS}",
        spend.spent_micros
    );
    let ledger = store.credit_ledger("race", 500).await.unwrap();
    let debits: i64 = ledger
        .iter()
        .filter(|r| r.kind == "debit")
        .map(|r| r.amount_micros)
        .sum();
    assert_eq!(debits, -spend.spent_micros);
    assert_eq!(ledger.iter().filter(|r| r.kind == "topup").count(), 1);
}

/// Each threshold's alert arrives once, signed with the hook's secret, and a delivery
/// answered with 500 is retried with the same delivery id.
async fn threshold_alerts_arrive_once_signed_and_are_retried_after_a_500(backend: Backend) {
    let upstream = FakeOpenAi::start(FakeBehaviour::tokens(["Use", " the", " reset", " link."]))
        .await
        .unwrap();
    let receiver = WebhookReceiver::start().await.unwrap();
    receiver.answer_with([500]);
    let node = spawn_server(priced(&backend, &upstream)).await;
    let admin = Admin::operator(node.addr());
    let hook = admin
        .post(
            "/v1/admin/tenants/demo/alert-hooks",
            json!({"url": receiver.url, "events": ["budget.threshold"]}),
        )
        .await;
    // The demo tenant may not call private addresses: its hook is refused at once.
    assert_eq!(hook.status, 400, "{:?}", hook.body);
    let owner = admin.tenant_with_owner("acme", "demo").await; // allows private addresses
    let acme = admin.with_key(&owner);
    let hook = acme
        .post(
            "/v1/admin/tenants/acme/alert-hooks",
            json!({"url": receiver.url, "events": ["budget.threshold", "budget.exhausted"]}),
        )
        .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);
    let secret = hook.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let listed = acme.get("/v1/admin/tenants/acme/alert-hooks").await;
    assert!(
        !listed.body.to_string().contains(&secret),
        "the secret is shown once"
    );
    let bad = acme
        .post(
            "/v1/admin/tenants/acme/alert-hooks",
            json!({"url": receiver.url, "events": ["budget.nope"]}),
        )
        .await;
    assert_eq!(bad.status, 400);

    // A tiny daily budget with two thresholds, soft (alerts only), so calls go on.
    let put = acme
        .put_json(
            "/v1/admin/tenants/acme/budgets/tenant",
            json!({"period": "day", "limit_micros": 40, "hard": false, "thresholds": [10, 20]}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    // Two calls through the gateway as tenant acme (the admin API's simulate uses the
    // offline model, so drive the node's gateway through a conversation of acme).
    let flow =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/demo.yaml")).unwrap();
    acme.publish_flow("acme", "demo", &flow).await;
    for question in ["How do I reset my password?", "And my e-mail?"] {
        let mut client = Client::connect(node.addr()).await;
        client.hello("acme").await;
        client.say("Ada").await;
        client.bot_says("nice to meet you, ada").await;
        client.say("technical").await;
        client.bot_says("what would you like to know").await;
        client.say(question).await;
        client.bot_says("use the reset link").await;
    }
    let delivered = eventually(Duration::from_secs(20), || {
        let acme = acme.clone();
        async move {
            let d = acme
                .get("/v1/admin/tenants/acme/alert-deliveries")
                .await
                .body;
            d.as_array()
                .is_some_and(|d| d.len() == 2 && d.iter().all(|x| x["status"] == "delivered"))
        }
    })
    .await;
    let deliveries = acme
        .get("/v1/admin/tenants/acme/alert-deliveries")
        .await
        .body;
    assert!(delivered, "{deliveries}");

    let received = receiver.received();
    let mut by_threshold = std::collections::BTreeMap::<i64, Vec<String>>::new();
    for request in &received {
        let header = |name: &str| request.headers.get(name).cloned().unwrap_or_default();
        assert_eq!(header("x-switchboard-event"), "budget.threshold");
        let signature = header("x-switchboard-signature");
        let (t, v1) = signature
            .split_once(",v1=")
            .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v)))
            .expect("t=…,v1=…");
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{}", request.body).as_bytes());
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            v1,
            "signed with the hook's secret"
        );
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body["type"], "budget.threshold");
        assert_eq!(body["tenant"], "acme");
        by_threshold
            .entry(body["data"]["threshold_percent"].as_i64().unwrap())
            .or_default()
            .push(header("x-switchboard-delivery"));
    }
    assert_eq!(
        by_threshold.keys().copied().collect::<Vec<_>>(),
        [10, 20],
        "{received:?}"
    );
    let attempts: Vec<usize> = by_threshold.values().map(Vec::len).collect();
    assert_eq!(
        attempts.iter().sum::<usize>(),
        3,
        "one 500, retried once: {received:?}"
    );
    for ids in by_threshold.values() {
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "a retry keeps its delivery id"
        );
    }
    assert_eq!(received[0].status, 500);
    node.shutdown().await;
}

on_both_stores!(threshold_alerts_arrive_once_signed_and_are_retried_after_a_500);

const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Whether the local Redis answers; outside CI a test that needs it is skipped.
async fn redis_reachable(what: &str) -> bool {
    let reachable = tokio::time::timeout(Duration::from_secs(3), async {
        redis::Client::open(REDIS_URL)?
            .get_multiplexed_async_connection()
            .await
    })
    .await;
    if matches!(reachable, Ok(Ok(_))) {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "CI=true but Redis at {REDIS_URL} is unreachable");
    eprintln!("SKIPPED: {what} (no Redis at {REDIS_URL})");
    false
}

/// Waits, if needed, so the next few seconds stay inside one minute (per-minute limits
/// reset on the minute).
async fn well_inside_a_minute() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let into = now % 60_000;
    if into > 45_000 {
        tokio::time::sleep(Duration::from_millis(60_000 - into + 100)).await;
    }
}

/// One request a minute for the tenant: the second question gets the tenant's message
/// and never reaches the upstream; the flow goes on (`on_error`, else `next`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_request_rate_gets_the_message_and_the_upstream_nothing() {
    let upstream = FakeOpenAi::start(FakeBehaviour::tokens(["Use", " the", " reset", " link."]))
        .await
        .unwrap();
    let backend = Backend::sqlite();
    let node = spawn_server(priced(&backend, &upstream)).await;
    let admin = Admin::operator(node.addr());
    let put = admin
        .put_json(
            "/v1/admin/tenants/demo/model-limits",
            json!({"requests_per_minute": 1, "message": "Lots of questions right now, try again in a minute."}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["on_limit"], "message");
    let owner = admin.key_for("demo", "owner").await;
    let refused = admin
        .with_key(&owner)
        .put_json(
            "/v1/admin/tenants/demo/model-limits",
            json!({"requests_per_minute": 100}),
        )
        .await;
    assert_eq!(refused.status, 403, "only the operator sets them");

    well_inside_a_minute().await;
    let mut client = at_question(node.addr()).await;
    client.say("How do I reset my password?").await;
    client.bot_says("use the reset link").await;
    client.bot_says("what would you like to know").await;
    client.say("And my e-mail?").await;
    client.bot_says("lots of questions right now").await;
    assert_eq!(upstream.request_count(), 1);
    node.shutdown().await;
}

/// The limit holds across two nodes: two rate limiters sharing Redis admit N calls in a
/// minute between them, not N each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_rate_of_n_per_minute_holds_across_two_nodes() {
    if !redis_reachable("rate limits across nodes").await {
        return;
    }
    let backend = Backend::sqlite();
    let store = Store::connect(&DatabaseConfig {
        url: backend.url.clone(),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store
        .put_model_limits(&switchboard::store::ModelLimitsRow {
            tenant_id: "shop".into(),
            requests_per_minute: Some(5),
            tokens_per_minute: None,
            on_limit: "message".into(),
            max_wait_ms: 0,
            message: None,
            updated_at: 0,
            updated_by: "test".into(),
        })
        .await
        .unwrap();
    let prefix = format!("sbt{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let mut limiters = Vec::new();
    for node in ["node-a", "node-b"] {
        let config = ClusterConfig {
            redis_url: REDIS_URL.into(),
            node_id: node.into(),
            key_prefix: prefix.clone(),
            ..ClusterConfig::default()
        };
        let cluster = Cluster::connect(&config, store.clone()).await.unwrap();
        limiters.push(ModelLimits::new(store.clone(), cluster));
    }
    well_inside_a_minute().await;
    let mut tasks = Vec::new();
    for limiter in &limiters {
        for _ in 0..10 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move { limiter.admit("shop", 10).await }));
        }
    }
    let mut admitted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Some(_)) => admitted += 1,
            Err(switchboard::llm::LlmError::TenantRateLimited { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(admitted, 5, "5 in total across both nodes, not 5 each");
}

/// A tenant brings its own provider and key: its conversations go there with its key,
/// the key is never shown again, other tenants keep the operator's model, and a base URL
/// the tenant's network policy refuses is refused when saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_brings_its_own_provider_and_key() {
    let operator_upstream = FakeOpenAi::start(FakeBehaviour::tokens(["Operator", " model."]))
        .await
        .unwrap();
    let own_upstream = FakeOpenAi::start(FakeBehaviour::tokens(["Your", " own", " model."]))
        .await
        .unwrap();
    let backend = Backend::sqlite();
    let node = spawn_server(priced(&backend, &operator_upstream)).await;
    let admin = Admin::operator(node.addr());
    let owner = admin.tenant_with_owner("acme", "demo").await; // allows private addresses
    let acme = admin.with_key(&owner);
    let flow =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/demo.yaml")).unwrap();
    acme.publish_flow("acme", "demo", &flow).await;

    let put = acme
        .put_json(
            "/v1/admin/tenants/acme/model-providers/own",
            json!({"kind": "openai", "base_url": own_upstream.base_url, "api_key": "sk-acme-own-key"}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["has_key"], true);
    let route = acme
        .put_json(
            "/v1/admin/tenants/acme/model-routes/default",
            json!({"targets": ["own:gpt-acme"]}),
        )
        .await;
    assert_eq!(route.status, 200, "{:?}", route.body);
    let listed = acme.get("/v1/admin/tenants/acme/model-providers").await;
    assert!(
        !listed.body.to_string().contains("sk-acme-own-key"),
        "never returned"
    );
    let bad = acme
        .put_json(
            "/v1/admin/tenants/acme/model-routes/x",
            json!({"targets": ["nowhere:m"]}),
        )
        .await;
    assert_eq!(bad.status, 400);

    // The operator charges acme its own price for that model.
    let priced = admin
        .put_json(
            "/v1/admin/tenants/acme/model-prices",
            json!({"gpt-acme": {"input": 1_000_000, "output": 2_000_000}}),
        )
        .await;
    assert_eq!(priced.status, 200, "{:?}", priced.body);
    let by_owner = acme
        .put_json(
            "/v1/admin/tenants/acme/model-prices",
            json!({"gpt-acme": {"input": 0, "output": 0}}),
        )
        .await;
    assert_eq!(by_owner.status, 403, "prices are the operator's");

    let mut client = Client::connect(node.addr()).await;
    client.hello("acme").await;
    client.say("Ada").await;
    client.bot_says("nice to meet you, ada").await;
    client.say("technical").await;
    client.bot_says("what would you like to know").await;
    client.say("Which model are you?").await;
    client.bot_says("your own model").await;
    assert_eq!(own_upstream.requests()[0]["model"], "gpt-acme");
    assert_eq!(own_upstream.authorizations(), ["Bearer sk-acme-own-key"]);
    assert_eq!(operator_upstream.request_count(), 0);
    let usage = own_upstream.reported_usage()[0];
    let expected = (usage.prompt_tokens + 2 * usage.completion_tokens) as i64;
    let charged = eventually(WAIT, || {
        let acme = acme.clone();
        async move {
            let calls = acme.get("/v1/admin/tenants/acme/usage/calls").await.body;
            calls[0]["cost_micros"] == expected
        }
    })
    .await;
    assert!(charged, "charged at acme's own price");

    // The demo tenant still talks to the operator's model, with the operator's key.
    let mut other = at_question(node.addr()).await;
    other.say("Which model are you?").await;
    other.bot_says("operator model").await;
    assert_eq!(operator_upstream.authorizations(), ["Bearer sk-test"]);
    assert_eq!(own_upstream.request_count(), 1);

    // A tenant that may not reach private addresses cannot point a provider at one.
    let demo_owner = admin.key_for("demo", "owner").await;
    let refused = admin
        .with_key(&demo_owner)
        .put_json(
            "/v1/admin/tenants/demo/model-providers/mine",
            json!({"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"}),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    node.shutdown().await;
}

/// In a cluster a breaker that opens on one node opens on the other: its calls go to
/// the fallback without touching the failing upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_opened_on_one_node_is_open_on_the_other() {
    if !redis_reachable("shared breakers").await {
        return;
    }
    let primary = FakeOpenAi::start(FakeBehaviour::Error {
        status: 503,
        message: "down".into(),
    })
    .await
    .unwrap();
    let spare = FakeOpenAi::start(FakeBehaviour::tokens(["spare"]))
        .await
        .unwrap();
    let backend = Backend::sqlite();
    let store = Store::connect(&DatabaseConfig {
        url: backend.url.clone(),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let prefix = format!("sbt{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let mut cfg = LlmConfig {
        base_url: primary.base_url.clone(),
        api_key: "sk-test".into(),
        model: "gpt-test".into(),
        ..LlmConfig::default()
    };
    cfg.providers.insert(
        "spare".into(),
        switchboard::config::ProviderConfig {
            kind: "openai".into(),
            base_url: spare.base_url.clone(),
            ..Default::default()
        },
    );
    cfg.routes.insert(
        "main".into(),
        vec!["default:gpt-test".into(), "spare:gpt-spare".into()],
    );
    cfg.route = "main".into();
    let mut gateways = Vec::new();
    for node_id in ["node-a", "node-b"] {
        let cluster = Cluster::connect(
            &ClusterConfig {
                redis_url: REDIS_URL.into(),
                node_id: node_id.into(),
                key_prefix: prefix.clone(),
                ..ClusterConfig::default()
            },
            store.clone(),
        )
        .await
        .unwrap();
        let gateway = LlmGateway::from_config(&cfg).unwrap();
        switchboard::governance::shared_breakers::share(cluster.node().unwrap(), &gateway);
        gateways.push((cluster, gateway));
    }
    let ask = |gateway: &LlmGateway| {
        let gateway = gateway.clone();
        async move {
            use futures_util::StreamExt;
            let stream = gateway
                .stream(CompletionRequest::new(vec![ChatMessage::user("hi")]))
                .await
                .unwrap();
            stream.map(|r| r.unwrap()).collect::<String>().await
        }
    };
    for _ in 0..5 {
        assert_eq!(ask(&gateways[0].1).await, "spare");
    }
    assert_eq!(primary.request_count(), 5);
    let followed = eventually(WAIT, || {
        let status = gateways[1].1.status();
        async move {
            status
                .breakers
                .iter()
                .any(|b| b.provider == "default" && b.state == "open")
        }
    })
    .await;
    assert!(followed, "node b follows node a's breaker");
    assert_eq!(ask(&gateways[1].1).await, "spare");
    assert_eq!(
        primary.request_count(),
        5,
        "node b never called the failing upstream"
    );
}

/// Storing the same metered calls twice (a retry after a commit whose answer was lost)
/// stores and sums them once.
async fn metering_is_idempotent(backend: Backend) {
    let store = Store::connect(&DatabaseConfig {
        url: backend.url.clone(),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let call = switchboard::llm::ModelCall {
        id: "call-1".into(),
        origin: CallOrigin {
            tenant_id: "shop".into(),
            ..CallOrigin::default()
        },
        kind: switchboard::llm::usage::CallKind::Chat,
        provider: "default".into(),
        model: "gpt-test".into(),
        attempt: 1,
        outcome: switchboard::llm::usage::CallOutcome::Ok,
        error_code: None,
        usage: switchboard::llm::usage::Usage {
            tokens_in: 10,
            tokens_out: 5,
        },
        usage_source: switchboard::llm::usage::UsageSource::Provider,
        first_token_ms: Some(3),
        latency_ms: 9,
        cost_micros: 42,
        started_at: switchboard::store::now_ms(),
    };
    store
        .record_model_calls(std::slice::from_ref(&call))
        .await
        .unwrap();
    store
        .record_model_calls(&[call.clone(), call])
        .await
        .unwrap();
    let today = switchboard::store::now_ms() / switchboard::store::DAY_MS;
    let total = store.usage_total("shop", today, today).await.unwrap();
    assert_eq!(
        (total.calls, total.tokens_in, total.cost_micros),
        (1, 10, 42)
    );
    assert_eq!(store.model_calls("shop", None, 10).await.unwrap().len(), 1);
}

on_both_stores!(metering_is_idempotent);
