//! The LLM gateway against a real local OpenAI-compatible upstream: streaming, request
//! shape, error mapping, timeouts, the raw SSE wire format, and the offline model.

mod common;
mod fake_wire;
mod gateway_openai;
mod gateway_protocol;
mod metering;
mod offline;
