//! Cluster mode, for real: several `switchboard` processes on loopback, one PostgreSQL
//! database and the local Redis, as in production. Each test gets its own database and
//! its own Redis key prefix. The tests run one at a time (one of them pauses Redis for
//! everyone). Without Redis or PostgreSQL they are skipped with a message, except with
//! `CI=true`, where that is a failure.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::admin::{Admin, BOOTSTRAP_KEY};
use crate::support::client::Client;
use crate::support::process::NodeProcess;
use crate::support::{Backend, eventually};
use serde_json::{Value, json};
use switchboard::actors::Opening;
use switchboard::store::{NewEvent, Store, StoreError};
use switchboard::testkit::fake_whatsapp::FakeWhatsapp;
use switchboard::transcript::{MessageMeta, Role};
use switchboard::turn::Source;

const REDIS_URL: &str = "redis://127.0.0.1:6379";
const LEASE_TTL_MS: u64 = 2_000;
const HEARTBEAT_MS: u64 = 300;
const TENANT: &str = "demo";

/// Cluster tests share Redis (one pauses it): they take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A Redis connection for the test itself, or `None` (skip) outside CI.
async fn redis() -> Option<redis::aio::MultiplexedConnection> {
    let connected = async {
        redis::Client::open(REDIS_URL)?
            .get_multiplexed_async_connection()
            .await
    };
    match tokio::time::timeout(Duration::from_secs(3), connected).await {
        Ok(Ok(conn)) => Some(conn),
        failure => {
            assert!(
                !in_ci(),
                "CI=true but Redis at {REDIS_URL} is unreachable: {failure:?}"
            );
            eprintln!("SKIPPED: cluster tests (no Redis at {REDIS_URL})");
            None
        }
    }
}

/// The shared setting of one test's cluster.
struct Cluster {
    database_url: String,
    key_prefix: String,
    _backend: Backend,
}

impl Cluster {
    async fn new() -> Option<(Self, redis::aio::MultiplexedConnection)> {
        let redis = redis().await?;
        let backend = Backend::postgres().await?;
        Some((
            Self {
                database_url: backend.url.clone(),
                key_prefix: format!("sbt{}", &uuid::Uuid::new_v4().simple().to_string()[..10]),
                _backend: backend,
            },
            redis,
        ))
    }

    /// Starts a node process and waits until it is ready.
    async fn start(&self, name: &str) -> NodeProcess {
        self.start_with(name, &[]).await
    }

    /// Starts a node with extra configuration (environment variables).
    async fn start_with(&self, name: &str, extra: &[(&str, String)]) -> NodeProcess {
        let mut env: Vec<(&str, String)> = vec![
            ("SWITCHBOARD__SERVER__WORKERS", "1".into()),
            ("SWITCHBOARD__DATABASE__URL", self.database_url.clone()),
            ("SWITCHBOARD__CLUSTER__REDIS_URL", REDIS_URL.into()),
            ("SWITCHBOARD__CLUSTER__NODE_ID", name.into()),
            ("SWITCHBOARD__CLUSTER__KEY_PREFIX", self.key_prefix.clone()),
            (
                "SWITCHBOARD__CLUSTER__LEASE_TTL_MS",
                LEASE_TTL_MS.to_string(),
            ),
            (
                "SWITCHBOARD__CLUSTER__HEARTBEAT_INTERVAL_MS",
                HEARTBEAT_MS.to_string(),
            ),
            ("SWITCHBOARD__CLUSTER__FORWARD_TIMEOUT_MS", "2000".into()),
            (
                "SWITCHBOARD__CLUSTER__VISITOR_MESSAGES_PER_SECOND",
                "1000".into(),
            ),
            ("SWITCHBOARD__ADMIN__BOOTSTRAP_KEY", BOOTSTRAP_KEY.into()),
            (
                "SWITCHBOARD__SECURITY__VISITOR_TOKEN_SECRET",
                "cluster-test-visitor-token-secret-0123456789".into(),
            ),
            ("SWITCHBOARD__SECURITY__SECRETS_KEY", "ab".repeat(32)),
            (
                "SWITCHBOARD__DEMO__FLOWS_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cluster_flows").into(),
            ),
            ("SWITCHBOARD__DEMO__ENTRY_FLOW", "echo".into()),
        ];
        env.extend(extra.iter().cloned());
        NodeProcess::start(name, &env).await
    }
}

impl Drop for Cluster {
    /// Leaves nothing of this test in Redis.
    fn drop(&mut self) {
        let Ok(mut redis) = redis::Client::open(REDIS_URL).and_then(|c| c.get_connection()) else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.key_prefix))
            .query(&mut redis)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut redis);
        }
    }
}

/// Which node holds the conversation's lease, according to `cluster status`.
async fn owner_of(admin: &Admin, conversation_id: &str) -> Vec<(String, i64)> {
    let status = admin.get("/v1/admin/cluster").await;
    assert_eq!(status.status, 200, "{}", status.body);
    let mut owners = Vec::new();
    for node in status.body["nodes"].as_array().unwrap() {
        for lease in node["leases"].as_array().unwrap() {
            if lease["id"] == conversation_id {
                owners.push((
                    node["node_id"].as_str().unwrap().to_string(),
                    lease["fence"].as_i64().unwrap(),
                ));
            }
        }
    }
    owners
}

/// The single owner of the conversation once the registry shows exactly one (nodes
/// publish their leases with every heartbeat).
async fn settled_owner(admin: &Admin, conversation_id: &str) -> (String, i64) {
    let mut owners = Vec::new();
    let settled = eventually(Duration::from_secs(5), || {
        let admin = admin.clone();
        let conversation_id = conversation_id.to_string();
        async move { owner_of(&admin, &conversation_id).await.len() == 1 }
    })
    .await;
    if settled {
        owners = owner_of(admin, conversation_id).await;
    }
    assert_eq!(owners.len(), 1, "exactly one owner: {owners:?}");
    owners.remove(0)
}

/// The stored transcript of the demo tenant's conversation: (seq, role, text) in order.
async fn transcript(admin: &Admin, conversation_id: &str) -> Vec<(i64, String, String)> {
    transcript_of(admin, TENANT, conversation_id).await
}

fn assert_gap_free(transcript: &[(i64, String, String)]) {
    let seqs: Vec<i64> = transcript.iter().map(|m| m.0).collect();
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "stored seqs must be 1..=n: {transcript:?}");
}

/// Sends a message and retries it (same client_id) until it is acked: what a widget does
/// when the server answers with an error frame or the socket drops.
async fn send_until_acked(
    client: &mut Client,
    client_id: &str,
    text: &str,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        client
            .send_json(json!({"type": "message", "client_id": client_id, "text": text}))
            .await;
        let answer = client
            .until(|f| (f["type"] == "ack" || f["type"] == "error") && f["client_id"] == client_id)
            .await;
        if answer["type"] == "ack" {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "message {client_id} never acked; last answer {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A new visitor on `node`: its socket (past the flow's first prompt), conversation id
/// and visitor token.
async fn new_visitor(node: &NodeProcess) -> (Client, String, String) {
    let mut client = node.client().await;
    let welcome = client.hello(TENANT).await;
    let conversation = welcome["conversation_id"].as_str().unwrap().to_string();
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    client.bot_says("Say something").await;
    (client, conversation, token)
}

/// The user messages of a transcript, in order.
fn user_texts(transcript: &[(i64, String, String)]) -> Vec<&str> {
    transcript
        .iter()
        .filter(|m| m.1 == "user")
        .map(|m| m.2.as_str())
        .collect()
}

/// The durable messages a client saw, as (seq, role, text).
fn seen(client: &Client) -> Vec<(i64, String, String)> {
    client
        .messages()
        .iter()
        .map(|m| {
            (
                m["seq"].as_i64().unwrap(),
                m["role"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_node_delivery_reaches_every_socket_in_order() {
    let _turn = SERIAL.lock().await;
    let Some((cluster, _redis)) = Cluster::new().await else {
        return;
    };
    let node1 = cluster.start("n1").await;
    let node2 = cluster.start("n2").await;
    let node3 = cluster.start("n3").await;

    // A visitor on node 1 starts a conversation: node 1 owns it.
    let (mut tab1, conversation, token) = new_visitor(&node1).await;
    assert_eq!(settled_owner(&node2.admin(), &conversation).await.0, "n1");

    // The same visitor's second tab on node 3.
    let mut tab3 = node3.client().await;
    tab3.resume(TENANT, &token, &conversation, 0).await;
    tab3.bot_says("Say something").await;

    // Messages typed on node 3 are handled by node 1 and seen on both tabs.
    tab3.say("hello from three").await;
    tab1.bot_says("echo: hello from three").await;
    tab3.bot_says("echo: hello from three").await;
    tab1.say("agent").await;
    tab1.bot_says("Connecting you").await;
    tab3.bot_says("Connecting you").await;

    // A human agent answers through node 2's API: node 2 forwards it to the owner.
    let stored = node2
        .admin()
        .post(
            &format!("/v1/admin/tenants/{TENANT}/conversations/{conversation}/messages"),
            json!({"text": "Hi, I am Grace from support"}),
        )
        .await;
    assert_eq!(stored.status, 201, "{}", stored.body);
    for tab in [&mut tab1, &mut tab3] {
        tab.until(|f| f["type"] == "message" && f["role"] == "agent")
            .await;
    }

    // Same events, same order, no gap, on both sockets and in the store.
    tab1.assert_gap_free();
    tab3.assert_gap_free();
    let stored = transcript(&node2.admin(), &conversation).await;
    assert_eq!(seen(&tab1), stored);
    assert_eq!(seen(&tab3), stored);
    assert_eq!(settled_owner(&node3.admin(), &conversation).await.0, "n1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_owner_loses_nothing() {
    let _turn = SERIAL.lock().await;
    let Some((cluster, _redis)) = Cluster::new().await else {
        return;
    };
    let mut node1 = cluster.start("n1").await;
    let node2 = cluster.start("n2").await;
    let node3 = cluster.start("n3").await;

    let (mut client, conversation, token) = new_visitor(&node1).await;
    let mut acked = Vec::new();
    for n in 0..5 {
        let text = format!("before {n}");
        send_until_acked(
            &mut client,
            &format!("b{n}"),
            &text,
            Duration::from_secs(10),
        )
        .await;
        client.bot_says(&format!("echo: {text}")).await;
        acked.push(text);
    }
    assert_eq!(settled_owner(&node2.admin(), &conversation).await.0, "n1");

    // The owner dies mid-conversation: the next message is sent and not yet answered.
    client
        .send_json(json!({"type": "message", "client_id": "in-flight", "text": "during"}))
        .await;
    node1.kill();
    let killed_at = Instant::now();

    // The widget reconnects to another node and resends what it has no ack for.
    let mut client = node2.client().await;
    client.resume(TENANT, &token, &conversation, 0).await;
    send_until_acked(&mut client, "in-flight", "during", Duration::from_secs(20)).await;
    let took_over = killed_at.elapsed();
    acked.push("during".into());
    for n in 0..5 {
        let text = format!("after {n}");
        send_until_acked(
            &mut client,
            &format!("a{n}"),
            &text,
            Duration::from_secs(10),
        )
        .await;
        client.bot_says(&format!("echo: {text}")).await;
        acked.push(text);
    }
    assert!(
        took_over < Duration::from_millis(LEASE_TTL_MS) + Duration::from_secs(5),
        "taking over took {took_over:?} (lease TTL {LEASE_TTL_MS} ms)"
    );

    let stored = transcript(&node3.admin(), &conversation).await;
    assert_gap_free(&stored);
    let users = user_texts(&stored);
    assert_eq!(users, acked, "every acked message once, in order");
    assert_eq!(
        stored.iter().filter(|m| m.2 == "echo: during").count(),
        1,
        "the in-flight message is answered exactly once: {stored:?}"
    );
    client.assert_gap_free();
    assert_ne!(settled_owner(&node3.admin(), &conversation).await.0, "n1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_owner_cannot_write() {
    let _turn = SERIAL.lock().await;
    let Some((cluster, redis)) = Cluster::new().await else {
        return;
    };
    let node1 = cluster.start("n1").await;
    let node2 = cluster.start("n2").await;

    let (mut old_tab, conversation, token) = new_visitor(&node1).await;
    old_tab.say("one").await;
    old_tab.bot_says("echo: one").await;
    let (old_owner, old_fence) = settled_owner(&node2.admin(), &conversation).await;
    assert_eq!(old_owner, "n1");

    // Node 1 freezes; its lease expires and node 2 takes the conversation over.
    node1.signal("STOP");
    let lease = format!(
        "{}:{{{TENANT}}}:lease:conv:{conversation}",
        cluster.key_prefix
    );
    let expired = eventually(Duration::from_millis(3 * LEASE_TTL_MS), || {
        let mut redis = redis.clone();
        let lease = lease.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(&lease)
                .query_async::<i64>(&mut redis)
                .await
                .is_ok_and(|n| n == 0)
        }
    })
    .await;
    assert!(expired, "the frozen node's lease expires");
    let mut new_tab = node2.client().await;
    new_tab.resume(TENANT, &token, &conversation, 0).await;
    send_until_acked(&mut new_tab, "two", "two", Duration::from_secs(10)).await;
    new_tab.bot_says("echo: two").await;
    let new = settled_owner(&node2.admin(), &conversation).await;
    assert_eq!(new.0, "n2");
    assert!(
        new.1 > old_fence,
        "a takeover raises the fence: {new:?} after {old_fence}"
    );

    // Node 1 wakes up still believing it owns the conversation; its socket sends at once.
    node1.signal("CONT");
    send_until_acked(&mut old_tab, "three", "three", Duration::from_secs(15)).await;
    new_tab.bot_says("echo: three").await;

    // Its old token can no longer write, whatever it tries.
    let store = Store::connect(&switchboard::config::DatabaseConfig {
        url: cluster.database_url.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let refused = store
        .append_user_message(
            TENANT,
            &conversation,
            old_fence,
            "webchat",
            "stale-writer",
            &NewEvent {
                seq: 999,
                message_id: "stale",
                role: Role::User,
                text: "from the past",
                meta: &MessageMeta::NONE,
            },
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Fenced { .. })),
        "a stale token must be refused: {refused:?}"
    );
    store.close().await;

    // The conversation stayed single-writer: one copy of each message, no gap, one owner.
    let stored = transcript(&node2.admin(), &conversation).await;
    assert_gap_free(&stored);
    for text in ["one", "two", "three"] {
        let copies = stored
            .iter()
            .filter(|m| m.1 == "user" && m.2 == text)
            .count();
        assert_eq!(copies, 1, "{text}: {stored:?}");
        let echoes = stored
            .iter()
            .filter(|m| m.2 == format!("echo: {text}"))
            .count();
        assert_eq!(echoes, 1, "echo: {text}: {stored:?}");
    }
    assert_eq!(settled_owner(&node1.admin(), &conversation).await.0, "n2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_pause_is_survived() {
    let _turn = SERIAL.lock().await;
    let Some((cluster, mut redis)) = Cluster::new().await else {
        return;
    };
    let node1 = cluster.start("n1").await;
    let node2 = cluster.start("n2").await;

    // Two visitors, one per node, chatting in a loop until told to stop.
    let mut conversations = Vec::new();
    let mut traffic = Vec::new();
    let acked_counts: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let stop = Arc::new(AtomicBool::new(false));
    for (n, node) in [&node1, &node2].into_iter().enumerate() {
        let mut client = node.client().await;
        let welcome = client.hello(TENANT).await;
        conversations.push(welcome["conversation_id"].as_str().unwrap().to_string());
        client.bot_says("Say something").await;
        let (acked_counts, stop) = (acked_counts.clone(), stop.clone());
        traffic.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let text = format!("v{n} m{i}");
                send_until_acked(
                    &mut client,
                    &format!("v{n}-{i}"),
                    &text,
                    Duration::from_secs(30),
                )
                .await;
                acked.push(text);
                acked_counts[n].fetch_add(1, Ordering::SeqCst);
                i += 1;
                // Pacing, so the pause lands in the middle of a conversation.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (client, acked)
        }));
    }
    let both_reach = |target: [usize; 2]| {
        let acked_counts = acked_counts.clone();
        eventually(Duration::from_secs(60), move || {
            let acked_counts = acked_counts.clone();
            async move { (0..2).all(|n| acked_counts[n].load(Ordering::SeqCst) >= target[n]) }
        })
    };
    assert!(both_reach([5, 5]).await, "traffic flows before the pause");
    let paused: String = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(5_000)
        .arg("ALL")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(paused, "OK");
    // The pause holds every client, this test's too: a PING answers once it is over.
    let over = eventually(Duration::from_secs(30), || {
        let mut redis = redis.clone();
        async move {
            redis::cmd("PING")
                .query_async::<String>(&mut redis)
                .await
                .is_ok()
        }
    })
    .await;
    assert!(over, "Redis answers again after the pause");
    let after_pause = [0, 1].map(|n| acked_counts[n].load(Ordering::SeqCst) + 5);
    assert!(
        both_reach(after_pause).await,
        "traffic flows after the pause"
    );
    stop.store(true, Ordering::SeqCst);

    let mut results = Vec::new();
    for task in traffic {
        results.push(task.await.unwrap());
    }
    for ((_, acked), conversation) in results.iter().zip(&conversations) {
        assert!(acked.len() > 5, "traffic flowed: {acked:?}");
        let stored = transcript(&node1.admin(), conversation).await;
        assert_gap_free(&stored);
        let users = user_texts(&stored);
        assert_eq!(users, *acked, "every acked message stored once, in order");
    }

    // Ownership and presence converge: one owner each, both sockets online.
    let converged = eventually(Duration::from_secs(10), || async {
        let mut ok = true;
        for conversation in &conversations {
            ok &= owner_of(&node2.admin(), conversation).await.len() == 1;
        }
        let presence = node2
            .admin()
            .get(&format!("/v1/admin/tenants/{TENANT}/presence"))
            .await;
        ok && presence.body["connections"]
            .as_array()
            .is_some_and(|c| c.len() == 2)
    })
    .await;
    assert!(converged, "ownership and presence converge after the pause");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_prompt_and_cluster_wide() {
    let _turn = SERIAL.lock().await;
    let Some((cluster, redis_conn)) = Cluster::new().await else {
        return;
    };
    drop(redis_conn);
    let node1 = cluster.start("n1").await;
    let mut node2 = cluster.start("n2").await;
    let admin = node1.admin();
    let presence = || async {
        let reply = admin
            .get(&format!("/v1/admin/tenants/{TENANT}/presence"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    };

    // Changes are published on the tenant's presence channel.
    let mut changes = redis::Client::open(REDIS_URL)
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    changes
        .subscribe(format!(
            "{}:{{{TENANT}}}:presence:changes",
            cluster.key_prefix
        ))
        .await
        .unwrap();
    let mut changes = changes.into_on_message();

    // A visitor with sockets on two nodes.
    let mut tab2 = node2.client().await;
    let welcome = tab2.hello(TENANT).await;
    let conversation = welcome["conversation_id"].as_str().unwrap().to_string();
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    let mut tab1 = node1.client().await;
    tab1.resume(TENANT, &token, &conversation, 0).await;
    let both = eventually(Duration::from_secs(5), || async {
        let body = presence().await;
        body["visitors"].as_array().is_some_and(|v| {
            v.len() == 1 && v[0]["connections"] == 2 && v[0]["nodes"].as_array().unwrap().len() == 2
        })
    })
    .await;
    assert!(
        both,
        "one visitor, two sockets on two nodes: {}",
        presence().await
    );
    use futures_util::StreamExt;
    let first: String = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("a presence change is published")
        .unwrap()
        .get_payload()
        .unwrap();
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["event"], "online");
    assert_eq!(first["entry"]["kind"], "connection");

    // An agent announces themselves through node 2's API.
    let put = node2
        .admin()
        .send(
            reqwest::Method::PUT,
            &format!("/v1/admin/tenants/{TENANT}/presence/agents/grace"),
            None,
            &[],
        )
        .await;
    assert_eq!(put.status, 204, "{}", put.body);
    assert!(
        eventually(Duration::from_secs(2), || async {
            presence().await["agents"][0]["subject"] == "grace"
        })
        .await
    );

    // A clean disconnect disappears at once; a dead node's within two heartbeats.
    tab1.close().await;
    let window = Duration::from_millis(2 * HEARTBEAT_MS) + Duration::from_millis(700);
    assert!(
        eventually(window, || async {
            presence().await["connections"].as_array().unwrap().len() == 1
        })
        .await,
        "a closed socket leaves presence within two heartbeats"
    );
    node2.kill();
    let killed = Instant::now();
    assert!(
        eventually(window + Duration::from_millis(2 * HEARTBEAT_MS), || async {
            presence().await["connections"]
                .as_array()
                .unwrap()
                .is_empty()
        })
        .await,
        "a dead node's sockets leave presence within two heartbeats (took {:?})",
        killed.elapsed()
    );
    let status = admin.get("/v1/admin/cluster").await;
    assert!(
        eventually(Duration::from_secs(2), || async {
            let body = admin.get("/v1/admin/cluster").await.body;
            body["nodes"].as_array().unwrap().len() == 1
        })
        .await,
        "the dead node leaves the registry: {}",
        status.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_status_cli_shows_nodes_and_leases() {
    let _turn = SERIAL.lock().await;
    let Some((cluster, _redis)) = Cluster::new().await else {
        return;
    };
    let node1 = cluster.start("n1").await;
    let _node2 = cluster.start("n2").await;
    let mut client = node1.client().await;
    let welcome = client.hello(TENANT).await;
    let conversation = welcome["conversation_id"].as_str().unwrap().to_string();
    client.bot_says("Say something").await;
    let mut output = String::new();
    let shown = eventually(Duration::from_secs(5), || {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["cluster", "status", "--server"])
            .arg(format!("http://{}", node1.addr))
            .env("SWITCHBOARD_API_KEY", BOOTSTRAP_KEY)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        output = String::from_utf8_lossy(&out.stdout).to_string();
        let done = output.contains("mode: cluster")
            && output.contains("n2")
            && output.contains(&format!("conversation demo/{conversation}"));
        async move { done }
    })
    .await;
    assert!(shown, "{output}");
}

fn wa_body(wamid: &str, text: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PN1"},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "4915112345678"}],
        "messages": [{"from": "4915112345678", "id": wamid, "timestamp": "1700000000", "type": "text", "text": {"body": text}}]
    }}]}]})
    .to_string()
}

async fn post_wa(node: &NodeProcess, wamid: &str, text: &str) -> u16 {
    let body = wa_body(wamid, text);
    reqwest::Client::new()
        .post(format!("http://{}/v1/channels/whatsapp/wa-main", node.addr))
        .header(
            "x-hub-signature-256",
            switchboard::channels::whatsapp::sign(body.as_bytes(), "wa-app-secret"),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_on_another_node_is_answered_once_by_the_owner() {
    let _turn = SERIAL.lock().await;
    let Some((cluster, _redis)) = Cluster::new().await else {
        return;
    };
    let wa = FakeWhatsapp::start_with_token("wa-token").unwrap();
    let extra = [("SWITCHBOARD__CHANNELS__WHATSAPP_BASE_URL", wa.base_url())];
    let node1 = cluster.start_with("n1", &extra).await;
    let node2 = cluster.start_with("n2", &extra).await;
    let node3 = cluster.start_with("n3", &extra).await;
    let put = node1
        .admin()
        .put_json(
            &format!("/v1/admin/tenants/{TENANT}/channels/wa-main"),
            json!({"provider": "whatsapp", "config": {"phone_number_id": "PN1"},
                "secrets": {"app_secret": "wa-app-secret", "verify_token": "wa-verify", "access_token": "wa-token"}}),
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.body);
    let echoes = |text: &str| {
        let wanted = format!("echo: {text}");
        wa.delivered()
            .iter()
            .filter(|(_, body)| *body == wanted)
            .count()
    };

    // The first message lands on node 1, which takes the conversation (and starts the
    // flow: its first prompt is the answer).
    assert_eq!(post_wa(&node1, "wamid.0", "hi").await, 200);
    let prompts = || {
        wa.delivered()
            .iter()
            .filter(|(_, body)| body == "Say something.")
            .count()
    };
    assert!(eventually(Duration::from_secs(10), || async { prompts() == 1 }).await);
    let listed = node2
        .admin()
        .get(&format!(
            "/v1/admin/tenants/{TENANT}/conversations?channel=whatsapp"
        ))
        .await;
    let conversation = listed.body[0]["id"].as_str().unwrap().to_string();
    assert_eq!(settled_owner(&node2.admin(), &conversation).await.0, "n1");

    // The next one lands on node 2: it is forwarded to node 1, stored and answered once;
    // the provider's retries of it on nodes 3 and 1 are recognised and not answered again.
    assert_eq!(post_wa(&node2, "wamid.1", "first").await, 200);
    let answered = eventually(Duration::from_secs(10), || async { echoes("first") == 1 }).await;
    assert!(answered, "{:?}", wa.delivered());
    assert_eq!(post_wa(&node3, "wamid.1", "first").await, 200);
    assert_eq!(post_wa(&node1, "wamid.1", "first").await, 200);
    // A barrier: the conversation answers in order, so once a later message is answered,
    // a second reply to the retried one could only have come before it.
    assert_eq!(post_wa(&node3, "wamid.2", "later").await, 200);
    let later = eventually(Duration::from_secs(10), || async { echoes("later") == 1 }).await;
    assert!(later, "{:?}", wa.delivered());
    assert_eq!(
        echoes("first"),
        1,
        "a retried webhook never gets a second reply"
    );
    // The flow's next prompt follows each echo (delivered after it, in order).
    let prompted = eventually(Duration::from_secs(10), || async { prompts() == 3 }).await;
    assert!(prompted, "{:?}", wa.delivered());
    assert_eq!(settled_owner(&node3.admin(), &conversation).await.0, "n1");
    let stored = transcript(&node3.admin(), &conversation).await;
    assert_gap_free(&stored);
    let users = user_texts(&stored);
    assert_eq!(users, ["hi", "first", "later"]);
}

/// The fence in the store, on both backends, without any cluster: a writer holding an
/// older token than the conversation's owner is refused and changes nothing.
async fn stale_fences_are_refused(backend: Backend) {
    let node = crate::support::spawn_server(backend.config()).await;
    let services = node.runtime().services().clone();
    let tenant = node.runtime().tenant(TENANT).await.unwrap().unwrap();
    let conversation = tenant
        .open_conversation(Opening {
            source: Source::Webchat,
            external_user: "visitor",
            thread: None,
            preview: None,
        })
        .await
        .unwrap()
        .id;
    let store = &services.store;
    let no_meta = MessageMeta::NONE;
    let event = |seq, id| NewEvent {
        seq,
        message_id: id,
        role: Role::User,
        text: "hi",
        meta: &no_meta,
    };
    store
        .claim_conversation(TENANT, &conversation, 5)
        .await
        .unwrap();
    store
        .append_user_message(TENANT, &conversation, 5, "webchat", "k1", &event(1, "m1"))
        .await
        .unwrap();
    store
        .claim_conversation(TENANT, &conversation, 6)
        .await
        .unwrap();
    let stale = store
        .append_user_message(TENANT, &conversation, 5, "webchat", "k2", &event(2, "m2"))
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Fenced {
                presented: 5,
                current: 6,
                ..
            })
        ),
        "{stale:?}"
    );
    assert!(matches!(
        store.claim_conversation(TENANT, &conversation, 4).await,
        Err(StoreError::Fenced { .. })
    ));
    store
        .append_user_message(TENANT, &conversation, 6, "webchat", "k2", &event(2, "m2"))
        .await
        .unwrap();
    let stored = store
        .events_after(TENANT, &conversation, 0, 10)
        .await
        .unwrap();
    assert_eq!(stored.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(
        store.owner_fence(TENANT, &conversation).await.unwrap(),
        Some(6)
    );
    node.shutdown().await;
}

on_both_stores!(stale_fences_are_refused);

const HANDOFF_FLOW: &str = "id: main\nslots:\n  name: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: name, prompt: \"Your name?\" }\n    next: human\n  human:\n    handoff: { queue: support, message: \"Connecting you to a person.\" }\n    next: bye\n  bye:\n    end: \"Bye {{ name }}\"\n";

/// The stored transcript of a tenant's conversation: (seq, role, text).
async fn transcript_of(admin: &Admin, tenant: &str, id: &str) -> Vec<(i64, String, String)> {
    let reply = admin
        .get(&format!("/v1/admin/tenants/{tenant}/conversations/{id}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["seq"].as_i64().unwrap(),
                m["role"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_survives_its_owner_dying_between_visitor_and_agent() {
    let _turn = SERIAL.lock().await;
    let Some((cluster, _redis)) = Cluster::new().await else {
        return;
    };
    let mut node1 = cluster.start("n1").await;
    let node2 = cluster.start("n2").await;
    let node3 = cluster.start("n3").await;
    let operator = node2.admin();
    let owner = operator.with_key(&operator.tenant_with_owner("hq", "main").await);
    owner.publish_flow("hq", "main", HANDOFF_FLOW).await;
    let created = owner
        .post(
            "/v1/admin/tenants/hq/agents",
            json!({ "name": "Grace", "queues": ["support"], "capacity": 3 }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.body["token"].as_str().unwrap().to_owned();
    let agent = owner.with_key(&token);

    // The agent is on node 2; the visitor starts on node 1, which owns the conversation.
    let mut inbox = Client::connect_path(node2.addr, "/v1/agent/ws").await;
    inbox
        .send_json(json!({ "type": "hello", "token": token }))
        .await;
    inbox.until(|f| f["type"] == "welcome").await;
    let mut visitor = node1.client().await;
    let welcome = visitor.hello("hq").await;
    let conversation = welcome["conversation_id"].as_str().unwrap().to_string();
    let visitor_token = welcome["visitor_token"].as_str().unwrap().to_string();
    visitor.bot_says("Your name?").await;
    send_until_acked(&mut visitor, "n", "Ada", Duration::from_secs(10)).await;
    visitor.bot_says("Connecting you to a person.").await;
    inbox
        .until(|f| {
            f["type"] == "inbox"
                && f["conversations"].as_array().is_some_and(|c| {
                    c.iter().any(|r| {
                        r["conversation_id"] == conversation.as_str() && !r["agent_id"].is_null()
                    })
                })
        })
        .await;
    inbox
        .send_json(json!({ "type": "follow", "conversation_id": conversation, "last_seq": 0 }))
        .await;
    let sent = agent
        .post(
            &format!("/v1/agent/conversations/{conversation}/messages"),
            json!({ "text": "Hi Ada, Grace here." }),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    visitor.until(|f| f["role"] == "agent").await;
    assert_eq!(settled_owner(&node3.admin(), &conversation).await.0, "n1");

    // The owner dies. The visitor comes back on node 3 and writes; the agent on node 2
    // gets every message and answers; the bot never speaks.
    node1.kill();
    let mut visitor = node3.client().await;
    visitor.resume("hq", &visitor_token, &conversation, 0).await;
    let mut acked = vec!["Ada".to_string()];
    for n in 0..3 {
        let text = format!("are you there {n}");
        send_until_acked(
            &mut visitor,
            &format!("w{n}"),
            &text,
            Duration::from_secs(20),
        )
        .await;
        acked.push(text);
    }
    for n in 0..3 {
        let text = format!("are you there {n}");
        inbox
            .until(|f| f["type"] == "message" && f["text"] == text.as_str())
            .await;
    }
    let sent = agent
        .post(
            &format!("/v1/agent/conversations/{conversation}/messages"),
            json!({ "text": "Still here." }),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    visitor
        .until(|f| f["role"] == "agent" && f["text"] == "Still here.")
        .await;

    let stored = transcript_of(&node2.admin(), "hq", &conversation).await;
    assert_gap_free(&stored);
    assert_eq!(
        user_texts(&stored),
        acked,
        "every acked message once, in order"
    );
    let handoff_at = stored
        .iter()
        .position(|m| m.2 == "Connecting you to a person.")
        .unwrap();
    assert!(
        stored[handoff_at + 1..].iter().all(|m| m.1 != "bot"),
        "the bot stayed silent: {stored:?}"
    );
    assert_ne!(settled_owner(&node3.admin(), &conversation).await.0, "n1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_whose_node_is_killed_fires_once_on_the_node_that_takes_over() {
    let _turn = SERIAL.lock().await;
    let Some((cluster, _redis)) = Cluster::new().await else {
        return;
    };
    let sweep = [(
        "SWITCHBOARD__CONVERSATION__TIMER_SWEEP_MS",
        "200".to_string(),
    )];
    let mut node1 = cluster.start_with("n1", &sweep).await;
    let node2 = cluster.start_with("n2", &sweep).await;
    let operator = node2.admin();
    let owner = operator.with_key(&operator.tenant_with_owner("hq", "main").await);
    let flow = "id: main\nslots:\n  name: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: name, prompt: \"Your name?\", timeout: 3s, on_timeout: gone }\n    next: bye\n  gone:\n    end: \"No answer; closing.\"\n  bye:\n    end: \"Bye {{ name }}\"\n";
    owner.publish_flow("hq", "main", flow).await;
    let mut visitor = node1.client().await;
    let welcome = visitor.hello("hq").await;
    let conversation = welcome["conversation_id"].as_str().unwrap().to_string();
    visitor.bot_says("Your name?").await;
    // The node that owns the conversation (and would fire its timer) dies at once.
    node1.kill();
    let fired = || async {
        transcript_of(&node2.admin(), "hq", &conversation)
            .await
            .iter()
            .filter(|m| m.2 == "No answer; closing.")
            .count()
    };
    assert!(
        eventually(Duration::from_secs(20), || async { fired().await >= 1 }).await,
        "the timer fired on the surviving node"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fired().await, 1, "and only once");
    let stored = transcript_of(&node2.admin(), "hq", &conversation).await;
    assert_gap_free(&stored);
}
