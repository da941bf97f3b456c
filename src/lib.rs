//! Switchboard: an actor-based, multi-tenant, real-time chat runtime.
//!
//! The binary (`src/main.rs`) is a thin wrapper over this library, and the integration
//! tests start the same [`app`] the binary runs. ARCHITECTURE.md has the map; in short:
//! edges ([`http`], [`channels`]) translate wire formats, [`actors`] own conversations,
//! the [`dialog`] engine is pure, and [`store`] is the source of truth.

pub mod actors;
pub mod adaptors;
pub mod agents;
pub mod analytics;
pub mod app;
pub mod bus;
pub mod channels;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod dialog;
pub mod experiments;
pub mod flow_cache;
pub mod governance;
pub mod http;
pub mod knowledge;
pub mod llm;
pub mod memory;
pub mod metering;
pub mod retention;
pub mod secret_box;
pub mod services;
pub mod simulate;
pub mod store;
pub mod telemetry;
pub mod testkit;
pub mod transcript;
pub mod turn;
