//! [`LlmGateway::embed`]: embeddings along the same route, breakers, budgets and
//! metering as a chat call. The route is the caller's default (the tenant's own, if it
//! has one); each target is asked for `llm.embedding_model` (the offline model answers
//! with its own), and a provider without an embeddings API passes to the next target.

use std::sync::Arc;

use super::super::embedding::{EmbeddingRequest, Embeddings, OFFLINE_EMBEDDING_MODEL};
use super::super::provider::Provider;
use super::super::routes::Target;
use super::super::usage::{CallKind, CallOutcome, PriceTable};
use super::super::{ChatMessage, CompletionRequest, LlmError};
use super::{Failed, LlmGateway, breaker_key};
use crate::llm::breaker::Admission;

impl LlmGateway {
    /// One vector per input, in order. Metered as one `embed` call per attempt (the
    /// prompt tokens are the inputs'), admitted by the budgets first like every call.
    pub async fn embed(&self, request: EmbeddingRequest) -> Result<Embeddings, LlmError> {
        if request.inputs.is_empty() {
            return Ok(Embeddings {
                model: self.embedding_model().to_owned(),
                vectors: Vec::new(),
            });
        }
        let req = CompletionRequest {
            messages: request.inputs.iter().map(ChatMessage::user).collect(),
            max_tokens: Some(0),
            temperature: None,
            model: None,
            origin: request.origin.clone(),
        };
        let req = &req;
        let inputs = &request.inputs;
        self.along_route(req, |a| {
            Box::pin(async move {
                self.try_embed(req, inputs, &a.target, &a.provider, a.number, &a.prices)
                    .await
            })
        })
        .await
    }

    /// The model knowledge bases embed with on this gateway's default route.
    pub fn embedding_model(&self) -> &str {
        if self.is_offline() {
            OFFLINE_EMBEDDING_MODEL
        } else {
            &self.inner.embedding_model
        }
    }

    async fn try_embed(
        &self,
        req: &CompletionRequest,
        inputs: &[String],
        target: &Target,
        provider: &Arc<dyn Provider>,
        attempt: u32,
        prices: &Arc<PriceTable>,
    ) -> Result<Embeddings, Failed> {
        let key = breaker_key(target, req);
        let mut meter = self.meter(CallKind::Embed, req, target, provider, attempt, prices);
        let model = if provider.counts_own() {
            OFFLINE_EMBEDDING_MODEL.to_owned()
        } else {
            self.inner.embedding_model.clone()
        };
        meter.record.model = model.clone();
        if let Err(error) = self.reserve(&mut meter, req).await {
            meter.finish(CallOutcome::Error, Some(&error), 0, None);
            return Err(Failed {
                error,
                fall_back: false,
            });
        }
        let admission = self.inner.breakers.admit(&key);
        if admission == Admission::Rejected {
            let error = LlmError::BreakerOpen {
                target: key.to_string(),
            };
            meter.finish(CallOutcome::Error, Some(&error), 0, None);
            return Err(Failed {
                error,
                fall_back: true,
            });
        }
        let total = self.inner.timeouts.total;
        let result = tokio::time::timeout(total, provider.embed(inputs, &model, &meter.reported))
            .await
            .map_err(|_| LlmError::Timeout {
                phase: super::super::TimeoutPhase::Total,
                after_ms: u64::try_from(total.as_millis()).unwrap_or(u64::MAX),
            })
            .and_then(|r| r);
        let elapsed = Some(super::super::metered::millis(meter.started.elapsed()));
        match result {
            Ok(vectors) if vectors.len() == inputs.len() => {
                self.inner.breakers.success(&key, admission);
                meter.finish(CallOutcome::Ok, None, 0, elapsed);
                Ok(Embeddings { model, vectors })
            }
            Ok(_) => {
                let error = LlmError::Protocol("embeddings: one vector per input expected".into());
                meter.finish(CallOutcome::Error, Some(&error), 0, elapsed);
                Err(Failed {
                    error,
                    fall_back: false,
                })
            }
            Err(LlmError::Unsupported(message)) => {
                let error = LlmError::Unsupported(message);
                meter.finish(CallOutcome::Error, Some(&error), 0, None);
                Err(Failed {
                    error,
                    fall_back: true,
                })
            }
            Err(error) => {
                meter.finish(CallOutcome::Error, Some(&error), 0, None);
                Err(self.failed(&key, admission, error))
            }
        }
    }
}
