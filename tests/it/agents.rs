//! Human agents through the real runtime (docs/agents.md): a visitor on the web chat
//! socket, agents on their inbox socket and the agent API, the assigner on its sweep.
//! The whole lifecycle (handoff, queue, auto-assignment, reply, note, transfer, resolve
//! back to the bot at a named state), a take-over, capacity under 100 concurrent
//! handoffs, silence during assignment, a reconnecting agent, tenancy, the response-time
//! breach reported once, and an offline agent's conversations requeued. On both stores.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::admin::Admin;
use crate::support::{Backend, Client, eventually, spawn_server};

on_both_stores!(
    a_handoff_goes_through_queue_agent_transfer_and_back_to_the_bot,
    an_agent_takes_a_conversation_over_from_the_bot,
    capacity_holds_under_one_hundred_concurrent_handoffs,
    user_messages_during_assignment_get_no_bot_reply,
    an_agent_who_reconnects_misses_nothing_and_sees_nothing_twice,
    agents_see_only_their_queues_and_their_tenant,
    a_missed_first_response_is_reported_once,
    an_offline_agents_conversations_go_back_to_the_queue,
    the_handoff_summary_is_a_metered_model_call
);

const FLOW: &str = "id: main\nslots:\n  name: { type: string }\n  more: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: name, prompt: \"Your name?\" }\n    next: human\n  human:\n    handoff: { queue: support, message: \"Connecting you to a person.\" }\n    next: after\n  after:\n    collect: { slot: more, prompt: \"Back with the bot. Anything else?\" }\n    next: bye\n  bye:\n    end: \"Bye {{ name }}\"\n";

struct Setup {
    node: switchboard::app::Node,
    owner: Admin,
}

async fn setup(backend: &Backend, tweak: impl FnOnce(&mut switchboard::config::Config)) -> Setup {
    let mut config = backend.config();
    config.agents.sweep_ms = 100;
    tweak(&mut config);
    let node = spawn_server(config).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", FLOW).await;
    Setup { node, owner }
}

/// Creates an agent; returns its id and an API client signed in as it.
async fn agent(
    owner: &Admin,
    tenant: &str,
    name: &str,
    queues: &[&str],
    capacity: i64,
) -> (String, Admin) {
    let reply = owner
        .post(
            &format!("/v1/admin/tenants/{tenant}/agents"),
            json!({ "name": name, "queues": queues, "capacity": capacity }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sba_"));
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        owner.with_key(&token),
    )
}

/// An agent's inbox socket, signed in.
async fn inbox(node: &switchboard::app::Node, api: &Admin, status: &str) -> Client {
    let mut socket = Client::connect_path(node.addr(), "/v1/agent/ws").await;
    socket
        .send_json(json!({ "type": "hello", "token": api_key(api), "status": status }))
        .await;
    let welcome = socket.recv().await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    socket
}

fn api_key(api: &Admin) -> String {
    api.key.clone()
}

/// A visitor who answered the question and was handed off; returns the client.
async fn handed_off(node: &switchboard::app::Node) -> Client {
    let mut visitor = Client::connect(node.addr()).await;
    visitor.hello("acme").await;
    visitor.bot_says("Your name?").await;
    visitor.say("Ada").await;
    visitor.bot_says("Connecting you to a person.").await;
    visitor
}

/// Waits for an inbox frame that satisfies `done`.
async fn inbox_where(socket: &mut Client, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
    let frame = socket
        .until(|f| f["type"] == "inbox" && done(f["conversations"].as_array().unwrap()))
        .await;
    frame["conversations"].as_array().unwrap().clone()
}

fn bot_texts_after(visitor: &Client, seq: i64) -> Vec<String> {
    visitor
        .messages()
        .iter()
        .filter(|m| m["role"] == "bot" && m["seq"].as_i64().unwrap() > seq)
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_handoff_goes_through_queue_agent_transfer_and_back_to_the_bot(backend: Backend) {
    let Setup { node, owner } = setup(&backend, |_| {}).await;
    let (grace_id, grace) = agent(&owner, "acme", "Grace", &["support"], 2).await;
    let (linus_id, linus) = agent(&owner, "acme", "Linus", &["billing"], 2).await;
    let mut grace_inbox = inbox(&node, &grace, "online").await;
    let mut linus_inbox = inbox(&node, &linus, "online").await;
    // An external helpdesk follows the lifecycle through the tenant's alert webhook.
    let helpdesk = switchboard::testkit::webhook_receiver::WebhookReceiver::start()
        .await
        .unwrap();
    let hook = owner
        .post(
            "/v1/admin/tenants/acme/alert-hooks",
            json!({ "url": helpdesk.url, "events": ["handoff.queued", "handoff.assigned", "handoff.transferred", "handoff.resolved"] }),
        )
        .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);

    let mut visitor = handed_off(&node).await;
    let conversation = visitor.conversation_id.clone().unwrap();
    let handoff_seq = visitor.last_seq();

    // Queued, then auto-assigned to the online agent of the queue.
    let rows = inbox_where(&mut grace_inbox, |rows| {
        rows.iter().any(|r| {
            r["conversation_id"] == conversation.as_str() && r["agent_id"] == grace_id.as_str()
        })
    })
    .await;
    assert_eq!(rows[0]["queue"], "support");
    visitor
        .until(|f| f["role"] == "system" && f["event"] == "assigned")
        .await;
    grace_inbox
        .send_json(json!({ "type": "follow", "conversation_id": conversation, "last_seq": 0 }))
        .await;
    grace_inbox
        .until(|f| f["type"] == "message" && f["text"] == "Ada")
        .await;

    // Typing goes both ways, never stored: the visitor's to the agent, the agent's (with
    // its name) to the visitor.
    visitor.send_json(json!({ "type": "typing" })).await;
    let typing = grace_inbox.until(|f| f["type"] == "typing").await;
    assert_eq!(typing["conversation_id"], conversation.as_str());
    assert_eq!(typing["role"], "user");
    grace_inbox
        .send_json(json!({ "type": "typing", "conversation_id": conversation }))
        .await;
    let typing = visitor.until(|f| f["type"] == "typing").await;
    assert_eq!(typing["role"], "agent");
    assert_eq!(typing["author"], "Grace");

    // The agent sees what the flow collected.
    let detail = grace
        .get(&format!("/v1/agent/conversations/{conversation}"))
        .await;
    assert_eq!(detail.status, 200, "{:?}", detail.body);
    assert_eq!(detail.body["slots"]["name"], "Ada");
    assert_eq!(detail.body["state"], "human");

    // The user writes; the bot stays silent; the agent gets it live and answers.
    visitor.say("my order is late").await;
    grace_inbox
        .until(|f| f["type"] == "message" && f["text"] == "my order is late")
        .await;
    let sent = grace
        .post(
            &format!("/v1/agent/conversations/{conversation}/messages"),
            json!({ "text": "Let me check." }),
        )
        .await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    let reply = visitor.until(|f| f["role"] == "agent").await;
    assert_eq!(reply["text"], "Let me check.");
    assert_eq!(reply["author"], "Grace");

    // A private note: the agent's socket shows it, the visitor never gets it.
    let noted = grace
        .post(
            &format!("/v1/agent/conversations/{conversation}/notes"),
            json!({ "text": "VIP customer" }),
        )
        .await;
    assert_eq!(noted.status, 201);
    let note_seq = noted.body["seq"].as_i64().unwrap();
    let note = grace_inbox
        .until(|f| f["type"] == "message" && f["role"] == "note")
        .await;
    assert_eq!(note["text"], "VIP customer");

    // Transfer to billing: Linus (online, serves billing) gets it.
    let moved = grace
        .post(
            &format!("/v1/agent/conversations/{conversation}/transfer"),
            json!({ "queue": "billing" }),
        )
        .await;
    assert_eq!(moved.status, 204, "{:?}", moved.body);
    inbox_where(&mut linus_inbox, |rows| {
        rows.iter().any(|r| {
            r["conversation_id"] == conversation.as_str() && r["agent_id"] == linus_id.as_str()
        })
    })
    .await;
    grace_inbox
        .until(|f| f["type"] == "unfollowed" && f["conversation_id"] == conversation.as_str())
        .await;
    // Grace no longer sees it.
    assert_eq!(
        grace
            .get(&format!("/v1/agent/conversations/{conversation}"))
            .await
            .status,
        404
    );

    // Linus resolves it back to the bot at a named state: the question is asked anew.
    let resolved = linus
        .post(
            &format!("/v1/agent/conversations/{conversation}/resolve"),
            json!({ "state": "nowhere" }),
        )
        .await;
    assert_eq!(
        resolved.status, 400,
        "an unknown state is refused: {:?}",
        resolved.body
    );
    let resolved = linus
        .post(
            &format!("/v1/agent/conversations/{conversation}/resolve"),
            json!({ "state": "ask" }),
        )
        .await;
    assert_eq!(resolved.status, 204, "{:?}", resolved.body);
    visitor
        .until(|f| f["role"] == "system" && f["event"] == "resolved")
        .await;
    let asked = visitor.bot_says("Your name?").await;
    // Nothing the bot said between the handoff and the resolution.
    let bot_during: Vec<String> = visitor
        .messages()
        .iter()
        .filter(|m| {
            let seq = m["seq"].as_i64().unwrap();
            m["role"] == "bot" && seq > handoff_seq && seq < asked["seq"].as_i64().unwrap()
        })
        .map(|m| m["text"].to_string())
        .collect();
    assert!(
        bot_during.is_empty(),
        "the bot was silent during the handoff: {bot_during:?}"
    );
    // The next user message reaches the bot again.
    visitor.say("Grace Hopper").await;
    visitor.bot_says("Connecting you to a person.").await;
    // The note never reached the visitor: its seq is skipped, nothing else is.
    assert!(
        visitor
            .messages()
            .iter()
            .all(|m| m["seq"].as_i64() != Some(note_seq) && m["role"] != "note"),
        "a private note reached the visitor"
    );
    // The helpdesk saw each turning point, in order, for this conversation.
    let events = || {
        let mut events: Vec<(i64, String, Value)> = helpdesk
            .received()
            .iter()
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
            .filter(|e| e["data"]["conversation_id"] == conversation.as_str())
            .map(|e| {
                (
                    e["created_at"].as_i64().unwrap(),
                    e["type"].as_str().unwrap().to_owned(),
                    e["data"].clone(),
                )
            })
            .collect();
        events.sort_by_key(|e| e.0);
        events.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
        events
    };
    let expected = [
        "handoff.queued",
        "handoff.assigned",
        "handoff.transferred",
        "handoff.assigned",
        "handoff.resolved",
        "handoff.queued",
    ];
    assert!(
        eventually(Duration::from_secs(15), || async {
            events().len() >= expected.len()
        })
        .await,
        "{:?}",
        events()
    );
    let types: Vec<String> = events().into_iter().map(|e| e.1).collect();
    assert_eq!(types[..expected.len()], expected, "{types:?}");
    assert_eq!(events()[1].2["agent_name"], "Grace");
    assert_eq!(events()[3].2["agent_name"], "Linus");
    let transcript = owner
        .get(&format!(
            "/v1/admin/tenants/acme/conversations/{conversation}"
        ))
        .await;
    let roles: Vec<&str> = transcript.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert!(
        roles.contains(&"note"),
        "the note is in the transcript: {roles:?}"
    );
    node.shutdown().await;
}

async fn an_agent_takes_a_conversation_over_from_the_bot(backend: Backend) {
    let Setup { node, owner } = setup(&backend, |_| {}).await;
    let (grace_id, grace) = agent(&owner, "acme", "Grace", &["support"], 2).await;
    let mut visitor = Client::connect(node.addr()).await;
    visitor.hello("acme").await;
    visitor.bot_says("Your name?").await;
    let conversation = visitor.conversation_id.clone().unwrap();

    let taken = grace
        .post(
            &format!("/v1/agent/conversations/{conversation}/takeover"),
            json!({}),
        )
        .await;
    assert_eq!(taken.status, 204, "{:?}", taken.body);
    let marker = visitor.until(|f| f["event"] == "takeover").await;
    assert!(marker["text"].as_str().unwrap().contains("Grace"));
    let handoffs = owner.get("/v1/admin/tenants/acme/handoffs").await;
    assert_eq!(
        handoffs.body[0]["agent_id"],
        grace_id.as_str(),
        "{:?}",
        handoffs.body
    );

    // The bot has stopped: the answer to its question gets no reply.
    visitor.say("Ada").await;
    while visitor.try_recv(Duration::from_millis(800)).await.is_some() {}
    assert!(bot_texts_after(&visitor, marker["seq"].as_i64().unwrap()).is_empty());

    // Released without a state, the question it was taken over at is asked again.
    let resolved = grace
        .post(
            &format!("/v1/agent/conversations/{conversation}/resolve"),
            json!({}),
        )
        .await;
    assert_eq!(resolved.status, 204, "{:?}", resolved.body);
    visitor.bot_says("Your name?").await;
    visitor.say("Ada").await;
    visitor.bot_says("Connecting you to a person.").await;
    // A conversation that has not started cannot be taken over.
    let ended = grace
        .post(
            "/v1/agent/conversations/no-such-conversation/takeover",
            json!({}),
        )
        .await;
    assert_eq!(ended.status, 404);
    node.shutdown().await;
}

async fn capacity_holds_under_one_hundred_concurrent_handoffs(backend: Backend) {
    let Setup { node, owner } = setup(&backend, |_| {}).await;
    let mut sockets = Vec::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (id, api) = agent(&owner, "acme", &format!("Agent {i}"), &["support"], 3).await;
        sockets.push(inbox(&node, &api, "online").await);
        ids.push(id);
    }
    let addr = node.addr();
    let visitors = futures_util::future::join_all((0..100).map(|_| async move {
        let mut visitor = Client::connect(addr).await;
        visitor.hello("acme").await;
        visitor.bot_says("Your name?").await;
        visitor.say("Ada").await;
        visitor.bot_says("Connecting you").await;
        visitor
    }))
    .await;
    assert_eq!(visitors.len(), 100);
    let assigned = || async {
        let rows = owner.get("/v1/admin/tenants/acme/handoffs").await.body;
        rows.as_array().unwrap().clone()
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            assigned()
                .await
                .iter()
                .filter(|r| !r["agent_id"].is_null())
                .count()
                == 15
        })
        .await,
        "every agent fills up to its capacity"
    );
    // And no further: the sweep keeps running, capacity holds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = assigned().await;
    assert_eq!(rows.len(), 100);
    for id in &ids {
        let load = rows.iter().filter(|r| r["agent_id"] == id.as_str()).count();
        assert_eq!(load, 3, "agent {id} holds its capacity exactly");
    }
    // Direct concurrent claims on one agent: capacity holds in the store too.
    let store = node.runtime().services().store.clone();
    let extra = owner
        .post(
            "/v1/admin/tenants/acme/agents",
            json!({ "name": "Solo", "queues": ["nobody"], "capacity": 2 }),
        )
        .await;
    let solo = extra.body["id"].as_str().unwrap().to_owned();
    let waiting: Vec<String> = rows
        .iter()
        .filter(|r| r["agent_id"].is_null())
        .take(20)
        .map(|r| r["conversation_id"].as_str().unwrap().to_owned())
        .collect();
    let results = futures_util::future::join_all(waiting.iter().map(|c| {
        let store = store.clone();
        let solo = solo.clone();
        async move {
            store
                .assign_handoff("acme", c, &solo, None, Some(2))
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(results.iter().filter(|won| **won).count(), 2);
    drop(sockets);
    node.shutdown().await;
}

async fn user_messages_during_assignment_get_no_bot_reply(backend: Backend) {
    let Setup { node, owner } = setup(&backend, |c| c.agents.sweep_ms = 50).await;
    let (_, grace) = agent(&owner, "acme", "Grace", &["support"], 5).await;
    let mut visitor = handed_off(&node).await;
    let handoff_seq = visitor.last_seq();
    // The agent comes online while the user keeps writing: assignment happens among
    // the messages.
    let writer = async {
        for i in 0..20 {
            visitor.say(&format!("hello? {i}")).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        visitor
    };
    let (mut visitor, grace_inbox) = tokio::join!(writer, async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        inbox(&node, &grace, "online").await
    });
    visitor.until(|f| f["event"] == "assigned").await;
    while visitor.try_recv(Duration::from_millis(300)).await.is_some() {}
    assert!(
        bot_texts_after(&visitor, handoff_seq).is_empty(),
        "the bot answered during the handoff: {:?}",
        bot_texts_after(&visitor, handoff_seq)
    );
    drop(grace_inbox);
    node.shutdown().await;
}

async fn an_agent_who_reconnects_misses_nothing_and_sees_nothing_twice(backend: Backend) {
    let Setup { node, owner } = setup(&backend, |_| {}).await;
    let (_, grace) = agent(&owner, "acme", "Grace", &["support"], 5).await;
    let mut socket = inbox(&node, &grace, "online").await;
    let mut visitor = handed_off(&node).await;
    let conversation = visitor.conversation_id.clone().unwrap();
    visitor.until(|f| f["event"] == "assigned").await;
    socket
        .send_json(json!({ "type": "follow", "conversation_id": conversation, "last_seq": 0 }))
        .await;
    let assigned = socket
        .until(|f| {
            f["type"] == "message" && f["event"].is_null() && f["meta"]["event"] == "assigned"
        })
        .await;
    let seen = assigned["seq"].as_i64().unwrap();
    socket.close().await;

    for i in 0..3 {
        visitor.say(&format!("are you there {i}")).await;
    }
    // Back, from the last seq seen: exactly the three messages, in order, once.
    let mut socket = inbox(&node, &grace, "online").await;
    socket
        .send_json(json!({ "type": "follow", "conversation_id": conversation, "last_seq": seen }))
        .await;
    let mut got = Vec::new();
    while got.len() < 3 {
        let frame = socket.until(|f| f["type"] == "message").await;
        got.push((
            frame["seq"].as_i64().unwrap(),
            frame["text"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        got,
        (0..3)
            .map(|i| (seen + 1 + i, format!("are you there {i}")))
            .collect::<Vec<_>>()
    );
    // Live from there on, and nothing repeated.
    visitor.say("still waiting").await;
    let next = socket.until(|f| f["type"] == "message").await;
    assert_eq!(next["seq"].as_i64().unwrap(), seen + 4);
    assert_eq!(next["text"], "still waiting");
    assert!(
        socket
            .try_recv(Duration::from_millis(300))
            .await
            .is_none_or(|f| f["type"] != "message")
    );
    node.shutdown().await;
}

async fn agents_see_only_their_queues_and_their_tenant(backend: Backend) {
    let Setup { node, owner } = setup(&backend, |_| {}).await;
    let (_, billing) = agent(&owner, "acme", "Bill", &["billing"], 5).await;
    let operator = Admin::operator(node.addr());
    let other_owner = operator.with_key(&operator.tenant_with_owner("globex", "main").await);
    let (_, stranger) = agent(&other_owner, "globex", "Eve", &["support"], 5).await;
    let visitor = handed_off(&node).await;
    let conversation = visitor.conversation_id.clone().unwrap();
    let path = format!("/v1/agent/conversations/{conversation}");
    assert!(
        eventually(Duration::from_secs(5), || async {
            owner
                .get("/v1/admin/tenants/acme/handoffs")
                .await
                .body
                .as_array()
                .is_some_and(|a| a.len() == 1)
        })
        .await
    );
    // Another queue's agent, another tenant's agent: not found, for every action.
    for api in [&billing, &stranger] {
        assert_eq!(api.get(&path).await.status, 404);
        assert_eq!(
            api.post(&format!("{path}/claim"), json!({})).await.status,
            404
        );
        assert_eq!(
            api.post(&format!("{path}/messages"), json!({ "text": "hi" }))
                .await
                .status,
            404
        );
        assert_eq!(api.get("/v1/agent/inbox").await.body, json!([]));
    }
    // An agent token is no admin key, and no token is no agent.
    assert_eq!(
        billing
            .get("/v1/admin/tenants/acme/conversations")
            .await
            .status,
        401
    );
    assert_eq!(
        owner.with_key("sba_nope").get("/v1/agent/me").await.status,
        401
    );
    assert_eq!(owner.get("/v1/agent/me").await.status, 401);
    // The agent's own view of itself never shows its token.
    let me = billing.get("/v1/agent/me").await;
    assert_eq!(me.body["name"], "Bill");
    assert!(
        me.body.get("token").is_none() && !me.body.to_string().contains(&api_key(&billing)[4..])
    );
    // Bad input is refused with a clear error.
    let bad = owner
        .post(
            "/v1/admin/tenants/acme/agents",
            json!({ "name": "X", "queues": ["Not A Queue"] }),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.to_string().contains("queues"), "{:?}", bad.body);
    node.shutdown().await;
}

async fn a_missed_first_response_is_reported_once(backend: Backend) {
    let Setup { node, owner } = setup(&backend, |_| {}).await;
    let put = owner
        .put_json(
            "/v1/admin/tenants/acme/queues/support",
            json!({ "first_response_secs": 1, "next_response_secs": 60 }),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let visitor = handed_off(&node).await;
    let conversation = visitor.conversation_id.clone().unwrap();
    let breaches = || async {
        let audit = owner.get("/v1/admin/tenants/acme/audit").await.body;
        audit["entries"]
            .as_array()
            .or(audit.as_array())
            .unwrap()
            .iter()
            .filter(|e| {
                e["action"] == "handoff.sla_breached" && e["target"] == conversation.as_str()
            })
            .count()
    };
    assert!(eventually(Duration::from_secs(10), || async { breaches().await == 1 }).await);
    // Many sweeps later, still one.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(breaches().await, 1);
    let metrics = reqwest::get(format!("http://{}/metrics", node.addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // (The recorder is the test process's: other tests' breaches count there too.)
    assert!(
        metrics.contains("switchboard_sla_breaches_total{kind=\"first\"}"),
        "{metrics}"
    );
    node.shutdown().await;
}

async fn an_offline_agents_conversations_go_back_to_the_queue(backend: Backend) {
    let Setup { node, owner } = setup(&backend, |c| c.agents.offline_grace_secs = 1).await;
    let (grace_id, grace) = agent(&owner, "acme", "Grace", &["support"], 5).await;
    let socket = inbox(&node, &grace, "online").await;
    let mut visitor = handed_off(&node).await;
    visitor.until(|f| f["event"] == "assigned").await;
    let holder =
        || async { owner.get("/v1/admin/tenants/acme/handoffs").await.body[0]["agent_id"].clone() };
    assert_eq!(holder().await, grace_id.as_str());
    socket.close().await;
    let marker = visitor.until(|f| f["event"] == "transferred").await;
    assert!(marker["text"].as_str().unwrap().contains("support"));
    assert!(holder().await.is_null());
    // Back online, the agent gets it again.
    let _socket = inbox(&node, &grace, "online").await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            holder().await == grace_id.as_str()
        })
        .await
    );
    node.shutdown().await;
}

async fn the_handoff_summary_is_a_metered_model_call(backend: Backend) {
    let Setup { node, owner } = setup(&backend, |_| {}).await;
    let (_, grace) = agent(&owner, "acme", "Grace", &["support"], 5).await;
    let (_, other) = agent(&owner, "acme", "Bill", &["billing"], 5).await;
    let visitor = handed_off(&node).await;
    let conversation = visitor.conversation_id.clone().unwrap();
    let path = format!("/v1/agent/conversations/{conversation}/summary");
    // Only an agent who sees the conversation may ask.
    assert_eq!(other.post(&path, json!({})).await.status, 404);
    let summary = grace.post(&path, json!({})).await;
    assert_eq!(summary.status, 200, "{:?}", summary.body);
    assert!(!summary.body["summary"].as_str().unwrap().trim().is_empty());
    // Metered against the conversation, under its own state name (usage is recorded
    // in the background).
    let calls_path = format!("/v1/admin/tenants/acme/usage/calls?conversation_id={conversation}");
    let summaries = || async {
        let calls = owner.get(&calls_path).await;
        assert_eq!(calls.status, 200, "{:?}", calls.body);
        calls
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["state"] == "handoff_summary")
            .count()
    };
    assert!(eventually(Duration::from_secs(10), || async { summaries().await == 1 }).await);
    node.shutdown().await;
}
