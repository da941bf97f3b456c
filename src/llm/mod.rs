//! LLM gateway: streams chat completions from either the built-in offline model or an
//! OpenAI-compatible HTTP API, with uniform first-token / idle / total deadlines, a
//! single error type, and metering of every call (tokens, latency, cost). The chat
//! runtime depends only on the items re-exported here.

mod error;
mod extract;
mod gateway;
mod metered;
pub mod offline;
mod openai;
pub mod prompt;
mod timeouts;
mod types;
pub mod usage;

pub use error::{LlmError, TimeoutPhase};
pub use gateway::LlmGateway;
pub use types::{ChatMessage, CompletionRequest, Role, TokenStream};
pub use usage::{CallOrigin, MemorySink, ModelCall, ModelPrice, PriceTable, UsageSink};
