//! Every integration test, in one binary: one link step instead of one per file (a
//! change to the library relinks one test binary, not twenty-five). Each module is one
//! area, and runs against real servers on `127.0.0.1:0`, real databases (SQLite, and
//! PostgreSQL through `support::Backend`) and, in cluster tests, the local Redis.
//! `support` holds the shared harness; its `on_both_stores!` is visible to every module.

#[macro_use]
mod support;

mod admin_api;
mod admin_tenants;
mod agents;
mod analytics;
mod channels;
mod cli;
mod cli_remote;
mod cluster;
mod console;
mod conversation;
mod crash;
mod data_lifecycle;
mod experiments;
mod flow_examples;
mod governance;
mod group_commit;
mod hardening;
mod http;
mod knowledge;
mod knowledge_cli;
mod knowledge_flows;
mod lifecycle;
mod live_publish;
mod llm;
mod llm_upstream;
mod migrations;
mod operations;
mod outbox;
mod previews;
mod protocol_errors;
mod resume;
mod supervision;
mod test_cases;
mod timers;
mod webchat_additions;
mod websocket_rfc6455;
mod widget;
