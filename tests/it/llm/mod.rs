//! The LLM gateway against a real local OpenAI-compatible upstream: streaming, request
//! shape, error mapping, timeouts, the raw SSE wire format, the offline model, metering,
//! routes with fallback and the circuit breaker, and Anthropic's Messages API.

mod anthropic;
mod common;
mod fake_wire;
mod fallback;
mod gateway_openai;
mod gateway_protocol;
mod metering;
mod offline;
