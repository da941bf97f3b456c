//! Retrieval for an `llm` state: the user's question searched in the state's knowledge
//! bases, keeping the chunks whose similarity reaches the state's `min_score`. None
//! reaching it is "no answer": the flow takes `on_no_answer` and no model is called.

use super::{Hit, Knowledge, KnowledgeError, Mode, SearchRequest};
use crate::dialog::KnowledgeSpec;
use crate::llm::CallOrigin;

/// What retrieval found for a question.
#[derive(Debug, Clone, PartialEq)]
pub enum Retrieval {
    /// Chunks good enough to answer from, best first.
    Answer(Vec<Hit>),
    NoAnswer,
}

impl Knowledge {
    /// Searches `spec`'s knowledge bases for `question` (the embedding is charged to
    /// `origin`).
    pub async fn retrieve(
        &self,
        tenant_id: &str,
        spec: &KnowledgeSpec,
        question: &str,
        origin: &CallOrigin,
    ) -> Result<Retrieval, KnowledgeError> {
        if question.trim().is_empty() {
            return Ok(Retrieval::NoAnswer);
        }
        let question: String = question.chars().take(super::MAX_QUERY_CHARS).collect();
        let hits = self
            .search(
                tenant_id,
                &SearchRequest {
                    query: question,
                    kbs: spec.knowledge_bases.clone(),
                    tags: Vec::new(),
                    top_k: spec.top_k,
                    mode: Mode::Hybrid,
                    origin: origin.clone(),
                },
            )
            .await?;
        let good: Vec<Hit> = hits
            .into_iter()
            .filter(|h| h.similarity >= spec.min_score)
            .collect();
        Ok(if good.is_empty() {
            Retrieval::NoAnswer
        } else {
            Retrieval::Answer(good)
        })
    }
}
