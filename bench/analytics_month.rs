//! A month's analytics for a tenant with 1M conversations, on PostgreSQL (issue #15's
//! speed target: under 200 ms from the admin API).
//!
//! Seeds a fresh database with SQL `generate_series`: CONVERSATIONS conversations of one
//! tenant spread over the 30 days of November 2026 (three channels, two flow versions,
//! outcomes 50 % contained, 20 % handed off, 20 % abandoned, 10 % open), their summaries
//! (`analytics_conversations`) and the daily sums the rollup job keeps for them
//! (`analytics_daily`, `analytics_state_daily`, `analytics_latency_daily`, written here
//! in one `INSERT … SELECT … GROUP BY` each instead of conversation by conversation).
//! Then it times, over real HTTP, `GET /v1/admin/tenants/{t}/analytics` for the month
//! (grouped by day, by state, and filtered to one channel and version) and the results
//! of an experiment that ran all month (which read the 1M summaries, not the sums).
//! Last, it measures the rollup job itself: ROLLUP conversations with four events each,
//! summarised from their events by `analytics::rollup::sweep`.
//!
//! `cargo bench --bench analytics_month` (env: CONVERSATIONS, default 1000000; ROLLUP,
//! default 3000; REQUESTS, default 30; BENCH_DATABASE_URL, a PostgreSQL server URL
//! whose database exists, default the local `test`). Writes
//! bench/results/analytics_month.json.

use std::time::Instant;

use serde_json::{Value, json};
use sqlx::Connection;
use switchboard::config::Config;

const FLOW: &str = "id: main\nslots:\n  age: { type: number }\n  name: { type: string }\nstart: ask_age\nstates:\n  ask_age:\n    collect: { slot: age, prompt: \"Age?\", max_attempts: 2, on_fail: human }\n    next: ask_name\n  ask_name:\n    collect: { slot: name, prompt: \"Name?\" }\n    next: bye\n  human:\n    handoff: { queue: support }\n  bye:\n    end: \"Bye\"\n";
const KEY: &str = "bench-bootstrap-key-0123456789abcdef";
/// 2026-11-01 as days since the Unix epoch.
const FIRST_DAY: i64 = 20_758;

/// The per-conversation columns, as SQL expressions of `i`.
const SERIES: &str = "SELECT i, \
    ({FIRST_DAY} + i % 30) * 86400000 + (i * 7919) % 86400000 AS started_at, \
    (ARRAY['webchat','whatsapp','slack'])[1 + (i / 30) % 3] AS channel, \
    1 + (i / 90) % 2 AS flow_version, \
    CASE WHEN i % 10 < 5 THEN 'contained' WHEN i % 10 < 7 THEN 'handed_off' \
         WHEN i % 10 < 9 THEN 'abandoned' ELSE 'open' END AS outcome, \
    1 + i % 5 AS turns, (i % 7) * 100 AS cost_micros, \
    200 + (i * 131) % 3000 AS first_reply_ms, 100 + (i * 57) % 5000 AS turn_ms \
    FROM generate_series(1, $1::bigint) AS i";

fn percentiles(mut ms: Vec<f64>) -> Value {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    json!({ "requests": ms.len(), "p50_ms": at(0.5), "p95_ms": at(0.95), "max_ms": at(1.0) })
}

async fn time_get(http: &reqwest::Client, url: &str, requests: usize) -> anyhow::Result<Value> {
    let mut ms = Vec::with_capacity(requests);
    let mut last = Value::Null;
    for round in 0..requests + 3 {
        let started = Instant::now();
        let response = http.get(url).bearer_auth(KEY).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        last = response.json().await?;
        if round >= 3 {
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let mut timing = percentiles(ms);
    timing["sample"] = last;
    Ok(timing)
}

async fn exec(conn: &mut sqlx::PgConnection, sql: &str, n: i64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let sql = sql.replace(
        "{SERIES}",
        &SERIES.replace("{FIRST_DAY}", &FIRST_DAY.to_string()),
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(n)
        .execute(&mut *conn)
        .await?;
    Ok(started.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: i64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let conversations = env("CONVERSATIONS", 1_000_000);
    let rollup_conversations = env("ROLLUP", 3_000);
    let requests = env("REQUESTS", 30) as usize;
    let server = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let database = format!("sbbench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await?;
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let database_url = format!("{base}/{database}");
    let mut quiet = Config::default().log;
    quiet.filter = "error".into();
    switchboard::telemetry::init(&quiet);

    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".parse()?;
    config.server.predrain_secs = 0;
    config.database.url = database_url.clone();
    config.admin.bootstrap_key = KEY.into();
    config.analytics.sweep_interval_secs = 86_400; // the bench runs the job itself
    config.log.filter = "error".into();
    let flows = tempfile::tempdir()?;
    std::fs::write(flows.path().join("main.yaml"), FLOW)?;
    config.demo.flows_dir = flows.path().to_path_buf();
    config.demo.entry_flow = "main".into();
    let node = switchboard::app::start(config).await?;
    let http = reqwest::Client::new();
    let admin_api = format!("http://{}/v1/admin", node.addr());
    for tenant in ["bench", "rollup"] {
        let created = http
            .post(format!("{admin_api}/tenants"))
            .bearer_auth(KEY)
            .json(&json!({"id": tenant, "name": tenant, "entry_flow": "main"}))
            .send()
            .await?;
        anyhow::ensure!(
            created.status().is_success(),
            "tenant: {}",
            created.status()
        );
        for _ in 0..2 {
            // Two published versions (the second differs by a comment-free prompt).
            let text = FLOW.replace(
                "\"Bye\"",
                &format!("\"Bye {}\"", uuid::Uuid::new_v4().simple()),
            );
            http.put(format!("{admin_api}/tenants/{tenant}/flows/main"))
                .bearer_auth(KEY)
                .header("content-type", "application/yaml")
                .body(text)
                .send()
                .await?;
            let published = http
                .post(format!("{admin_api}/tenants/{tenant}/flows/main/publish"))
                .bearer_auth(KEY)
                .json(&json!({"activate": true}))
                .send()
                .await?;
            anyhow::ensure!(
                published.status().is_success(),
                "publish: {}",
                published.status()
            );
        }
    }

    let mut conn = sqlx::PgConnection::connect(&database_url).await?;
    let mut seeding = serde_json::Map::new();
    let t = exec(
        &mut conn,
        "INSERT INTO conversations (id, tenant_id, channel, external_user, flow_id, flow_version, \
         dialog_state, status, last_seq, applied_seq, created_at, updated_at) \
         SELECT 'c' || i, 'bench', channel, 'u' || i, 'main', flow_version, '{}', \
         CASE outcome WHEN 'contained' THEN 'ended' WHEN 'handed_off' THEN 'handoff' ELSE 'active' END, \
         0, 0, started_at, started_at FROM ({SERIES}) s",
        conversations,
    )
    .await?;
    seeding.insert("conversations_s".into(), json!(t));
    let t = exec(
        &mut conn,
        "INSERT INTO analytics_conversations (tenant_id, conversation_id, flow_id, flow_version, \
         channel, started_at, outcome, waiting_state, turns, cost_micros, recheck_at, contribution, \
         revision, summarised_at) \
         SELECT 'bench', 'c' || i, 'main', flow_version, channel, started_at, outcome, \
         CASE WHEN outcome = 'abandoned' THEN (ARRAY['ask_age','ask_name'])[1 + i % 2] END, \
         turns, cost_micros, NULL, \
         format('{\"started\":1,\"contained\":%s,\"handed_off\":%s,\"abandoned\":%s,\"turns\":%s,\"cost_micros\":%s}', \
           (outcome = 'contained')::int, (outcome = 'handed_off')::int, (outcome = 'abandoned')::int, turns, cost_micros), \
         1, started_at FROM ({SERIES}) s",
        conversations,
    )
    .await?;
    seeding.insert("summaries_s".into(), json!(t));
    let t = exec(
        &mut conn,
        "INSERT INTO analytics_daily (tenant_id, day, flow_id, flow_version, channel, started, \
         contained, handed_off, abandoned, turns, cost_micros) \
         SELECT 'bench', started_at / 86400000, 'main', flow_version, channel, COUNT(*), \
         SUM((outcome = 'contained')::int), SUM((outcome = 'handed_off')::int), \
         SUM((outcome = 'abandoned')::int), SUM(turns), SUM(cost_micros) \
         FROM ({SERIES}) s GROUP BY 2, 4, 5",
        conversations,
    )
    .await?;
    let t2 = exec(
        &mut conn,
        "INSERT INTO analytics_state_daily (tenant_id, day, flow_id, flow_version, channel, state, \
         visits, answers, reprompts, fallbacks, dropoffs, cost_micros) \
         SELECT 'bench', started_at / 86400000, 'main', flow_version, channel, st.state, \
         SUM(st.visits), SUM(st.answers), SUM(st.reprompts), SUM(st.fallbacks), SUM(st.dropoffs), \
         SUM(st.cost) FROM ({SERIES}) s CROSS JOIN LATERAL (VALUES \
           ('ask_age', 1, 1 + (i % 4 = 0)::int, (i % 4 = 0)::int, (outcome = 'handed_off')::int, \
            (outcome = 'abandoned' AND i % 2 = 0)::int, 0), \
           ('ask_name', (outcome <> 'handed_off')::int, (outcome = 'contained')::int, 0, 0, \
            (outcome = 'abandoned' AND i % 2 = 1)::int, cost_micros), \
           ('human', (outcome = 'handed_off')::int, 0, 0, 0, 0, 0)) \
           AS st(state, visits, answers, reprompts, fallbacks, dropoffs, cost) \
         GROUP BY 2, 4, 5, 6",
        conversations,
    )
    .await?;
    let t3 = exec(
        &mut conn,
        "INSERT INTO analytics_latency_daily (tenant_id, day, flow_id, flow_version, channel, \
         metric, bucket, count) \
         SELECT 'bench', started_at / 86400000, 'main', flow_version, channel, l.metric, \
         CAST(CEIL(LN(l.ms) / LN(1.1)) AS BIGINT), COUNT(*) FROM ({SERIES}) s \
         CROSS JOIN LATERAL (VALUES ('first_reply', first_reply_ms), ('turn', turn_ms)) AS l(metric, ms) \
         GROUP BY 2, 4, 5, 6, 7",
        conversations,
    )
    .await?;
    seeding.insert("daily_sums_s".into(), json!(t + t2 + t3));
    // The rollup job has seen every one of them (as if it had summarised them).
    sqlx::query(
        "INSERT INTO analytics_watermarks (tenant_id, through_ms, through_id, updated_at) \
         SELECT 'bench', MAX(updated_at), '~', MAX(updated_at) FROM conversations",
    )
    .execute(&mut conn)
    .await?;
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    let (daily_rows, state_rows, latency_rows): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM analytics_daily), (SELECT COUNT(*) FROM analytics_state_daily), \
         (SELECT COUNT(*) FROM analytics_latency_daily)",
    )
    .fetch_one(&mut conn)
    .await?;

    // An experiment over the whole month: its results read the 1M summaries.
    let experiment: Value = http
        .post(format!("{admin_api}/tenants/bench/experiments"))
        .bearer_auth(KEY)
        .json(&json!({"flow": "main", "name": "month", "arms": [{"version": 1, "weight": 1}, {"version": 2, "weight": 1}]}))
        .send()
        .await?
        .json()
        .await?;
    let experiment_id = experiment["id"].as_str().unwrap_or_default().to_owned();
    sqlx::query("UPDATE experiments SET started_at = $1")
        .bind(FIRST_DAY * 86_400_000)
        .execute(&mut conn)
        .await?;

    let month = "from=2026-11-01&to=2026-11-30";
    let url = |q: &str| format!("{admin_api}/tenants/bench/analytics?{month}&{q}");
    let mut timings = serde_json::Map::new();
    for (name, query) in [
        ("month_by_day", "group_by=day"),
        ("month_by_state", "group_by=state"),
        (
            "month_one_channel_version_by_day",
            "group_by=day&channel=whatsapp&version=2",
        ),
    ] {
        let mut timing = time_get(&http, &url(query), requests).await?;
        let total = timing["sample"]["total"]["started"].clone();
        timing.as_object_mut().map(|t| t.remove("sample"));
        timing["started_total"] = total;
        println!("{name}: {timing}");
        timings.insert(name.into(), timing);
    }
    let mut timing = time_get(
        &http,
        &format!("{admin_api}/tenants/bench/experiments/{experiment_id}"),
        requests.min(10),
    )
    .await?;
    let arms: i64 = timing["sample"]["results"]
        .as_array()
        .map(|r| r.iter().filter_map(|a| a["conversations"].as_i64()).sum())
        .unwrap_or_default();
    timing.as_object_mut().map(|t| t.remove("sample"));
    timing["conversations_in_arms"] = json!(arms);
    println!("experiment_results_month: {timing}");
    timings.insert("experiment_results_month".into(), timing);

    // The rollup job, from events: four per conversation (question, answer, question,
    // answer), all waiting at ask_name.
    let now = switchboard::store::now_ms();
    let start = now - 3_600_000;
    sqlx::query(
        "INSERT INTO conversations (id, tenant_id, channel, external_user, flow_id, flow_version, \
         dialog_state, status, last_seq, applied_seq, created_at, updated_at) \
         SELECT 'r' || i, 'rollup', 'webchat', 'u' || i, 'main', 1, \
         '{\"dialog\":{\"status\":{\"status\":\"awaiting_input\",\"state\":\"ask_name\"}}}', \
         'active', 4, 4, $2 + i, $2 + i + 3000 FROM generate_series(1, $1::bigint) AS i",
    )
    .bind(rollup_conversations)
    .bind(start)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO events (tenant_id, conversation_id, seq, message_id, kind, role, body, created_at, meta) \
         SELECT 'rollup', 'r' || i, s, 'r' || i || '-' || s, 'message', \
         CASE WHEN s % 2 = 1 THEN 'bot' ELSE 'user' END, \
         CASE s WHEN 2 THEN 'x' WHEN 4 THEN '42' ELSE 'q' END, $2 + i + s * 700, \
         CASE WHEN s % 2 = 1 THEN '{\"state\":\"ask_age\"}' END \
         FROM generate_series(1, $1::bigint) AS i CROSS JOIN generate_series(1, 4) AS s",
    )
    .bind(rollup_conversations)
    .bind(start)
    .execute(&mut conn)
    .await?;
    let services = node.runtime().services();
    let started = Instant::now();
    let summarised = switchboard::analytics::rollup::sweep(
        &services.store,
        &services.flows,
        &services.config.analytics,
        now,
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let rollup = json!({
        "conversations": rollup_conversations,
        "summarised": summarised,
        "seconds": seconds,
        "per_second": summarised as f64 / seconds,
    });
    println!("rollup: {rollup}");

    let result = json!({
        "bench": "analytics_month",
        "conversations": conversations,
        "seeding_seconds": seeding,
        "rollup_rows": { "daily": daily_rows, "state_daily": state_rows, "latency_daily": latency_rows },
        "timings": timings,
        "rollup": rollup,
    });
    std::fs::create_dir_all("bench/results")?;
    std::fs::write(
        "bench/results/analytics_month.json",
        serde_json::to_string_pretty(&result)?,
    )?;
    node.shutdown().await;
    drop(conn);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    Ok(())
}
