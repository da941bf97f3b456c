//! Test and benchmark helpers that stand in for external services over real sockets.

pub mod fake_openai;
