//! Knowledge bases, their documents and chunks (`knowledge_*`): the source of truth of
//! retrieval. A document's chunks are replaced in one transaction, with the tenant's
//! knowledge generation bumped in the same commit, so a search that sees the new
//! generation sees exactly the new chunks. Keyword ranking is the database's own: FTS5
//! BM25 on SQLite, `ts_rank` over a generated `tsvector` on PostgreSQL.

use sqlx::Acquire;

use super::{Dialect, Store, StoreError, now_ms};

/// A knowledge base and how many documents it holds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KnowledgeBaseRow {
    pub name: String,
    pub description: String,
    pub created_at: i64,
    pub documents: i64,
}

/// A stored document (without its chunks). `tags` is a JSON array of strings.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KnowledgeDocumentRow {
    pub tenant_id: String,
    pub kb: String,
    pub doc_id: String,
    pub title: String,
    pub source: String,
    pub format: String,
    pub tags: String,
    pub content_hash: String,
    pub embedding_model: String,
    pub version: i64,
    pub chunks: i64,
    pub updated_at: i64,
}

/// A chunk to store with its document.
#[derive(Debug, Clone)]
pub struct NewKnowledgeChunk {
    pub title: String,
    pub anchor: String,
    pub body: String,
    pub embedding: Vec<f32>,
}

/// A stored chunk, as search returns it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KnowledgeChunkRow {
    pub chunk_id: String,
    pub kb: String,
    pub doc_id: String,
    pub ordinal: i64,
    pub version: i64,
    pub title: String,
    pub anchor: String,
    pub source: String,
    pub tags: String,
    pub body: String,
}

/// A chunk's vector and what search filters it by: what an in-memory index is built from.
#[derive(Debug, Clone)]
pub struct KnowledgeVectorRow {
    pub chunk_id: String,
    pub kb: String,
    pub tags: String,
    pub embedding: Vec<f32>,
}

const DOCUMENT_COLUMNS: &str = "tenant_id, kb, doc_id, title, source, format, tags, \
    content_hash, embedding_model, version, chunks, updated_at";

const CHUNK_COLUMNS: &str =
    "chunk_id, kb, doc_id, ordinal, version, title, anchor, source, tags, body";

/// f32s as little-endian bytes, the stored form of an embedding.
pub fn embedding_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The stored form back to f32s; `None` when its length is not a multiple of 4.
pub fn embedding_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

impl Store {
    /// Creates a knowledge base or updates its description; true when it was created.
    pub async fn put_knowledge_base(
        &self,
        tenant_id: &str,
        name: &str,
        description: &str,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO knowledge_bases (tenant_id, name, description, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, name) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(name)
        .bind(description)
        .bind(now_ms())
        .execute(&self.writer)
        .await?
        .rows_affected();
        if inserted == 0 {
            sqlx::query(
                "UPDATE knowledge_bases SET description = $3 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(description)
            .execute(&self.writer)
            .await?;
        }
        Ok(inserted > 0)
    }

    /// The tenant's knowledge bases, by name, with their document counts.
    pub async fn knowledge_bases(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<KnowledgeBaseRow>, StoreError> {
        Ok(sqlx::query_as::<_, KnowledgeBaseRow>(
            "SELECT b.name, b.description, b.created_at, \
             (SELECT COUNT(*) FROM knowledge_documents d \
              WHERE d.tenant_id = b.tenant_id AND d.kb = b.name) AS documents \
             FROM knowledge_bases b WHERE b.tenant_id = $1 ORDER BY b.name",
        )
        .bind(tenant_id)
        .fetch_all(&self.reader)
        .await?)
    }

    /// Deletes a knowledge base with its documents and chunks; false when there was none.
    pub async fn delete_knowledge_base(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        for sql in [
            "DELETE FROM knowledge_chunks WHERE tenant_id = $1 AND kb = $2",
            "DELETE FROM knowledge_documents WHERE tenant_id = $1 AND kb = $2",
        ] {
            sqlx::query(sql)
                .bind(tenant_id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        let deleted = sqlx::query("DELETE FROM knowledge_bases WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        bump_generation(&mut tx, tenant_id).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// One document's row.
    pub async fn knowledge_document(
        &self,
        tenant_id: &str,
        kb: &str,
        doc_id: &str,
    ) -> Result<Option<KnowledgeDocumentRow>, StoreError> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM knowledge_documents \
             WHERE tenant_id = $1 AND kb = $2 AND doc_id = $3"
        );
        Ok(
            sqlx::query_as::<_, KnowledgeDocumentRow>(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(kb)
                .bind(doc_id)
                .fetch_optional(&self.writer)
                .await?,
        )
    }

    /// A knowledge base's documents, by id.
    pub async fn knowledge_documents(
        &self,
        tenant_id: &str,
        kb: &str,
    ) -> Result<Vec<KnowledgeDocumentRow>, StoreError> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM knowledge_documents \
             WHERE tenant_id = $1 AND kb = $2 ORDER BY doc_id"
        );
        Ok(
            sqlx::query_as::<_, KnowledgeDocumentRow>(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(kb)
                .fetch_all(&self.reader)
                .await?,
        )
    }

    /// Replaces a document and all of its chunks in one transaction, and bumps the
    /// tenant's knowledge generation. Chunk ids are `{kb}/{doc}/{version}/{ordinal}`, so a
    /// new version never reuses an old chunk's id. Returns the new generation.
    pub async fn replace_knowledge_document(
        &self,
        doc: &KnowledgeDocumentRow,
        chunks: &[NewKnowledgeChunk],
    ) -> Result<i64, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query(
            "DELETE FROM knowledge_chunks WHERE tenant_id = $1 AND kb = $2 AND doc_id = $3",
        )
        .bind(&doc.tenant_id)
        .bind(&doc.kb)
        .bind(&doc.doc_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO knowledge_documents (tenant_id, kb, doc_id, title, source, format, tags, \
             content_hash, embedding_model, version, chunks, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (tenant_id, kb, doc_id) DO UPDATE SET title = $4, source = $5, \
             format = $6, tags = $7, content_hash = $8, embedding_model = $9, version = $10, \
             chunks = $11, updated_at = $12",
        )
        .bind(&doc.tenant_id)
        .bind(&doc.kb)
        .bind(&doc.doc_id)
        .bind(&doc.title)
        .bind(&doc.source)
        .bind(&doc.format)
        .bind(&doc.tags)
        .bind(&doc.content_hash)
        .bind(&doc.embedding_model)
        .bind(doc.version)
        .bind(doc.chunks)
        .bind(doc.updated_at)
        .execute(&mut *tx)
        .await?;
        for (ordinal, chunk) in chunks.iter().enumerate() {
            sqlx::query(
                "INSERT INTO knowledge_chunks (tenant_id, chunk_id, kb, doc_id, ordinal, version, \
                 title, anchor, source, tags, body, embedding) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&doc.tenant_id)
            .bind(chunk_id(&doc.kb, &doc.doc_id, doc.version, ordinal))
            .bind(&doc.kb)
            .bind(&doc.doc_id)
            .bind(ordinal as i64)
            .bind(doc.version)
            .bind(&chunk.title)
            .bind(&chunk.anchor)
            .bind(&doc.source)
            .bind(&doc.tags)
            .bind(&chunk.body)
            .bind(embedding_bytes(&chunk.embedding))
            .execute(&mut *tx)
            .await?;
        }
        let generation = bump_generation(&mut tx, &doc.tenant_id).await?;
        tx.commit().await?;
        Ok(generation)
    }

    /// Updates a document's metadata only (same content): title, source and tags, on the
    /// document and its chunks. Returns the new generation.
    pub async fn update_knowledge_document_meta(
        &self,
        doc: &KnowledgeDocumentRow,
    ) -> Result<i64, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query(
            "UPDATE knowledge_documents SET title = $4, source = $5, tags = $6, updated_at = $7 \
             WHERE tenant_id = $1 AND kb = $2 AND doc_id = $3",
        )
        .bind(&doc.tenant_id)
        .bind(&doc.kb)
        .bind(&doc.doc_id)
        .bind(&doc.title)
        .bind(&doc.source)
        .bind(&doc.tags)
        .bind(doc.updated_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE knowledge_chunks SET source = $4, tags = $5 \
             WHERE tenant_id = $1 AND kb = $2 AND doc_id = $3",
        )
        .bind(&doc.tenant_id)
        .bind(&doc.kb)
        .bind(&doc.doc_id)
        .bind(&doc.source)
        .bind(&doc.tags)
        .execute(&mut *tx)
        .await?;
        let generation = bump_generation(&mut tx, &doc.tenant_id).await?;
        tx.commit().await?;
        Ok(generation)
    }

    /// Deletes a document and its chunks; `None` when there was none, else the new
    /// generation.
    pub async fn delete_knowledge_document(
        &self,
        tenant_id: &str,
        kb: &str,
        doc_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM knowledge_documents WHERE tenant_id = $1 AND kb = $2 AND doc_id = $3",
        )
        .bind(tenant_id)
        .bind(kb)
        .bind(doc_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Ok(None);
        }
        sqlx::query(
            "DELETE FROM knowledge_chunks WHERE tenant_id = $1 AND kb = $2 AND doc_id = $3",
        )
        .bind(tenant_id)
        .bind(kb)
        .bind(doc_id)
        .execute(&mut *tx)
        .await?;
        let generation = bump_generation(&mut tx, tenant_id).await?;
        tx.commit().await?;
        Ok(Some(generation))
    }

    /// The tenant's knowledge generation: 0 before its first knowledge write.
    pub async fn knowledge_generation(&self, tenant_id: &str) -> Result<i64, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT generation FROM knowledge_generations WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map_or(0, |(g,)| g))
    }

    /// Every vector of the tenant with the generation it belongs to, read in one
    /// transaction so the two agree.
    pub async fn knowledge_vectors(
        &self,
        tenant_id: &str,
    ) -> Result<(i64, Vec<KnowledgeVectorRow>), StoreError> {
        let mut conn = self.reader.acquire().await?;
        let mut tx = conn.begin().await?;
        let generation: Option<(i64,)> =
            sqlx::query_as("SELECT generation FROM knowledge_generations WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
        let rows: Vec<(String, String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT chunk_id, kb, tags, embedding FROM knowledge_chunks WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let vectors = rows
            .into_iter()
            .map(|(chunk_id, kb, tags, bytes)| {
                let embedding = embedding_from_bytes(&bytes).ok_or_else(|| {
                    StoreError::Corrupt(format!("knowledge chunk {chunk_id}: bad embedding"))
                })?;
                Ok(KnowledgeVectorRow {
                    chunk_id,
                    kb,
                    tags,
                    embedding,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((generation.map_or(0, |(g,)| g), vectors))
    }

    /// The tenant's chunks with these ids (any order; unknown ids are left out).
    pub async fn knowledge_chunks(
        &self,
        tenant_id: &str,
        chunk_ids: &[String],
    ) -> Result<Vec<KnowledgeChunkRow>, StoreError> {
        if chunk_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..chunk_ids.len())
            .map(|i| format!("${}", i + 2))
            .collect();
        let sql = format!(
            "SELECT {CHUNK_COLUMNS} FROM knowledge_chunks WHERE tenant_id = $1 AND chunk_id IN ({})",
            placeholders.join(", ")
        );
        let mut query =
            sqlx::query_as::<_, KnowledgeChunkRow>(sqlx::AssertSqlSafe(sql)).bind(tenant_id);
        for id in chunk_ids {
            query = query.bind(id);
        }
        Ok(query.fetch_all(&self.reader).await?)
    }

    /// One chunk's vector.
    pub async fn knowledge_chunk_vector(
        &self,
        tenant_id: &str,
        chunk_id: &str,
    ) -> Result<Option<Vec<f32>>, StoreError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as(
            "SELECT embedding FROM knowledge_chunks WHERE tenant_id = $1 AND chunk_id = $2",
        )
        .bind(tenant_id)
        .bind(chunk_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.and_then(|(bytes,)| embedding_from_bytes(&bytes)))
    }

    /// Keyword search: the ids of the tenant's chunks in `kbs` matching `terms`, best
    /// first (BM25 on SQLite, `ts_rank` on PostgreSQL), at most `limit`. `terms` must be
    /// plain words (letters and digits); the caller tokenises the question.
    ///
    /// On SQLite the ranking runs over a bounded candidate set: first the chunks holding
    /// at least three of the terms (any three of the first [`COMBINED_TERMS`]), then,
    /// when fewer than `limit` do, at least two, and only then any one (exactly the
    /// unbounded ranking). The best BM25 scores are among the chunks holding several
    /// terms, and FTS5 finds those from its doclists alone, so what is joined and ranked
    /// stays near `limit` rows instead of every match (at 100k chunks, half the time;
    /// docs/benchmarks.md). A chunk that repeats one term many times can rank above them
    /// in the full ranking and be missed; docs/knowledge.md gives the evaluation set's
    /// figures. On PostgreSQL the same candidate set measured twice as slow as ranking
    /// every match: `ts_rank` reads each candidate's `tsvector` from the heap either way,
    /// and the OR of ANDs is costly to evaluate per row; so it ranks every match.
    pub async fn knowledge_keyword_search(
        &self,
        tenant_id: &str,
        kbs: &[String],
        terms: &[String],
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        if terms.is_empty() || kbs.is_empty() {
            return Ok(Vec::new());
        }
        let levels = match self.dialect {
            Dialect::Sqlite => terms.len().min(3),
            Dialect::Postgres => 1,
        };
        for at_least in (2..=levels).rev() {
            let found = self
                .knowledge_keyword_ranking(
                    tenant_id,
                    kbs,
                    &self.combinations_query(terms, at_least),
                    limit,
                )
                .await?;
            if found.len() as i64 >= limit {
                return Ok(found);
            }
        }
        self.knowledge_keyword_ranking(tenant_id, kbs, &self.combinations_query(terms, 1), limit)
            .await
    }

    /// The full-text query matching chunks that hold `at_least` of `terms` (of the
    /// first [`COMBINED_TERMS`] when `at_least` > 1): an OR of ANDs.
    fn combinations_query(&self, terms: &[String], at_least: usize) -> String {
        let (and, or) = match self.dialect {
            Dialect::Sqlite => (" AND ", " OR "),
            Dialect::Postgres => (" & ", " | "),
        };
        let quote = |t: &String| match self.dialect {
            Dialect::Sqlite => format!("\"{t}\""),
            Dialect::Postgres => t.clone(),
        };
        if at_least <= 1 {
            return terms.iter().map(quote).collect::<Vec<_>>().join(or);
        }
        combinations(&terms[..terms.len().min(COMBINED_TERMS)], at_least)
            .iter()
            .map(|group| {
                let group: Vec<String> = group.iter().map(|t| quote(t)).collect();
                format!("({})", group.join(and))
            })
            .collect::<Vec<_>>()
            .join(or)
    }

    /// The tenant's chunks in `kbs` matching the full-text query `query_text` (FTS5
    /// syntax on SQLite, `to_tsquery` on PostgreSQL), best first, at most `limit`; every
    /// match is ranked (the bench compares the bounded ranking with it).
    pub async fn knowledge_keyword_ranking(
        &self,
        tenant_id: &str,
        kbs: &[String],
        query_text: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let kb_placeholders: Vec<String> = (0..kbs.len()).map(|i| format!("${}", i + 4)).collect();
        let kb_list = kb_placeholders.join(", ");
        // SQLite: `CROSS JOIN` keeps the full-text match as the outer loop (run once);
        // left to itself the planner may walk the tenant's chunks and run the match once
        // per chunk.
        let sql = match self.dialect {
            Dialect::Sqlite => format!(
                "SELECT c.chunk_id FROM knowledge_fts f \
                 CROSS JOIN knowledge_chunks c ON c.rowid = f.rowid \
                 WHERE knowledge_fts MATCH $2 AND c.tenant_id = $1 AND c.kb IN ({kb_list}) \
                 ORDER BY bm25(knowledge_fts) LIMIT $3"
            ),
            // The query is parsed once (a generic plan would parse it per row).
            Dialect::Postgres => format!(
                "SELECT c.chunk_id FROM knowledge_chunks c, to_tsquery('english', $2) q \
                 WHERE c.tenant_id = $1 AND c.kb IN ({kb_list}) AND c.fts @@ q \
                 ORDER BY ts_rank(c.fts, q) DESC, c.chunk_id LIMIT $3"
            ),
        };
        let mut query = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(query_text)
            .bind(limit);
        for kb in kbs {
            query = query.bind(kb);
        }
        Ok(query
            .fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(|(id,)| id)
            .collect())
    }
}

/// Every `k`-element subset of `items`, in lexicographic order.
fn combinations<T>(items: &[T], k: usize) -> Vec<Vec<&T>> {
    let mut out = Vec::new();
    if k == 0 || k > items.len() {
        return out;
    }
    let mut pick: Vec<usize> = (0..k).collect();
    loop {
        out.push(pick.iter().map(|&i| &items[i]).collect());
        let Some(i) = (0..k).rev().find(|&i| pick[i] < items.len() - k + i) else {
            return out;
        };
        pick[i] += 1;
        for j in i + 1..k {
            pick[j] = pick[j - 1] + 1;
        }
    }
}

/// How many of a question's terms the bounded keyword ranking combines (at most 56
/// triples and 28 pairs).
pub const COMBINED_TERMS: usize = 8;

/// The id of a document version's chunk.
pub fn chunk_id(kb: &str, doc_id: &str, version: i64, ordinal: usize) -> String {
    format!("{kb}/{doc_id}/{version}/{ordinal}")
}

/// Bumps and returns the tenant's knowledge generation, inside the caller's transaction.
async fn bump_generation(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
) -> Result<i64, StoreError> {
    let (generation,): (i64,) = sqlx::query_as(
        "INSERT INTO knowledge_generations (tenant_id, generation) VALUES ($1, 1) \
         ON CONFLICT (tenant_id) DO UPDATE SET generation = knowledge_generations.generation + 1 \
         RETURNING generation",
    )
    .bind(tenant_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(generation)
}

#[cfg(test)]
mod tests {
    use super::combinations;

    #[test]
    fn combinations_are_every_subset_once() {
        let terms = ["a", "b", "c", "d"];
        let pairs: Vec<String> = combinations(&terms, 2)
            .iter()
            .map(|g| g.iter().copied().copied().collect())
            .collect();
        assert_eq!(pairs, ["ab", "ac", "ad", "bc", "bd", "cd"]);
        assert_eq!(combinations(&terms, 3).len(), 4);
        assert_eq!(combinations(&[0; 8], 3).len(), 56);
        assert!(combinations(&terms, 5).is_empty());
    }
}
