//! Test and benchmark helpers that stand in for external services over real sockets.

pub mod fake_anthropic;
pub mod fake_openai;
pub mod fake_otlp;
pub mod fake_slack;
pub mod fake_teams;
pub mod fake_whatsapp;
pub mod server;
pub mod webhook_receiver;
