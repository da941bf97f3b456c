//! LLM gateway: streams chat completions from the built-in offline model, any
//! OpenAI-compatible API, Azure OpenAI or Anthropic's Messages API, along routes with
//! fallback and a circuit breaker per target, with uniform first-token / idle / total
//! deadlines, a single error type, and metering of every call (tokens, latency, cost).
//! The chat runtime depends only on the items re-exported here.

mod anthropic;
pub mod breaker;
mod catalog;
pub mod embedding;
mod error;
mod extract;
mod gateway;
mod metered;
pub mod offline;
mod openai;
mod openai_embeddings;
pub mod prompt;
mod provider;
mod retry_after;
pub mod routes;
pub mod spend;
mod timeouts;
mod types;
pub mod usage;

pub use catalog::{TenantCatalog, TenantModels};
pub use embedding::{EmbeddingRequest, Embeddings};
pub use error::{LlmError, TimeoutPhase};
pub use gateway::{GatewayStatus, LlmGateway, ProviderStatus};
pub use spend::{Reservation, SpendGuard};
pub use types::{ChatMessage, CompletionRequest, Role, TokenStream};
pub use usage::{CallOrigin, MemorySink, ModelCall, ModelPrice, PriceTable, UsageSink};
