//! The in-memory vector index: per tenant on this node, every chunk's vector, searched
//! exactly (brute-force cosine; the vectors are unit length, so a dot product) while the
//! tenant's vectors hold fewer than [`ANN_MIN_FLOATS`] floats, and through an HNSW graph
//! (`hnsw_rs`: incremental insert, filtered search) from there: 200,000 chunks of the
//! offline model's 256 dimensions, about 33,000 of a 1,536-dimension model. Exact search
//! stays below that because it measured better there: at 100,000 chunks of the offline
//! embedding it took 13.5 ms and is exact, while the graph (M 16, ef_construction 100)
//! took 31 ms at ef 256 for a recall@10 of 0.67 against exact
//! (`bench/knowledge_search.rs`, docs/benchmarks.md); hashed n-gram vectors of random
//! synthetic text are close to the worst case for a graph, and real embeddings cluster
//! far better. The threshold is where exact search passes about 50 ms of one core,
//! whatever the dimensions. A filter that admits fewer vectors than that (one small
//! knowledge base of a large tenant) is searched exactly too, since a graph walk
//! through mostly filtered-out nodes loses recall. The local PostgreSQL has no
//! pgvector, so both stores use this index.
//!
//! The store is the source of truth. Each tenant's entry remembers the knowledge
//! generation it was built at; a search first reads the store's generation (one
//! primary-key lookup) and, when it differs, reads the stored vectors and applies the
//! difference (chunk ids carry the document version, so a changed document is its old
//! ids gone and new ones added), so a write on any node is seen by the next question
//! and a stale chunk is never returned. A write on this node applies its own difference
//! in place. Removed chunks stay in the graph as tombstones that the search filter
//! skips; past a quarter of the entries they are compacted away and the graph rebuilt.
//! A graph is built in a blocking task while searches go on exactly (about 100 s for
//! 100,000 vectors of 256 floats on two cores), then catches up with what was added
//! meanwhile. One entry is shared by all of the tenant's conversations on the node.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::prelude::Hnsw;
use tokio::sync::RwLock;
use tracing::warn;

use crate::store::{KnowledgeVectorRow, Store, StoreError};

/// From this many floats (live chunks × dimensions) a tenant's vectors are searched
/// through a graph: 200,000 chunks of 256 dimensions.
pub const ANN_MIN_FLOATS: usize = 200_000 * 256;
/// Links per node of the graph (HNSW's M).
const GRAPH_LINKS: usize = 16;
/// Candidates explored while inserting (HNSW's ef_construction).
const EF_CONSTRUCTION: usize = 100;
/// Candidates explored while searching (HNSW's ef), at least twice the hits wanted.
pub const EF_SEARCH: usize = 256;
/// Most layers of the graph.
const GRAPH_LAYERS: usize = 16;

type Graph = Hnsw<'static, f32, CosineDistance>;

/// `1 - dot` of unit vectors, never below zero (`hnsw_rs`'s own `DistDot` asserts
/// that, and rounding can make the dot of a vector with itself exceed 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct CosineDistance;

impl Distance<f32> for CosineDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// The index of every tenant on this node. Cheap to clone.
#[derive(Clone)]
pub struct VectorIndex {
    /// Tenant → its entry. The map lock is held only to find or insert an entry; each
    /// entry has its own lock, so tenants never wait on each other's rebuilds.
    tenants: Arc<Mutex<HashMap<String, Arc<RwLock<TenantIndex>>>>>,
    /// Floats of live vectors from which a tenant gets a graph ([`ANN_MIN_FLOATS`]; lower
    /// in tests and the bench).
    ann_min: usize,
    /// Candidates a graph search explores ([`EF_SEARCH`]; the bench varies it).
    ef_search: usize,
}

impl Default for VectorIndex {
    fn default() -> Self {
        Self::with_ann_min(ANN_MIN_FLOATS)
    }
}

/// Whether a tenant's vectors have a graph.
enum Ann {
    None,
    /// A blocking task is building one for this epoch.
    Building,
    /// Entries `0..covers` are in the graph (the dead ones filtered at search).
    Ready {
        graph: Arc<Graph>,
        covers: usize,
    },
}

/// One tenant's vectors at one generation. Entry `i` is node `i` of the graph.
struct TenantIndex {
    /// The generation built from; -1 before the first build.
    generation: i64,
    dimensions: usize,
    chunk_ids: Vec<String>,
    kbs: Vec<String>,
    tags: Vec<Vec<String>>,
    /// False for a removed chunk (a tombstone until compaction).
    alive: Vec<bool>,
    /// Position of each live chunk id.
    positions: HashMap<String, usize>,
    /// `chunk_ids.len() * dimensions` floats, row-major.
    vectors: Vec<f32>,
    /// Bumped whenever positions are renumbered; a graph built for another is dropped.
    epoch: u64,
    ann: Ann,
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

    /// An index that gives a tenant a graph from `ann_min` floats of live vectors.
    pub fn with_ann_min(ann_min: usize) -> Self {
        Self {
            tenants: Arc::default(),
            ann_min: ann_min.max(1),
            ef_search: EF_SEARCH,
        }
    }

    /// The same index (shared entries) searching its graphs with `ef` candidates.
    pub fn with_ef_search(&self, ef: usize) -> Self {
        Self {
            ef_search: ef.max(1),
            ..self.clone()
        }
    }

    fn entry(&self, tenant_id: &str) -> Arc<RwLock<TenantIndex>> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants
            .entry(tenant_id.to_owned())
            .or_insert_with(|| Arc::new(RwLock::new(TenantIndex::empty(-1))))
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
        let entry = self.current(store, tenant_id).await?;
        let index = entry.read().await;
        Ok(index.nearest(query, filter, k, self.ann_min, self.ef_search))
    }

    /// Like [`Self::nearest`] but always exact (the benchmark's reference for recall).
    pub async fn nearest_exact(
        &self,
        store: &Store,
        tenant_id: &str,
        query: &[f32],
        filter: &Filter<'_>,
        k: usize,
    ) -> Result<Vec<Nearest>, StoreError> {
        let entry = self.current(store, tenant_id).await?;
        let index = entry.read().await;
        Ok(index.exact(query, filter, k))
    }

    /// The tenant's entry, brought to the store's generation.
    async fn current(
        &self,
        store: &Store,
        tenant_id: &str,
    ) -> Result<Arc<RwLock<TenantIndex>>, StoreError> {
        let entry = self.entry(tenant_id);
        let current = store.knowledge_generation(tenant_id).await?;
        if entry.read().await.generation == current {
            return Ok(entry);
        }
        let mut index = entry.write().await;
        if index.generation != current {
            let (generation, rows) = store.knowledge_vectors(tenant_id).await?;
            index.sync(generation, rows);
            metrics::counter!("switchboard_knowledge_index_rebuilds_total").increment(1);
        }
        self.maintain(&entry, &mut index);
        drop(index);
        Ok(entry)
    }

    /// A write on this node replaced the chunks whose ids start with `removed_prefix`
    /// with `added`, producing `generation`: applied in place when the entry was at the
    /// generation just before, else the entry catches up on its next search.
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
            index.remove_where(|id| id.starts_with(removed_prefix));
            for row in added {
                index.push(row);
            }
            index.catch_up_graph();
            index.generation = generation;
            self.maintain(&entry, &mut index);
        }
    }

    /// Compacts tombstones and starts a graph build when the tenant is large enough.
    fn maintain(&self, entry: &Arc<RwLock<TenantIndex>>, index: &mut TenantIndex) {
        let dead = index.chunk_ids.len() - index.positions.len();
        if dead > 1_000 && dead * 4 > index.chunk_ids.len() {
            index.compact();
        }
        if index.positions.len() * index.dimensions >= self.ann_min
            && matches!(index.ann, Ann::None)
        {
            start_graph(entry.clone(), index);
        }
    }

    /// How many live vectors the tenant's entry holds (for tests and the bench).
    pub async fn len(&self, tenant_id: &str) -> usize {
        self.entry(tenant_id).read().await.positions.len()
    }

    /// Whether the tenant's searches go through a graph now (for tests and the bench).
    pub async fn has_graph(&self, tenant_id: &str) -> bool {
        matches!(self.entry(tenant_id).read().await.ann, Ann::Ready { .. })
    }
}

/// Builds a graph of `index`'s live vectors in a blocking task; searches stay exact
/// until it is in place, and what was added meanwhile is inserted then.
fn start_graph(entry: Arc<RwLock<TenantIndex>>, index: &mut TenantIndex) {
    index.ann = Ann::Building;
    let epoch = index.epoch;
    let covers = index.chunk_ids.len();
    let dims = index.dimensions;
    let vectors = index.vectors.clone();
    let alive = index.alive.clone();
    tokio::spawn(async move {
        let built = tokio::task::spawn_blocking(move || {
            catch_unwind(AssertUnwindSafe(|| {
                let graph = Graph::new(
                    GRAPH_LINKS,
                    covers,
                    GRAPH_LAYERS,
                    EF_CONSTRUCTION,
                    CosineDistance,
                );
                let points: Vec<(&[f32], usize)> = vectors
                    .chunks_exact(dims)
                    .enumerate()
                    .filter(|(i, _)| alive[*i])
                    .map(|(i, v)| (v, i))
                    .collect();
                graph.parallel_insert_slice(&points);
                graph
            }))
        })
        .await;
        let mut index = entry.write().await;
        if index.epoch != epoch {
            index.ann = Ann::None; // renumbered meanwhile: the next write or search restarts
            return;
        }
        match built {
            Ok(Ok(graph)) => {
                index.ann = Ann::Ready {
                    graph: Arc::new(graph),
                    covers,
                };
                index.catch_up_graph();
                metrics::counter!("switchboard_knowledge_graph_builds_total").increment(1);
            }
            _ => {
                warn!("knowledge vector graph build failed; searches stay exact");
                index.ann = Ann::None;
            }
        }
    });
}

impl TenantIndex {
    fn empty(generation: i64) -> Self {
        TenantIndex {
            generation,
            dimensions: 0,
            chunk_ids: Vec::new(),
            kbs: Vec::new(),
            tags: Vec::new(),
            alive: Vec::new(),
            positions: HashMap::new(),
            vectors: Vec::new(),
            epoch: 0,
            ann: Ann::None,
        }
    }

    /// Brings the entry to `rows` (every stored vector of the tenant at `generation`):
    /// chunks no longer stored become tombstones, new ones are added, changed tags
    /// updated. A first build, or one whose dimensions changed, starts afresh.
    fn sync(&mut self, generation: i64, rows: Vec<KnowledgeVectorRow>) {
        let fresh = self.generation < 0
            || rows
                .first()
                .is_some_and(|r| self.dimensions != 0 && r.embedding.len() != self.dimensions);
        if fresh {
            let epoch = self.epoch + 1;
            *self = TenantIndex::empty(generation);
            self.epoch = epoch;
            for row in rows {
                self.push(row);
            }
            return;
        }
        let stored: HashSet<&str> = rows.iter().map(|r| r.chunk_id.as_str()).collect();
        let gone: HashSet<String> = self
            .positions
            .keys()
            .filter(|id| !stored.contains(id.as_str()))
            .cloned()
            .collect();
        self.remove_where(|id| gone.contains(id));
        for row in rows {
            match self.positions.get(&row.chunk_id) {
                Some(&at) => {
                    let tags: Vec<String> = serde_json::from_str(&row.tags).unwrap_or_default();
                    if self.tags[at] != tags {
                        self.tags[at] = tags;
                    }
                }
                None => self.push(row),
            }
        }
        self.catch_up_graph();
        self.generation = generation;
    }

    fn push(&mut self, row: KnowledgeVectorRow) {
        if self.positions.is_empty() {
            self.dimensions = row.embedding.len();
        }
        // Vectors of another length (another embedding model) cannot be compared;
        // their documents are re-embedded when uploaded again.
        if row.embedding.len() != self.dimensions
            || self.dimensions == 0
            || self.positions.contains_key(&row.chunk_id)
        {
            return;
        }
        if self.vectors.len() != self.chunk_ids.len() * self.dimensions {
            // Only tombstones of another length are left: start over.
            let epoch = self.epoch + 1;
            *self = TenantIndex::empty(self.generation);
            self.epoch = epoch;
            self.dimensions = row.embedding.len();
        }
        self.positions
            .insert(row.chunk_id.clone(), self.chunk_ids.len());
        self.chunk_ids.push(row.chunk_id);
        self.kbs.push(row.kb);
        self.tags
            .push(serde_json::from_str(&row.tags).unwrap_or_default());
        self.alive.push(true);
        self.vectors.extend_from_slice(&row.embedding);
    }

    fn remove_where(&mut self, gone: impl Fn(&str) -> bool) {
        let removed: Vec<String> = self
            .positions
            .keys()
            .filter(|id| gone(id))
            .cloned()
            .collect();
        for id in removed {
            if let Some(at) = self.positions.remove(&id) {
                self.alive[at] = false;
            }
        }
    }

    /// Inserts into the graph the entries added since it was built.
    fn catch_up_graph(&mut self) {
        let Ann::Ready { graph, covers } = &mut self.ann else {
            return;
        };
        let dims = self.dimensions;
        let from = *covers;
        let to = self.chunk_ids.len();
        let vectors = &self.vectors;
        let alive = &self.alive;
        let inserted = catch_unwind(AssertUnwindSafe(|| {
            for i in from..to {
                if alive[i] {
                    graph.insert_slice((&vectors[i * dims..(i + 1) * dims], i));
                }
            }
        }));
        match inserted {
            Ok(()) => *covers = to,
            Err(_) => {
                warn!("knowledge vector graph insert failed; rebuilding");
                self.ann = Ann::None;
            }
        }
    }

    /// Drops the tombstones, renumbering the entries; the graph is rebuilt.
    fn compact(&mut self) {
        let dims = self.dimensions;
        let mut next = TenantIndex::empty(self.generation);
        next.epoch = self.epoch + 1;
        next.dimensions = dims;
        for i in 0..self.chunk_ids.len() {
            if self.alive[i] {
                next.positions
                    .insert(self.chunk_ids[i].clone(), next.chunk_ids.len());
                next.chunk_ids.push(std::mem::take(&mut self.chunk_ids[i]));
                next.kbs.push(std::mem::take(&mut self.kbs[i]));
                next.tags.push(std::mem::take(&mut self.tags[i]));
                next.alive.push(true);
                next.vectors
                    .extend_from_slice(&self.vectors[i * dims..(i + 1) * dims]);
            }
        }
        *self = next;
    }

    fn admitted(&self, i: usize, filter: &Filter<'_>) -> bool {
        self.alive[i] && filter.admits(&self.kbs[i], &self.tags[i])
    }

    fn nearest(
        &self,
        query: &[f32],
        filter: &Filter<'_>,
        k: usize,
        ann_min: usize,
        ef: usize,
    ) -> Vec<Nearest> {
        if query.len() != self.dimensions || k == 0 {
            return Vec::new();
        }
        let Ann::Ready { graph, covers } = &self.ann else {
            return self.exact(query, filter, k);
        };
        let admitted = (0..self.chunk_ids.len())
            .filter(|i| self.admitted(*i, filter))
            .count();
        if admitted * self.dimensions < ann_min {
            return self.exact(query, filter, k);
        }
        let admits = |id: &usize| *id < *covers && self.admitted(*id, filter);
        let found = catch_unwind(AssertUnwindSafe(|| {
            graph.search_filter(query, k, ef.max(2 * k), Some(&admits))
        }));
        match found {
            Ok(neighbours) => neighbours
                .into_iter()
                .filter(|n| n.d_id < self.chunk_ids.len())
                .map(|n| Nearest {
                    chunk_id: self.chunk_ids[n.d_id].clone(),
                    similarity: dot(
                        &self.vectors[n.d_id * self.dimensions..][..self.dimensions],
                        query,
                    ),
                })
                .collect(),
            Err(_) => {
                warn!("knowledge vector graph search failed; searching exactly");
                self.exact(query, filter, k)
            }
        }
    }

    fn exact(&self, query: &[f32], filter: &Filter<'_>, k: usize) -> Vec<Nearest> {
        if query.len() != self.dimensions || k == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(f32, usize)> = self
            .vectors
            .chunks_exact(self.dimensions)
            .enumerate()
            .filter(|(i, _)| self.admitted(*i, filter))
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

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
