//! Adaptor calls over real sockets against a fake shop API (`fake_shop`) on loopback:
//! what goes over the wire (`calls`), what must never leave the process (`ssrf`), and
//! how failures surface (`failures`). The fake is loopback, so the happy paths run
//! with `allow_private: true`; the SSRF tests use the default policy.

mod calls;
mod failures;
mod fake_shop;
mod ssrf;

use serde_json::{Map, Value};

use crate::adaptors::{AdaptorClient, AdaptorSpec, NetworkPolicy};

fn spec(value: Value) -> AdaptorSpec {
    serde_json::from_value(value).expect("test spec parses")
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("args must be an object, got {other}"),
    }
}

/// A client that may reach loopback, for talking to the fake.
fn open_client() -> AdaptorClient {
    AdaptorClient::new(NetworkPolicy {
        allow_private: true,
    })
    .expect("client builds")
}

/// A client with the default (public addresses only) policy.
fn strict_client() -> AdaptorClient {
    AdaptorClient::new(NetworkPolicy::default()).expect("client builds")
}
