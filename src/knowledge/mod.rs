//! Knowledge bases: tenants' documents, cut into chunks, embedded through the model
//! gateway and searched by vector and keyword together, so flows can answer from them
//! with citations.
//!
//! [`Knowledge`] is the one service the admin API, the CLI's server side and the
//! conversation's `llm` work use. A document upload converts (HTML → text), chunks
//! (`chunk.rs`), hashes the content, and when the hash or the embedding model changed
//! embeds the chunks (metered and budgeted like a chat call, charged to the tenant) and
//! replaces the stored chunks in one transaction; the same content uploaded again is not
//! embedded again. Search (`search.rs`) fuses the vector index (`index.rs`) and the
//! store's full-text ranking. The store is the source of truth: the index follows its
//! generation and can always be rebuilt from it.

pub mod chunk;
pub mod cite;
pub mod html;
pub mod index;
pub mod pdf;
mod retrieve;
pub mod search;

use std::collections::HashMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::llm::{CallOrigin, EmbeddingRequest, LlmError, LlmGateway};
use crate::store::{
    KnowledgeChunkRow, KnowledgeDocumentRow, KnowledgeVectorRow, NewKnowledgeChunk, Store,
    StoreError,
};
pub use chunk::Format;
pub use index::VectorIndex;
pub use retrieve::{Grounding, NO_ANSWER_MESSAGE, Retrieval};
pub use search::Mode;

/// Most chunks one embeddings call carries.
const EMBED_BATCH: usize = 64;
/// Largest document accepted, in bytes of its text.
pub const MAX_DOCUMENT_BYTES: usize = 2 * 1024 * 1024;
/// Most chunks one document may produce.
pub const MAX_DOCUMENT_CHUNKS: usize = 2_000;
/// Most hits a search returns.
pub const MAX_TOP_K: usize = 50;
/// Longest question searched, in characters.
pub const MAX_QUERY_CHARS: usize = 2_000;

/// What can go wrong in the knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    /// The caller's input is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    #[error("knowledge base `{0}` does not exist")]
    UnknownKnowledgeBase(String),
    /// The embeddings call failed (budget, rate limit, upstream).
    #[error("embedding failed: {0}")]
    Embedding(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A document as uploaded.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub content: String,
    pub format: Format,
    pub title: String,
    /// Where the document lives (a URL or path); citations link to it.
    pub source: String,
    pub tags: Vec<String>,
}

/// What an upload did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UploadOutcome {
    pub version: i64,
    pub chunks: usize,
    /// False when the content was unchanged and no embedding call was made.
    pub embedded: bool,
    /// True when the document did not exist before.
    pub created: bool,
}

/// What to search for.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    /// The knowledge bases to search (at least one).
    pub kbs: Vec<String>,
    /// Only chunks of documents with every one of these tags.
    pub tags: Vec<String>,
    pub top_k: usize,
    pub mode: Mode,
    /// Who the question's embedding is charged to.
    pub origin: CallOrigin,
}

/// One retrieved chunk.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub chunk_id: String,
    pub kb: String,
    pub doc_id: String,
    pub version: i64,
    pub title: String,
    pub anchor: String,
    pub source: String,
    pub text: String,
    /// Cosine similarity of the chunk to the question (0 to 1 for related text).
    pub similarity: f32,
    /// The fused rank score.
    pub score: f32,
}

impl Hit {
    /// Where a citation links: the source with the chunk's anchor.
    pub fn link(&self) -> String {
        if self.anchor.is_empty() || self.source.is_empty() {
            self.source.clone()
        } else {
            format!("{}#{}", self.source, self.anchor)
        }
    }
}

/// The knowledge service. Cheap to clone.
#[derive(Clone)]
pub struct Knowledge {
    store: Store,
    gateway: LlmGateway,
    index: VectorIndex,
}

/// A knowledge base, document or tag name: 1–80 of `a-z`, `0-9`, `-`, `_`, `.`,
/// starting with a letter or digit.
pub fn is_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

impl Knowledge {
    pub fn new(store: Store, gateway: LlmGateway) -> Self {
        Self {
            store,
            gateway,
            index: VectorIndex::new(),
        }
    }

    pub fn index(&self) -> &VectorIndex {
        &self.index
    }

    /// Stores `doc` as `doc_id` of `kb`, embedding its chunks unless its content and the
    /// embedding model are unchanged. The knowledge base must exist.
    pub async fn put_document(
        &self,
        tenant_id: &str,
        kb: &str,
        doc_id: &str,
        doc: NewDocument,
    ) -> Result<UploadOutcome, KnowledgeError> {
        self.require_kb(tenant_id, kb).await?;
        if !is_name(doc_id) {
            return Err(KnowledgeError::Invalid(
                "a document id is 1 to 80 of a-z, 0-9, `-`, `_` and `.`".into(),
            ));
        }
        check_document(&doc)?;
        let hash = content_hash(&doc);
        let model = self.gateway.embedding_model().to_owned();
        let existing = self.store.knowledge_document(tenant_id, kb, doc_id).await?;
        let tags = serde_json::json!(doc.tags).to_string();
        if let Some(existing) = &existing
            && existing.content_hash == hash
            && existing.embedding_model == model
        {
            if existing.title != doc.title || existing.source != doc.source || existing.tags != tags
            {
                let row = KnowledgeDocumentRow {
                    title: doc.title,
                    source: doc.source,
                    tags,
                    updated_at: crate::store::now_ms(),
                    ..existing.clone()
                };
                self.store.update_knowledge_document_meta(&row).await?;
            }
            return Ok(UploadOutcome {
                version: existing.version,
                chunks: usize::try_from(existing.chunks).unwrap_or(0),
                embedded: false,
                created: false,
            });
        }
        let chunks = chunk::chunk(&doc.content, doc.format, &doc.title);
        if chunks.is_empty() {
            return Err(KnowledgeError::Invalid("the document has no text".into()));
        }
        if chunks.len() > MAX_DOCUMENT_CHUNKS {
            return Err(KnowledgeError::Invalid(format!(
                "the document makes {} chunks; at most {MAX_DOCUMENT_CHUNKS} are allowed",
                chunks.len()
            )));
        }
        let texts: Vec<String> = chunks
            .iter()
            .map(|c| format!("{}\n{}", c.title, c.body))
            .collect();
        let vectors = self.embed(tenant_id, &texts).await?;
        let version = existing.as_ref().map_or(1, |e| e.version + 1);
        let row = KnowledgeDocumentRow {
            tenant_id: tenant_id.to_owned(),
            kb: kb.to_owned(),
            doc_id: doc_id.to_owned(),
            title: doc.title,
            source: doc.source,
            format: doc.format.as_str().to_owned(),
            tags: tags.clone(),
            content_hash: hash,
            embedding_model: model,
            version,
            chunks: chunks.len() as i64,
            updated_at: crate::store::now_ms(),
        };
        let new_chunks: Vec<NewKnowledgeChunk> = chunks
            .into_iter()
            .zip(vectors)
            .map(|(c, embedding)| NewKnowledgeChunk {
                title: c.title,
                anchor: c.anchor,
                body: c.body,
                embedding,
            })
            .collect();
        let generation = self
            .store
            .replace_knowledge_document(&row, &new_chunks)
            .await?;
        let added = new_chunks
            .iter()
            .enumerate()
            .map(|(ordinal, c)| KnowledgeVectorRow {
                chunk_id: crate::store::knowledge_chunk_id(kb, doc_id, version, ordinal),
                kb: kb.to_owned(),
                tags: tags.clone(),
                embedding: c.embedding.clone(),
            })
            .collect();
        self.index
            .apply(tenant_id, generation, &format!("{kb}/{doc_id}/"), added)
            .await;
        Ok(UploadOutcome {
            version,
            chunks: new_chunks.len(),
            embedded: true,
            created: existing.is_none(),
        })
    }

    /// Removes a document; false when there was none.
    pub async fn delete_document(
        &self,
        tenant_id: &str,
        kb: &str,
        doc_id: &str,
    ) -> Result<bool, KnowledgeError> {
        match self
            .store
            .delete_knowledge_document(tenant_id, kb, doc_id)
            .await?
        {
            Some(generation) => {
                self.index
                    .apply(
                        tenant_id,
                        generation,
                        &format!("{kb}/{doc_id}/"),
                        Vec::new(),
                    )
                    .await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The chunks that answer `request.query` best, best first.
    pub async fn search(
        &self,
        tenant_id: &str,
        request: &SearchRequest,
    ) -> Result<Vec<Hit>, KnowledgeError> {
        let query = request.query.trim();
        if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
            return Err(KnowledgeError::Invalid(format!(
                "a query is 1 to {MAX_QUERY_CHARS} characters"
            )));
        }
        if request.kbs.is_empty() {
            return Err(KnowledgeError::Invalid(
                "name at least one knowledge base".into(),
            ));
        }
        let top_k = request.top_k.clamp(1, MAX_TOP_K);
        let depth = (top_k * 4).max(20) as i64;
        let filter = index::Filter {
            kbs: &request.kbs,
            tags: &request.tags,
        };
        let query_vector = match request.mode {
            Mode::Keyword => None,
            Mode::Hybrid | Mode::Vector => Some(
                self.gateway
                    .embed(EmbeddingRequest {
                        inputs: vec![query.to_owned()],
                        origin: request.origin.clone(),
                    })
                    .await?
                    .vectors
                    .pop()
                    .unwrap_or_default(),
            ),
        };
        let mut similarities: HashMap<String, f32> = HashMap::new();
        let vector_ids: Vec<String> = match &query_vector {
            Some(vector) => self
                .index
                .nearest(&self.store, tenant_id, vector, &filter, depth as usize)
                .await?
                .into_iter()
                .map(|n| {
                    similarities.insert(n.chunk_id.clone(), n.similarity);
                    n.chunk_id
                })
                .collect(),
            None => Vec::new(),
        };
        let keyword_ids = match request.mode {
            Mode::Vector => Vec::new(),
            Mode::Hybrid | Mode::Keyword => {
                self.store
                    .knowledge_keyword_search(
                        tenant_id,
                        &request.kbs,
                        &search::keywords(query),
                        depth,
                    )
                    .await?
            }
        };
        // Tags are filtered after loading: the keyword list does not know them.
        let fused = search::fuse(&[&vector_ids, &keyword_ids]);
        let wanted: Vec<String> = fused.iter().map(|(id, _)| id.clone()).collect();
        let rows: HashMap<String, KnowledgeChunkRow> = self
            .store
            .knowledge_chunks(tenant_id, &wanted)
            .await?
            .into_iter()
            .map(|row| (row.chunk_id.clone(), row))
            .collect();
        let mut hits = Vec::new();
        for (id, score) in fused {
            let Some(row) = rows.get(&id) else { continue };
            let tags: Vec<String> = serde_json::from_str(&row.tags).unwrap_or_default();
            if !request.tags.iter().all(|t| tags.contains(t)) {
                continue;
            }
            let similarity = match (similarities.get(&id), &query_vector) {
                (Some(s), _) => *s,
                (None, Some(q)) => self.chunk_similarity(tenant_id, q, row).await,
                (None, None) => 0.0,
            };
            hits.push(Hit {
                chunk_id: row.chunk_id.clone(),
                kb: row.kb.clone(),
                doc_id: row.doc_id.clone(),
                version: row.version,
                title: row.title.clone(),
                anchor: row.anchor.clone(),
                source: row.source.clone(),
                text: row.body.clone(),
                similarity,
                score,
            });
            if hits.len() == top_k {
                break;
            }
        }
        Ok(hits)
    }

    /// The similarity of a keyword-only hit, which the vector list did not reach: its
    /// stored vector against the question (a few per search at most).
    async fn chunk_similarity(
        &self,
        tenant_id: &str,
        query: &[f32],
        row: &KnowledgeChunkRow,
    ) -> f32 {
        match self
            .store
            .knowledge_chunk_vector(tenant_id, &row.chunk_id)
            .await
        {
            Ok(Some(vector)) => search::similarity(query, &vector),
            _ => 0.0,
        }
    }

    async fn embed(
        &self,
        tenant_id: &str,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, KnowledgeError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(EMBED_BATCH) {
            let embeddings = self
                .gateway
                .embed(EmbeddingRequest {
                    inputs: batch.to_vec(),
                    origin: CallOrigin {
                        tenant_id: tenant_id.to_owned(),
                        channel: Some("knowledge".into()),
                        ..CallOrigin::default()
                    },
                })
                .await?;
            vectors.extend(embeddings.vectors);
        }
        Ok(vectors)
    }

    async fn require_kb(&self, tenant_id: &str, kb: &str) -> Result<(), KnowledgeError> {
        let exists = self
            .store
            .knowledge_bases(tenant_id)
            .await?
            .iter()
            .any(|b| b.name == kb);
        if exists {
            Ok(())
        } else {
            Err(KnowledgeError::UnknownKnowledgeBase(kb.to_owned()))
        }
    }
}

fn check_document(doc: &NewDocument) -> Result<(), KnowledgeError> {
    if doc.content.len() > MAX_DOCUMENT_BYTES {
        return Err(KnowledgeError::Invalid(format!(
            "a document is at most {MAX_DOCUMENT_BYTES} bytes"
        )));
    }
    if doc.content.contains('\0') || doc.title.contains('\0') || doc.source.contains('\0') {
        return Err(KnowledgeError::Invalid(
            "text must not contain U+0000 (NUL)".into(),
        ));
    }
    if doc.title.trim().is_empty() || doc.title.chars().count() > 200 {
        return Err(KnowledgeError::Invalid(
            "a title is 1 to 200 characters".into(),
        ));
    }
    if doc.source.chars().count() > 2_000 {
        return Err(KnowledgeError::Invalid(
            "a source is at most 2000 characters".into(),
        ));
    }
    if doc.tags.len() > 20 || !doc.tags.iter().all(|t| is_name(t)) {
        return Err(KnowledgeError::Invalid(
            "at most 20 tags, each 1 to 80 of a-z, 0-9, `-`, `_` and `.`".into(),
        ));
    }
    Ok(())
}

/// SHA-256 of the format and the content: what decides whether to embed again.
fn content_hash(doc: &NewDocument) -> String {
    let mut hasher = Sha256::new();
    hasher.update(doc.format.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(doc.content.as_bytes());
    hex::encode(hasher.finalize())
}
