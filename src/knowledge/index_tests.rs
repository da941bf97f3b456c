//! The vector index on its own: the graph agrees with exact search, removed chunks are
//! never returned (tombstones, compaction), chunks added after a build are found, and a
//! refresh from the stored rows applies only the difference.

use std::time::{Duration, Instant};

use super::*;

/// Deterministic unit vectors (splitmix64), `dims` long.
fn vectors(seed: u64, count: usize, dims: usize) -> Vec<Vec<f32>> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) as f64 / u64::MAX as f64) as f32 - 0.5
    };
    (0..count)
        .map(|_| {
            let v: Vec<f32> = (0..dims).map(|_| next()).collect();
            let norm = dot(&v, &v).sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect()
}

fn row(kb: &str, id: &str, embedding: Vec<f32>) -> KnowledgeVectorRow {
    KnowledgeVectorRow {
        chunk_id: id.to_owned(),
        kb: kb.to_owned(),
        tags: "[]".into(),
        embedding,
    }
}

fn rows(prefix: &str, vectors: &[Vec<f32>]) -> Vec<KnowledgeVectorRow> {
    vectors
        .iter()
        .enumerate()
        .map(|(i, v)| row("kb", &format!("{prefix}{i}"), v.clone()))
        .collect()
}

fn kbs() -> Vec<String> {
    vec!["kb".to_owned()]
}

/// An entry built from `rows` with its graph in place.
async fn with_graph(rows: Vec<KnowledgeVectorRow>) -> Arc<RwLock<TenantIndex>> {
    let mut index = TenantIndex::empty(-1);
    index.sync(1, rows);
    let entry = Arc::new(RwLock::new(index));
    start_graph(entry.clone(), &mut *entry.write().await);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(entry.read().await.ann, Ann::Ready { .. }) {
        assert!(Instant::now() < deadline, "the graph was not built in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    entry
}

fn ids(found: &[Nearest]) -> Vec<&str> {
    found.iter().map(|n| n.chunk_id.as_str()).collect()
}

#[tokio::test]
async fn the_graph_finds_what_exact_search_finds() {
    let data = vectors(1, 3_000, 32);
    let entry = with_graph(rows("kb/d/1/", &data)).await;
    let index = entry.read().await;
    let filter = Filter {
        kbs: &kbs(),
        tags: &[],
    };
    let queries = vectors(2, 50, 32);
    let mut agreed = 0;
    for q in &queries {
        let exact = index.exact(q, &filter, 10);
        let approximate = index.nearest(q, &filter, 10, 1_000 * 32, EF_SEARCH);
        assert_eq!(approximate.len(), 10);
        agreed += ids(&approximate)
            .iter()
            .filter(|id| ids(&exact).contains(id))
            .count();
        // Similarities are exact even when found through the graph.
        let best = &approximate[0];
        let at = index.positions[&best.chunk_id];
        assert!((best.similarity - dot(&data[at], q)).abs() < 1e-5);
    }
    let recall = agreed as f64 / (10.0 * queries.len() as f64);
    assert!(recall >= 0.9, "recall@10 {recall}");
    // A vector's own nearest is itself, found through the graph.
    assert_eq!(
        ids(&index.nearest(&data[42], &filter, 1, 1_000 * 32, EF_SEARCH)),
        ["kb/d/1/42"]
    );
    // Below the threshold (or a filter admitting fewer), the search is exact.
    assert_eq!(
        index.nearest(&queries[0], &filter, 10, 10_000 * 32, EF_SEARCH),
        index.exact(&queries[0], &filter, 10)
    );
}

#[tokio::test]
async fn removed_chunks_are_never_found_and_added_ones_are() {
    let data = vectors(3, 2_000, 16);
    let entry = with_graph(rows("kb/a/1/", &data)).await;
    let mut index = entry.write().await;
    let filter_kbs = kbs();
    let filter = Filter {
        kbs: &filter_kbs,
        tags: &[],
    };
    // Half of them gone (document `a` version 1 replaced by version 2).
    index.remove_where(|id| id.starts_with("kb/a/1/1"));
    let fresh = vectors(4, 100, 16);
    for r in rows("kb/a/2/", &fresh) {
        index.push(r);
    }
    index.catch_up_graph();
    assert!(matches!(index.ann, Ann::Ready { covers, .. } if covers == 2_100));
    for (i, v) in data.iter().enumerate().take(300) {
        let found = index.nearest(v, &filter, 5, 500 * 16, EF_SEARCH);
        let own = format!("kb/a/1/{i}");
        if own.starts_with("kb/a/1/1") {
            assert!(!ids(&found).contains(&own.as_str()), "{own} was removed");
        } else {
            assert_eq!(found[0].chunk_id, own);
        }
    }
    assert_eq!(
        ids(&index.nearest(&fresh[7], &filter, 1, 500 * 16, EF_SEARCH)),
        ["kb/a/2/7"]
    );
    // Compaction keeps exactly the live ones, renumbered.
    let live = index.positions.len();
    index.compact();
    assert_eq!(index.chunk_ids.len(), live);
    assert!(index.alive.iter().all(|a| *a));
    assert!(matches!(index.ann, Ann::None));
    assert_eq!(ids(&index.exact(&fresh[7], &filter, 1)), ["kb/a/2/7"]);
}

#[tokio::test]
async fn a_refresh_applies_only_the_difference() {
    let data = vectors(5, 10, 8);
    let mut index = TenantIndex::empty(-1);
    index.sync(1, rows("kb/a/1/", &data));
    let epoch = index.epoch;
    // Another node replaced chunk 0..5 with version 2 and tagged the rest.
    let mut stored: Vec<KnowledgeVectorRow> = rows("kb/a/1/", &data)
        .into_iter()
        .skip(5)
        .map(|mut r| {
            r.tags = r#"["policy"]"#.into();
            r
        })
        .collect();
    stored.extend(rows("kb/a/2/", &data[..5]));
    index.sync(2, stored);
    assert_eq!(index.generation, 2);
    assert_eq!(index.epoch, epoch, "not rebuilt from scratch");
    assert_eq!(index.positions.len(), 10);
    assert_eq!(index.chunk_ids.len(), 15, "five tombstones");
    let tags = vec!["policy".to_owned()];
    let filter_kbs = kbs();
    let tagged = Filter {
        kbs: &filter_kbs,
        tags: &tags,
    };
    let found = index.exact(&data[0], &tagged, 10);
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|n| n.chunk_id.starts_with("kb/a/1/")));
    let all = Filter {
        kbs: &filter_kbs,
        tags: &[],
    };
    assert_eq!(ids(&index.exact(&data[0], &all, 1)), ["kb/a/2/0"]);
}
