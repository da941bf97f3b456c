//! The in-memory vector index: per tenant on this node, every chunk's vector in one
//! flat array, searched by brute-force cosine (the vectors are unit length, so a dot
//! product). No approximate-nearest-neighbour crate: exact search over a tenant's
//! chunks measured at 100k chunks in `bench/knowledge_search.rs` (docs/benchmarks.md)
//! is fast enough for a turn, has no recall loss, and needs no tuning or rebuild
//! heuristics. The local PostgreSQL has no pgvector, so both stores use this index.
//!
//! The store is the source of truth. Each tenant's entry remembers the knowledge
//! generation it was built at; a search first reads the store's generation (one
//! primary-key lookup) and rebuilds the entry from the stored vectors when they differ,
//! so a write on any node is seen by the next question and a stale chunk is never
//! returned. A write on this node updates its entry in place (remove the document's
//! chunks, add the new ones) when the entry was current just before that write. One
//! entry is shared by all of the tenant's conversations on the node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::RwLock;

use crate::store::{KnowledgeVectorRow, Store, StoreError};

/// The index of every tenant on this node. Cheap to clone.
#[derive(Clone, Default)]
pub struct VectorIndex {
    /// Tenant → its entry. The map lock is held only to find or insert an entry; each
    /// entry has its own lock, so tenants never wait on each other's rebuilds.
    tenants: Arc<Mutex<HashMap<String, Arc<RwLock<TenantIndex>>>>>,
}

/// One tenant's vectors at one generation.
#[derive(Default)]
struct TenantIndex {
    /// The generation built from; -1 before the first build.
    generation: i64,
    dimensions: usize,
    chunk_ids: Vec<String>,
    kbs: Vec<String>,
    tags: Vec<Vec<String>>,
    /// `chunk_ids.len() * dimensions` floats, row-major.
    vectors: Vec<f32>,
}

/// A nearest chunk and its cosine similarity to the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    pub chunk_id: String,
    pub similarity: f32,
}

/// What a search may look at.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub kbs: &'a [String],
    /// Every tag listed must be on the chunk's document.
    pub tags: &'a [String],
}

impl Filter<'_> {
    fn admits(&self, kb: &str, tags: &[String]) -> bool {
        self.kbs.iter().any(|k| k == kb) && self.tags.iter().all(|t| tags.contains(t))
    }
}

impl VectorIndex {
    pub fn new() -> Self {
        Self::default()
    }

    fn entry(&self, tenant_id: &str) -> Arc<RwLock<TenantIndex>> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants
            .entry(tenant_id.to_owned())
            .or_insert_with(|| {
                Arc::new(RwLock::new(TenantIndex {
                    generation: -1,
                    ..TenantIndex::default()
                }))
            })
            .clone()
    }

    /// The `k` chunks nearest to `query` among those `filter` admits, best first, read
    /// from an entry at the store's current generation.
    pub async fn nearest(
        &self,
        store: &Store,
        tenant_id: &str,
        query: &[f32],
        filter: &Filter<'_>,
        k: usize,
    ) -> Result<Vec<Nearest>, StoreError> {
        let entry = self.entry(tenant_id);
        let current = store.knowledge_generation(tenant_id).await?;
        {
            let index = entry.read().await;
            if index.generation == current {
                return Ok(index.nearest(query, filter, k));
            }
        }
        let mut index = entry.write().await;
        if index.generation != current {
            let (generation, rows) = store.knowledge_vectors(tenant_id).await?;
            *index = TenantIndex::build(generation, rows);
            metrics::counter!("switchboard_knowledge_index_rebuilds_total").increment(1);
        }
        Ok(index.nearest(query, filter, k))
    }

    /// A write on this node replaced `doc_prefix`'s chunks (ids starting with it) with
    /// `added`, producing `generation`: applied in place when the entry was at the
    /// generation just before, else the entry is left to rebuild on its next search.
    pub async fn apply(
        &self,
        tenant_id: &str,
        generation: i64,
        removed_prefix: &str,
        added: Vec<KnowledgeVectorRow>,
    ) {
        let entry = self.entry(tenant_id);
        let mut index = entry.write().await;
        if index.generation == generation - 1 {
            index.remove_prefix(removed_prefix);
            for row in added {
                index.push(row);
            }
            index.generation = generation;
        }
    }

    /// How many vectors the tenant's entry holds (for tests and the bench).
    pub async fn len(&self, tenant_id: &str) -> usize {
        self.entry(tenant_id).read().await.chunk_ids.len()
    }
}

impl TenantIndex {
    fn build(generation: i64, rows: Vec<KnowledgeVectorRow>) -> Self {
        let mut index = TenantIndex {
            generation,
            ..TenantIndex::default()
        };
        for row in rows {
            index.push(row);
        }
        index
    }

    fn push(&mut self, row: KnowledgeVectorRow) {
        if self.chunk_ids.is_empty() {
            self.dimensions = row.embedding.len();
        }
        // Vectors of another length (another embedding model) cannot be compared;
        // their documents are re-embedded when uploaded again.
        if row.embedding.len() != self.dimensions || self.dimensions == 0 {
            return;
        }
        self.chunk_ids.push(row.chunk_id);
        self.kbs.push(row.kb);
        self.tags
            .push(serde_json::from_str(&row.tags).unwrap_or_default());
        self.vectors.extend_from_slice(&row.embedding);
    }

    fn remove_prefix(&mut self, prefix: &str) {
        let keep: Vec<bool> = self
            .chunk_ids
            .iter()
            .map(|id| !id.starts_with(prefix))
            .collect();
        if keep.iter().all(|k| *k) {
            return;
        }
        let dims = self.dimensions;
        let mut vectors = Vec::with_capacity(self.vectors.len());
        for (i, kept) in keep.iter().enumerate() {
            if *kept {
                vectors.extend_from_slice(&self.vectors[i * dims..(i + 1) * dims]);
            }
        }
        self.vectors = vectors;
        let mut flags = keep.iter();
        self.chunk_ids.retain(|_| *flags.next().unwrap_or(&false));
        let mut flags = keep.iter();
        self.kbs.retain(|_| *flags.next().unwrap_or(&false));
        let mut flags = keep.iter();
        self.tags.retain(|_| *flags.next().unwrap_or(&false));
        if self.chunk_ids.is_empty() {
            self.dimensions = 0;
        }
    }

    fn nearest(&self, query: &[f32], filter: &Filter<'_>, k: usize) -> Vec<Nearest> {
        if query.len() != self.dimensions || k == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(f32, usize)> = self
            .vectors
            .chunks_exact(self.dimensions)
            .enumerate()
            .filter(|(i, _)| filter.admits(&self.kbs[*i], &self.tags[*i]))
            .map(|(i, v)| (dot(v, query), i))
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(k);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .map(|(similarity, i)| Nearest {
                chunk_id: self.chunk_ids[i].clone(),
                similarity,
            })
            .collect()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
