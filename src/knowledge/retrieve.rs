//! Retrieval for an `llm` state: the user's question searched in the state's knowledge
//! bases, keeping the chunks whose similarity reaches the state's `min_score`. None
//! reaching it is "no answer": the flow takes `on_no_answer` and no model is called.
//! [`Knowledge::ground`] is the step a conversation and a simulation share: retrieve,
//! then put the chunks into the model request as the marked data block.

use super::cite::{Citation, citations};
use super::{Hit, Knowledge, KnowledgeError, Mode, SearchRequest};
use crate::dialog::KnowledgeSpec;
use crate::llm::{CallOrigin, CompletionRequest};

/// Said when a state that retrieves finds no answer and has no `on_no_answer`.
pub const NO_ANSWER_MESSAGE: &str = "Sorry, I couldn't find an answer to that in our documents.";

/// What retrieval found for a question.
#[derive(Debug, Clone, PartialEq)]
pub enum Retrieval {
    /// Chunks good enough to answer from, best first.
    Answer(Vec<Hit>),
    NoAnswer,
}

/// What grounding a model request found.
#[derive(Debug, Clone, PartialEq)]
pub enum Grounding {
    /// The request now carries these chunks; the reply cites these sources.
    Answer {
        hits: Vec<Hit>,
        citations: Vec<Citation>,
    },
    /// Nothing reached `min_score`: no model call, the flow takes `on_no_answer`.
    NoAnswer,
}

impl Knowledge {
    /// Retrieves `question` from `spec`'s knowledge bases (the embedding charged to
    /// `request.origin`) and, with an answer, adds the chunks to `request` as the marked
    /// data block.
    pub async fn ground(
        &self,
        tenant_id: &str,
        spec: &KnowledgeSpec,
        question: &str,
        request: &mut CompletionRequest,
    ) -> Result<Grounding, KnowledgeError> {
        match self
            .retrieve(tenant_id, spec, question, &request.origin)
            .await?
        {
            Retrieval::Answer(hits) => {
                crate::llm::prompt::add_knowledge(request, &hits);
                let citations = citations(&hits);
                Ok(Grounding::Answer { hits, citations })
            }
            Retrieval::NoAnswer => Ok(Grounding::NoAnswer),
        }
    }

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
