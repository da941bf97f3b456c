//! Analytics on seeded conversations, on both stores: every metric of docs/analytics.md
//! against values worked out by hand below, through the real rollup job and the admin
//! API (JSON and CSV); the job is idempotent, a returning user un-abandons a
//! conversation, erasure keeps the counts, previews and other tenants never count.

use serde_json::{Value, json};
use sqlx::Connection;
use switchboard::analytics::report::day_text;
use switchboard::analytics::rollup;
use switchboard::config::AnalyticsConfig;

use crate::support::admin::Admin;
use crate::support::{Backend, Client, spawn_server};

on_both_stores!(
    every_metric_matches_hand_computed_values,
    live_conversations_are_counted_and_erasure_keeps_the_counts
);

/// `ask_age` takes a number in at most 2 attempts, then hands off.
const FLOW: &str = "id: main\nslots:\n  age: { type: number }\n  name: { type: string }\nstart: ask_age\nstates:\n  ask_age:\n    collect: { slot: age, prompt: \"Age?\", max_attempts: 2, on_fail: human }\n    next: ask_name\n  ask_name:\n    collect: { slot: name, prompt: \"Name?\" }\n    next: bye\n  human:\n    handoff: { queue: support }\n  bye:\n    end: \"Bye\"\n";

/// 2026-11-02 10:00 UTC.
const T: i64 = 1_793_613_600_000;
const DAY_MS: i64 = 86_400_000;
/// The sweep's clock: an hour after T (everyone silent since T + 1 s is abandoned).
const NOW: i64 = T + 3_600_000;

struct Seed {
    conn: sqlx::AnyConnection,
}

impl Seed {
    #[allow(clippy::too_many_arguments)]
    async fn conversation(
        &mut self,
        tenant: &str,
        id: &str,
        channel: &str,
        version: i64,
        status: Value,
        started: i64,
        events: &[(&str, i64, &str, Value)],
    ) {
        let last = events.last().map_or(started, |e| e.1);
        let state = json!({ "dialog": { "status": status } }).to_string();
        sqlx::query(
            "INSERT INTO conversations (id, tenant_id, channel, external_user, flow_id, \
             flow_version, dialog_state, status, last_seq, applied_seq, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'main', $5, $6, 'active', $7, 0, $8, $9)",
        )
        .bind(id)
        .bind(tenant)
        .bind(channel)
        .bind(format!("user-{id}"))
        .bind(version)
        .bind(state)
        .bind(events.len() as i64)
        .bind(started)
        .bind(last)
        .execute(&mut self.conn)
        .await
        .unwrap();
        for (i, (role, at, text, meta)) in events.iter().enumerate() {
            self.event(tenant, id, i as i64 + 1, role, *at, text, meta)
                .await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn event(
        &mut self,
        tenant: &str,
        id: &str,
        seq: i64,
        role: &str,
        at: i64,
        text: &str,
        meta: &Value,
    ) {
        sqlx::query(
            "INSERT INTO events (tenant_id, conversation_id, seq, message_id, kind, role, body, \
             created_at, meta) VALUES ($1, $2, $3, $4, 'message', $5, $6, $7, $8)",
        )
        .bind(tenant)
        .bind(id)
        .bind(seq)
        .bind(format!("{id}-{seq}"))
        .bind(role)
        .bind(text)
        .bind(at)
        .bind((!meta.is_null()).then(|| meta.to_string()))
        .execute(&mut self.conn)
        .await
        .unwrap();
    }

    async fn call(&mut self, tenant: &str, id: &str, state: Option<&str>, cost: i64) {
        sqlx::query(
            "INSERT INTO model_calls (id, tenant_id, conversation_id, flow_id, flow_version, \
             state, channel, kind, provider, model, attempt, outcome, tokens_in, tokens_out, \
             usage_source, latency_ms, cost_micros, started_at) VALUES ($1, $2, $3, 'main', 1, \
             $4, 'webchat', 'chat', 'offline', 'offline', 1, 'ok', 10, 10, 'counted', 5, $5, $6)",
        )
        .bind(format!("call-{id}-{cost}"))
        .bind(tenant)
        .bind(id)
        .bind(state)
        .bind(cost)
        .bind(T)
        .execute(&mut self.conn)
        .await
        .unwrap();
    }
}

fn bot(at: i64, state: Option<&str>) -> (&'static str, i64, &'static str, Value) {
    let meta = state.map_or(Value::Null, |s| json!({ "state": s }));
    ("bot", at, "…", meta)
}

fn user(at: i64, text: &'static str) -> (&'static str, i64, &'static str, Value) {
    ("user", at, text, Value::Null)
}

fn system(at: i64, event: &str) -> (&'static str, i64, &'static str, Value) {
    ("system", at, "…", json!({ "event": event }))
}

fn waiting(state: &str) -> Value {
    json!({ "status": "awaiting_input", "state": state })
}

async fn report(admin: &Admin, query: &str) -> Value {
    let reply = admin
        .get(&format!("/v1/admin/tenants/acme/analytics?{query}"))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

fn state<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == name)
        .unwrap_or_else(|| panic!("no state {name} in {report:#}"))
}

fn within_bucket(value: &Value, exact: i64) {
    // A percentile is its bucket's upper bound: never below the exact value, at most
    // 10 % above it.
    let v = value.as_i64().unwrap_or_else(|| panic!("{value}"));
    assert!(
        v >= exact && v as f64 <= exact as f64 * 1.1,
        "{v} vs exact {exact}"
    );
}

async fn every_metric_matches_hand_computed_values(backend: Backend) {
    let mut config = backend.config();
    // The test runs the job itself, at a clock of its choosing.
    config.analytics.sweep_interval_secs = 3600;
    let node = spawn_server(config).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", FLOW).await;
    let other = operator.with_key(&operator.tenant_with_owner("other", "main").await);
    other.publish_flow("other", "main", FLOW).await;

    sqlx::any::install_default_drivers();
    let mut seed = Seed {
        conn: sqlx::AnyConnection::connect(&backend.url).await.unwrap(),
    };
    // c1: a re-prompt on ask_age, then contained. Latencies 500, 300, 400 ms.
    seed.conversation(
        "acme",
        "c1",
        "webchat",
        1,
        json!({ "status": "ended" }),
        T,
        &[
            bot(T, Some("ask_age")),
            user(T + 1_000, "old"),
            bot(T + 1_500, Some("ask_age")),
            user(T + 2_000, "42"),
            bot(T + 2_300, Some("ask_name")),
            user(T + 3_000, "Ada"),
            bot(T + 3_400, None),
            system(T + 3_400, "ended"),
        ],
    )
    .await;
    seed.call("acme", "c1", Some("ask_name"), 1_000).await;
    seed.call("acme", "c1", None, 500).await;
    // c2: two failed answers on ask_age (max_attempts 2): a fallback, handed off.
    // Latencies 200, 100 ms.
    seed.conversation(
        "acme",
        "c2",
        "webchat",
        1,
        json!({ "status": "human_mode", "state": "human", "queue": "support" }),
        T,
        &[
            bot(T, Some("ask_age")),
            user(T + 1_000, "x"),
            bot(T + 1_200, Some("ask_age")),
            user(T + 2_000, "y"),
            bot(T + 2_100, Some("human")),
            system(T + 2_100, "handoff"),
        ],
    )
    .await;
    // c3 (WhatsApp): answered, then silent at ask_name for ~an hour: abandoned there.
    // Latency 800 ms.
    seed.conversation(
        "acme",
        "c3",
        "whatsapp",
        1,
        waiting("ask_name"),
        T,
        &[
            bot(T, Some("ask_age")),
            user(T + 1_000, "30"),
            bot(T + 1_800, Some("ask_name")),
        ],
    )
    .await;
    // c4: started a minute before the sweep, waiting: open.
    seed.conversation(
        "acme",
        "c4",
        "webchat",
        1,
        waiting("ask_age"),
        NOW - 60_000,
        &[bot(NOW - 60_000, Some("ask_age"))],
    )
    .await;
    // A preview and another tenant's conversation: never counted for acme.
    seed.conversation(
        "acme",
        "p1",
        "webchat",
        -1,
        json!({ "status": "ended" }),
        T,
        &[bot(T, None), system(T, "ended")],
    )
    .await;
    seed.conversation(
        "other",
        "o1",
        "webchat",
        1,
        json!({ "status": "ended" }),
        T,
        &[bot(T, None), system(T, "ended")],
    )
    .await;

    let services = node.runtime().services();
    let analytics = AnalyticsConfig::default();
    // Two nodes sweeping at once (as in a cluster): each conversation is counted once.
    let (first, second) = tokio::join!(
        rollup::sweep(&services.store, &services.flows, &analytics, NOW),
        rollup::sweep(&services.store, &services.flows, &analytics, NOW),
    );
    let swept = first.unwrap() + second.unwrap();
    assert!(
        (5..=6).contains(&swept),
        "c1–c4 of acme and o1 of other, never the preview; c4 (open) may be stored twice \
         with the same contribution: {swept}"
    );

    let day = day_text(T / DAY_MS);
    let range = format!("from={day}&to={day}");
    let r = report(&owner, &range).await;
    let check = |r: &Value| {
        let total = &r["total"];
        // Started: c1–c4. One each contained (c1), handed off (c2), abandoned (c3).
        assert_eq!(total["started"], 4, "{r:#}");
        assert_eq!(total["contained"], 1);
        assert_eq!(total["handed_off"], 1);
        assert_eq!(total["abandoned"], 1);
        assert_eq!(total["containment_rate"], 0.25);
        assert_eq!(total["handoff_rate"], 0.25);
        assert_eq!(total["abandonment_rate"], 0.25);
        // Turns (user messages): 3 + 2 + 1 + 0 = 6, per conversation 6 / 4.
        assert_eq!(total["turns"], 6);
        assert_eq!(total["turns_per_conversation"], 1.5);
        // Cost: c1's two calls, 1000 + 500; per conversation 1500 / 4.
        assert_eq!(total["cost_micros"], 1_500);
        assert_eq!(total["cost_per_conversation_micros"], 375.0);
        // First replies 500 (c1), 200 (c2), 800 (c3): p50 = 2nd of 3 = 500, p95 = 800.
        assert_eq!(total["first_reply_ms"]["count"], 3);
        within_bucket(&total["first_reply_ms"]["p50"], 500);
        within_bucket(&total["first_reply_ms"]["p95"], 800);
        // Turn latencies 500, 300, 400, 200, 100, 800: sorted, p50 = 3rd = 300,
        // p95 = rank ceil(5.7) = 6th = 800.
        assert_eq!(total["turn_latency_ms"]["count"], 6);
        within_bucket(&total["turn_latency_ms"]["p50"], 300);
        within_bucket(&total["turn_latency_ms"]["p95"], 800);
        // ask_age: visited by all four; answers 2 + 2 + 1; re-prompted once in c1 and once
        // in c2 (2 / 5); c2's second failure ran out of attempts (1 fallback / 4 visits).
        let age = state(r, "ask_age");
        assert_eq!(age["visits"], 4);
        assert_eq!(age["answers"], 5);
        assert_eq!(age["reprompts"], 2);
        assert_eq!(age["reprompt_rate"], 0.4);
        assert_eq!(age["fallbacks"], 1);
        assert_eq!(age["fallback_rate"], 0.25);
        assert_eq!(age["dropoffs"], 0);
        // ask_name: visited by c1 and c3, c3 dropped off there; c1's call cost 1000.
        let name = state(r, "ask_name");
        assert_eq!(name["visits"], 2);
        assert_eq!(name["answers"], 1);
        assert_eq!(name["reprompts"], 0);
        assert_eq!(name["fallbacks"], 0);
        assert_eq!(name["dropoffs"], 1);
        assert_eq!(name["dropoff_rate"], 0.5);
        assert_eq!(name["cost_micros"], 1_000);
        assert_eq!(state(r, "human")["visits"], 1);
    };
    check(&r);
    assert_eq!(r["groups"][0]["key"], day.as_str());
    assert_eq!(r["groups"][0]["started"], 4);

    // Idempotent: sweeping again (and again later) changes nothing.
    rollup::sweep(&services.store, &services.flows, &analytics, NOW)
        .await
        .unwrap();
    check(&report(&owner, &range).await);

    // Grouping and filters.
    let by_channel = report(&owner, &format!("{range}&group_by=channel")).await;
    let groups = by_channel["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{by_channel:#}");
    assert_eq!(
        (groups[0]["key"].as_str(), groups[0]["started"].as_i64()),
        (Some("webchat"), Some(3))
    );
    assert_eq!(groups[1]["abandoned"], 1);
    let whatsapp = report(&owner, &format!("{range}&channel=whatsapp")).await;
    assert_eq!(whatsapp["total"]["started"], 1);
    assert_eq!(whatsapp["total"]["abandonment_rate"], 1.0);
    let v2 = report(&owner, &format!("{range}&version=2&group_by=version")).await;
    assert_eq!(v2["total"]["started"], 0);
    let v1 = report(
        &owner,
        &format!("{range}&flow=main&version=1&group_by=version"),
    )
    .await;
    assert_eq!(v1["groups"][0]["key"], "1");
    assert_eq!(v1["groups"][0]["started"], 4);
    // Another tenant's numbers are its own.
    let theirs = other
        .get(&format!("/v1/admin/tenants/other/analytics?{range}"))
        .await;
    assert_eq!(theirs.body["total"]["started"], 1);
    assert_eq!(theirs.body["total"]["contained"], 1);
    assert_eq!(
        other
            .get(&format!("/v1/admin/tenants/acme/analytics?{range}"))
            .await
            .status,
        404
    );

    // CSV: a header and one line per group; per state with group_by=state.
    let csv = reqwest::Client::new()
        .get(format!(
            "http://{}/v1/admin/tenants/acme/analytics.csv?{range}&group_by=channel",
            node.addr()
        ))
        .bearer_auth(&owner.key)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("key,started,contained,handed_off,abandoned,"));
    assert!(lines[1].starts_with("webchat,3,1,1,0,"), "{text}");
    assert!(lines[2].starts_with("whatsapp,1,0,0,1,"), "{text}");
    assert_eq!(lines.len(), 3);
    let states_csv = reqwest::Client::new()
        .get(format!(
            "http://{}/v1/admin/tenants/acme/analytics.csv?{range}&group_by=state",
            node.addr()
        ))
        .bearer_auth(&owner.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        states_csv.contains("\nask_age,4,5,2,0.400000,1,0.250000,0,0.000000,0\n"),
        "{states_csv}"
    );

    // The CLI prints the same, as CSV or a table; a bad grouping is one error line.
    let server = format!("http://{}", node.addr());
    let cli = |args: Vec<String>| async move {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .output()
            .await
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let remote = |extra: &[&str]| {
        let mut args: Vec<String> = ["analytics", "--server", &server, "--key", &owner.key]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.extend(["--tenant", "acme", "--from", &day, "--to", &day].map(String::from));
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let (code, out, err) = cli(remote(&["--csv", "--group-by", "channel"])).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, text);
    let (code, out, err) = cli(remote(&[])).await;
    assert_eq!(code, 0, "{err}");
    let total = out.lines().find(|l| l.starts_with("total")).unwrap();
    assert!(total.contains(" 4 ") && total.contains("25.0%"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("ask_age")), "{out}");
    let (code, _, err) = cli(remote(&["--group-by", "model"])).await;
    assert_eq!(code, 1);
    assert!(err.starts_with("error: invalid_request"), "{err}");

    // Bad input: typed 400s.
    for query in [
        "group_by=model",
        "from=2026-13-01",
        "from=2026-11-02&to=2026-11-01",
        "version=-1",
        "channel=fax",
        "from=2024-01-01&to=2026-01-01",
        "colour=blue",
    ] {
        let reply = owner
            .get(&format!("/v1/admin/tenants/acme/analytics?{query}"))
            .await;
        assert_eq!(reply.status, 400, "{query}: {:?}", reply.body);
        assert_eq!(reply.code(), "invalid_request", "{query}");
    }

    // c3's user comes back: no longer abandoned, no drop-off at ask_name.
    let back = NOW + 10_000;
    seed.event("acme", "c3", 4, "user", back, "hi again", &Value::Null)
        .await;
    sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = 'c3'")
        .bind(back)
        .execute(&mut seed.conn)
        .await
        .unwrap();
    rollup::sweep(&services.store, &services.flows, &analytics, back + 6_000)
        .await
        .unwrap();
    let r = report(&owner, &range).await;
    assert_eq!(r["total"]["abandoned"], 0, "{r:#}");
    assert_eq!(r["total"]["turns"], 7);
    assert_eq!(state(&r, "ask_name")["dropoffs"], 0);
    // …and silent for the abandonment time again: abandoned again, found by the recheck.
    rollup::sweep(
        &services.store,
        &services.flows,
        &analytics,
        back + 1_800_000,
    )
    .await
    .unwrap();
    // (c4 has been silent for more than 30 minutes by then too, at ask_age.)
    let r = report(&owner, &range).await;
    assert_eq!(r["total"]["abandoned"], 2, "{r:#}");
    assert_eq!(state(&r, "ask_name")["dropoffs"], 1);
    assert_eq!(state(&r, "ask_age")["dropoffs"], 1);

    // Erasure (what the store's erasure deletes): the counts stay as they were.
    for sql in [
        "DELETE FROM events WHERE conversation_id = 'c1'",
        "DELETE FROM conversations WHERE id = 'c1'",
    ] {
        sqlx::query(sql).execute(&mut seed.conn).await.unwrap();
    }
    rollup::sweep(
        &services.store,
        &services.flows,
        &analytics,
        back + 1_900_000,
    )
    .await
    .unwrap();
    let r = report(&owner, &range).await;
    assert_eq!(r["total"]["contained"], 1);
    assert_eq!(r["total"]["cost_micros"], 1_500);
    let (text_columns,): (i64,) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM analytics_conversations WHERE contribution LIKE '%Ada%'",
    )
    .fetch_one(&mut seed.conn)
    .await
    .unwrap();
    assert_eq!(text_columns, 0, "analytics hold no message text");
    drop(seed);
    node.shutdown().await;
}

/// Real conversations through the web chat (one answered, one re-prompted then silent),
/// summarised by the job; erasing one through the admin API leaves the counts as they
/// were, and no analytics row holds what was said.
async fn live_conversations_are_counted_and_erasure_keeps_the_counts(backend: Backend) {
    let mut config = backend.config();
    config.analytics.sweep_interval_secs = 3600;
    let node = spawn_server(config).await;
    let operator = Admin::operator(node.addr());
    let owner = operator.with_key(&operator.tenant_with_owner("acme", "main").await);
    owner.publish_flow("acme", "main", FLOW).await;

    let mut done = Client::connect(node.addr()).await;
    done.hello("acme").await;
    done.bot_says("Age?").await;
    done.say("41").await;
    done.bot_says("Name?").await;
    done.say("Ada Lovelace").await;
    done.bot_says("Bye").await;
    let ended = done.conversation_id.clone().unwrap();
    done.close().await;
    let mut silent = Client::connect(node.addr()).await;
    silent.hello("acme").await;
    silent.bot_says("Age?").await;
    silent.say("old").await;
    silent.bot_says("please answer with a number").await; // the re-prompt
    silent.close().await;

    let services = node.runtime().services();
    let later = switchboard::store::now_ms() + 2 * 3_600_000;
    rollup::sweep(
        &services.store,
        &services.flows,
        &AnalyticsConfig::default(),
        later,
    )
    .await
    .unwrap();
    let counted = |r: &Value| {
        let total = &r["total"];
        assert_eq!(total["started"], 2, "{r:#}");
        assert_eq!(total["contained"], 1);
        assert_eq!(total["abandoned"], 1, "silent for two hours at ask_age");
        assert_eq!(total["turns"], 3);
        assert_eq!(total["turn_latency_ms"]["count"], 3);
        let age = state(r, "ask_age");
        assert_eq!(
            (age["visits"].as_i64(), age["answers"].as_i64()),
            (Some(2), Some(2))
        );
        assert_eq!(age["reprompts"], 1);
        assert_eq!(age["dropoffs"], 1);
    };
    counted(&report(&owner, "").await);

    let erased = owner
        .delete(&format!("/v1/admin/tenants/acme/conversations/{ended}"))
        .await;
    assert_eq!(erased.status, 204, "{:?}", erased.body);
    rollup::sweep(
        &services.store,
        &services.flows,
        &AnalyticsConfig::default(),
        later + 60_000,
    )
    .await
    .unwrap();
    counted(&report(&owner, "").await);
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&backend.url).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT contribution FROM analytics_conversations")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "the erased conversation's counts stay");
    for (contribution,) in rows {
        assert!(
            !contribution.contains("Ada") && !contribution.contains("old"),
            "{contribution}"
        );
    }
    drop(conn);
    node.shutdown().await;
}
