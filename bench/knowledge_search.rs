//! Knowledge base quality and speed (issue #17).
//!
//! `quality`: this repository's `docs/*.md` uploaded as knowledge base `docs` (one
//! document per file, doc id = file name), then every question of
//! `bench/knowledge/questions.json` searched with the offline embedding alone
//! (`vector`), keywords alone (`keyword`) and both fused (`hybrid`). A question is
//! answered at rank r when the r-th hit is a chunk of its document under its anchor;
//! recall@5 counts questions answered within 5, MRR averages 1/r (0 when not in the top
//! 10). `latency`: N synthetic chunks (sentences of words drawn from the docs, seeded)
//! stored for one tenant, then `QUERIES` (200) questions of 8 random words searched
//! (hybrid and vector), p50/p99, with the index as it runs (exact below
//! `switchboard::knowledge::index::ANN_MIN_FLOATS`). Then the keyword ranking alone,
//! bounded against every match ranked. From `GRAPH_FROM` (20000) chunks an index that
//! builds its HNSW graph at once is timed too: the bench waits for the graph (its build
//! time is printed), then gives its p50/p99 and recall@10 against exact search for
//! several search breadths (ef).
//! `KEEP_DB=1` keeps the database (and prints where it is) for EXPLAIN.
//!
//! ```sh
//! cargo bench --bench knowledge_search                        # both, SQLite and PostgreSQL
//! BENCH=quality STORES=sqlite SIZES=10000,100000 cargo bench --bench knowledge_search
//! ```
//! PostgreSQL: `PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`); a fresh
//! database is created and dropped. Prints Markdown tables.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use sqlx::Connection;
use switchboard::config::DatabaseConfig;
use switchboard::knowledge::index::{Filter, VectorIndex};
use switchboard::knowledge::{Format, Knowledge, Mode, NewDocument, SearchRequest};
use switchboard::llm::embedding::offline_embedding;
use switchboard::llm::{CallOrigin, LlmGateway};
use switchboard::store::{KnowledgeDocumentRow, NewKnowledgeChunk, Store};

const TENANT: &str = "bench";

#[derive(Deserialize)]
struct EvalSet {
    questions: Vec<Question>,
}

#[derive(Deserialize)]
struct Question {
    question: String,
    doc: String,
    anchor: String,
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A store of `kind` on a fresh database, and what drops it afterwards.
async fn fresh_store(kind: &str) -> Option<(Store, Option<String>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, database) = if kind == "sqlite" {
        (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            None,
        )
    } else {
        let admin = std::env::var("PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("skipping PostgreSQL: {e}");
                return None;
            }
        };
        let name = format!("sbbench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        (format!("{base}/{name}"), Some(name))
    };
    let config = DatabaseConfig {
        url,
        ..DatabaseConfig::default()
    };
    let store = Store::connect(&config).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some((store, database, dir))
}

async fn drop_database(store: Store, database: Option<String>) {
    store.close().await;
    if std::env::var("KEEP_DB").is_ok() {
        eprintln!("kept database {database:?} (SQLite: the temporary directory is kept too)");
        return;
    }
    if let Some(name) = database {
        let admin = std::env::var("PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

fn request(query: &str, mode: Mode, top_k: usize) -> SearchRequest {
    SearchRequest {
        query: query.to_owned(),
        kbs: vec!["docs".into()],
        tags: Vec::new(),
        top_k,
        mode,
        origin: CallOrigin {
            tenant_id: TENANT.into(),
            ..CallOrigin::default()
        },
    }
}

async fn quality(kind: &str) {
    let Some((store, database, _dir)) = fresh_store(kind).await else {
        return;
    };
    let knowledge = Knowledge::new(store.clone(), LlmGateway::offline(Duration::ZERO));
    store
        .put_knowledge_base(TENANT, "docs", "this repository's docs/")
        .await
        .expect("kb");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/docs");
    let mut chunks = 0;
    let mut files: Vec<_> = std::fs::read_dir(root)
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    for path in &files {
        let doc_id = path.file_stem().unwrap().to_string_lossy().to_string();
        let content = std::fs::read_to_string(path).expect("read");
        let outcome = knowledge
            .put_document(
                TENANT,
                "docs",
                &doc_id,
                NewDocument {
                    content,
                    format: Format::Markdown,
                    title: doc_id.clone(),
                    source: format!("docs/{doc_id}.md"),
                    tags: Vec::new(),
                },
            )
            .await
            .expect("upload");
        chunks += outcome.chunks;
    }
    let set: EvalSet = serde_json::from_str(include_str!("knowledge/questions.json")).unwrap();
    println!(
        "\n{kind}: {} documents, {chunks} chunks, {} questions\n",
        files.len(),
        set.questions.len()
    );
    println!("| ranking | recall@1 | recall@5 | MRR@10 |");
    println!("|---|---|---|---|");
    for (name, mode) in [
        ("offline embedding only", Mode::Vector),
        ("keywords only", Mode::Keyword),
        ("hybrid (RRF)", Mode::Hybrid),
    ] {
        let (mut at1, mut at5, mut rr) = (0, 0, 0.0);
        for q in &set.questions {
            let hits = knowledge
                .search(TENANT, &request(&q.question, mode, 10))
                .await
                .expect("search");
            let rank = hits
                .iter()
                .position(|h| h.doc_id == q.doc && h.anchor == q.anchor);
            if let Some(r) = rank {
                at1 += usize::from(r == 0);
                at5 += usize::from(r < 5);
                rr += 1.0 / (r as f64 + 1.0);
            } else if std::env::var("VERBOSE").is_ok() {
                eprintln!("{name}: missed {:?} ({}#{})", q.question, q.doc, q.anchor);
            }
        }
        let n = set.questions.len() as f64;
        println!(
            "| {name} | {:.2} | {:.2} | {:.3} |",
            at1 as f64 / n,
            at5 as f64 / n,
            rr / n
        );
    }
    drop_database(store, database).await;
}

/// Words of the docs, for synthetic chunks.
fn vocabulary() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/docs");
    let mut words: Vec<String> = std::fs::read_dir(root)
        .expect("docs/")
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|text| switchboard::llm::embedding::words(&text))
        .filter(|w| w.len() > 2 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    words.sort();
    words.dedup();
    words
}

fn sentence(rng: &mut StdRng, vocabulary: &[String], words: usize) -> String {
    (0..words)
        .map(|_| vocabulary[rng.random_range(0..vocabulary.len())].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn latency(kind: &str, size: usize) {
    let Some((store, database, _dir)) = fresh_store(kind).await else {
        return;
    };
    store
        .put_knowledge_base(TENANT, "docs", "")
        .await
        .expect("kb");
    let vocabulary = vocabulary();
    let mut rng = StdRng::seed_from_u64(17);
    let per_doc = 1000;
    let started = Instant::now();
    for d in 0..size.div_ceil(per_doc) {
        let count = per_doc.min(size - d * per_doc);
        let chunks: Vec<NewKnowledgeChunk> = (0..count)
            .map(|i| {
                let title = sentence(&mut rng, &vocabulary, 3);
                let body = sentence(&mut rng, &vocabulary, 60);
                NewKnowledgeChunk {
                    embedding: offline_embedding(&format!("{title}\n{body}")),
                    anchor: format!("s{i}"),
                    title,
                    body,
                }
            })
            .collect();
        let row = KnowledgeDocumentRow {
            tenant_id: TENANT.into(),
            kb: "docs".into(),
            doc_id: format!("doc{d}"),
            title: format!("doc{d}"),
            source: String::new(),
            format: "text".into(),
            tags: "[]".into(),
            content_hash: String::new(),
            embedding_model: "offline-embedding".into(),
            version: 1,
            chunks: count as i64,
            updated_at: 0,
        };
        store
            .replace_knowledge_document(&row, &chunks)
            .await
            .expect("store chunks");
    }
    let loaded = started.elapsed();
    let knowledge = Knowledge::new(store.clone(), LlmGateway::offline(Duration::ZERO));
    let built = Instant::now();
    knowledge
        .search(TENANT, &request("warm up the index", Mode::Vector, 5))
        .await
        .expect("warm-up");
    let build = built.elapsed();
    let count: usize = std::env::var("QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let questions: Vec<String> = (0..count)
        .map(|_| sentence(&mut rng, &vocabulary, 8))
        .collect();
    for (name, mode) in [("hybrid", Mode::Hybrid), ("vector", Mode::Vector)] {
        let mut times = Vec::with_capacity(questions.len());
        for q in &questions {
            let t = Instant::now();
            let hits = knowledge
                .search(TENANT, &request(q, mode, 5))
                .await
                .expect("search");
            times.push(t.elapsed());
            assert!(!hits.is_empty());
        }
        times.sort();
        println!(
            "| {kind} | {size} | {name} | {:.2} ms | {:.2} ms | load {:.1} s, index build {:.2} s |",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            loaded.as_secs_f64(),
            build.as_secs_f64()
        );
    }
    // The keyword ranking alone: bounded (two terms first) against every match ranked.
    let (mut bounded_times, mut full_times, mut same) = (Vec::new(), Vec::new(), 0);
    let kb_list = vec!["docs".to_owned()];
    for q in &questions {
        let terms = switchboard::knowledge::search::keywords(q);
        let t = Instant::now();
        let bounded = store
            .knowledge_keyword_search(TENANT, &kb_list, &terms, 20)
            .await
            .expect("bounded");
        bounded_times.push(t.elapsed());
        let any = if kind == "sqlite" {
            terms
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(" OR ")
        } else {
            terms.join(" | ")
        };
        let t = Instant::now();
        let full = store
            .knowledge_keyword_ranking(TENANT, &kb_list, &any, 20)
            .await
            .expect("full");
        full_times.push(t.elapsed());
        same += bounded.iter().filter(|id| full.contains(id)).count();
    }
    bounded_times.sort();
    full_times.sort();
    println!(
        "| {kind} | {size} | keywords alone: bounded {:.2} / {:.2} ms, every match ranked {:.2} / {:.2} ms (p50 / p99) | | | top-20 overlap {:.3} |",
        percentile(&bounded_times, 0.5).as_secs_f64() * 1e3,
        percentile(&bounded_times, 0.99).as_secs_f64() * 1e3,
        percentile(&full_times, 0.5).as_secs_f64() * 1e3,
        percentile(&full_times, 0.99).as_secs_f64() * 1e3,
        same as f64 / (20.0 * questions.len() as f64),
    );
    // A graph over the same vectors: its build, then recall@10 against exact search and
    // latency for several search breadths.
    let graph_from: usize = std::env::var("GRAPH_FROM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    if size >= graph_from {
        let kbs = vec!["docs".to_owned()];
        let filter = Filter {
            kbs: &kbs,
            tags: &[],
        };
        let graphed = VectorIndex::with_ann_min(graph_from * 256);
        let warm = offline_embedding("warm up");
        let built = Instant::now();
        graphed
            .nearest(&store, TENANT, &warm, &filter, 1)
            .await
            .expect("graph warm-up");
        while !graphed.has_graph(TENANT).await {
            assert!(built.elapsed() < Duration::from_secs(1_800), "no graph");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let build = built.elapsed();
        let mut exact_times = Vec::new();
        for q in &questions {
            let vector = offline_embedding(q);
            let t = Instant::now();
            graphed
                .nearest_exact(&store, TENANT, &vector, &filter, 10)
                .await
                .expect("exact");
            exact_times.push(t.elapsed());
        }
        exact_times.sort();
        println!(
            "| {kind} | {size} | vector index alone, exact | {:.2} ms | {:.2} ms | graph build {:.1} s |",
            percentile(&exact_times, 0.5).as_secs_f64() * 1e3,
            percentile(&exact_times, 0.99).as_secs_f64() * 1e3,
            build.as_secs_f64()
        );
        for ef in [64, 128, 256, 512, 1024] {
            let index = graphed.with_ef_search(ef);
            let (mut times, mut agreed) = (Vec::new(), 0);
            for q in &questions {
                let vector = offline_embedding(q);
                let exact = index
                    .nearest_exact(&store, TENANT, &vector, &filter, 10)
                    .await
                    .expect("exact");
                let t = Instant::now();
                let found = index
                    .nearest(&store, TENANT, &vector, &filter, 10)
                    .await
                    .expect("nearest");
                times.push(t.elapsed());
                agreed += found
                    .iter()
                    .filter(|n| exact.iter().any(|e| e.chunk_id == n.chunk_id))
                    .count();
            }
            times.sort();
            println!(
                "| {kind} | {size} | vector index alone, graph ef {ef} | {:.2} ms | {:.2} ms | recall@10 {:.3} |",
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.99).as_secs_f64() * 1e3,
                agreed as f64 / (10.0 * questions.len() as f64),
            );
        }
    }
    drop_database(store, database).await;
    if std::env::var("KEEP_DB").is_ok() {
        eprintln!("kept {}", _dir.keep().display());
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which = std::env::var("BENCH").unwrap_or_else(|_| "all".into());
    let stores = env_list("STORES", "sqlite,postgres");
    if which == "all" || which == "quality" {
        for kind in &stores {
            quality(kind).await;
        }
    }
    if which == "all" || which == "latency" {
        println!("\n| store | chunks | search | p50 | p99 | setup |");
        println!("|---|---|---|---|---|---|");
        for size in env_list("SIZES", "10000,100000") {
            let size: usize = size.parse().expect("SIZES: numbers");
            for kind in &stores {
                latency(kind, size).await;
            }
        }
    }
}
