//! Successful calls: the fake asserts the exact request it received (encoded path and
//! query, templated headers, auth, JSON body) and the client maps the response.

use serde_json::json;

use super::fake_shop::FakeShop;
use super::{args, open_client, spec};
use crate::adaptors::{AdaptorSecret, NetworkPolicy, validate_spec};

const OPEN: NetworkPolicy = NetworkPolicy {
    allow_private: true,
};

#[tokio::test]
async fn get_encodes_path_and_query_values_and_maps_the_response() {
    let shop = FakeShop::start().await.unwrap();
    let spec = spec(json!({
        "method": "GET",
        "url": shop.url("/api/orders/{{ order_id }}?lang={{ lang }}&q={{ q }}"),
        "headers": {"X-Tenant": "shop-{{ tenant }}", "X-Static": "yes"},
        "response": {
            "status": "/status",
            "eta": "/delivery/eta",
            "carrier": "/delivery/carrier/name",
            "first_sku": "/items/0/sku",
            "tracking": "/delivery/tracking/number"
        }
    }));
    assert_eq!(validate_spec(&spec, &OPEN), Ok(()));
    let out = open_client()
        .call(
            &spec,
            None,
            &args(json!({
                "order_id": "a/b?c#d e ü",
                "lang": "de",
                "q": "x&admin=1",
                "tenant": "acme"
            })),
            None,
        )
        .await
        .unwrap();

    let req = shop.single_request();
    assert_eq!(req.method, "GET");
    assert_eq!(
        req.target,
        "/api/orders/a%2Fb%3Fc%23d%20e%20%C3%BC?lang=de&q=x%26admin%3D1"
    );
    assert_eq!(req.header("x-tenant"), Some("shop-acme"));
    assert_eq!(req.header("x-static"), Some("yes"));
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(
        out,
        json!({
            "status": "shipped",
            "eta": "2026-12-01",
            "carrier": "Parcelo",
            "first_sku": "A1",
            "tracking": null
        })
    );
    shop.stop().await;
}

#[tokio::test]
async fn bearer_auth_sends_the_secret_only_in_authorization() {
    let shop = FakeShop::start().await.unwrap();
    let spec = spec(json!({
        "method": "GET",
        "url": shop.url("/api/orders/{{ id }}"),
        "auth": {"type": "bearer"},
        "response": {"status": "/status"}
    }));
    let secret = AdaptorSecret::new("s3cr3t-token");
    let out = open_client()
        .call(&spec, Some(&secret), &args(json!({"id": 42})), None)
        .await
        .unwrap();
    assert_eq!(out, json!({"status": "shipped"}));
    let req = shop.single_request();
    assert_eq!(req.target, "/api/orders/42");
    assert_eq!(req.header("authorization"), Some("Bearer s3cr3t-token"));
    shop.stop().await;
}

#[tokio::test]
async fn api_key_header_auth() {
    let shop = FakeShop::start().await.unwrap();
    let spec = spec(json!({
        "method": "DELETE",
        "url": shop.url("/api/orders/7"),
        "auth": {"type": "header", "name": "X-Api-Key"}
    }));
    let secret = AdaptorSecret::new("key-123");
    open_client()
        .call(&spec, Some(&secret), &args(json!({})), None)
        .await
        .unwrap();
    let req = shop.single_request();
    assert_eq!(req.method, "DELETE");
    assert_eq!(req.header("x-api-key"), Some("key-123"));
    assert_eq!(req.header("authorization"), None);
    shop.stop().await;
}

#[tokio::test]
async fn post_body_values_round_trip_as_json() {
    let shop = FakeShop::start().await.unwrap();
    let spec = spec(json!({
        "method": "POST",
        "url": shop.url("/api/notes"),
        "body": r#"{"note": {{ note }}, "qty": {{ qty }}, "tags": {{ tags }}, "fixed": "v1"}"#,
        "response": {"note": "/received/note", "qty": "/received/qty"}
    }));
    assert_eq!(validate_spec(&spec, &OPEN), Ok(()));
    let note = "He said \"hi\",\nthen left: }\"], \"admin\": true, \"x\": {\\";
    let out = open_client()
        .call(
            &spec,
            None,
            &args(json!({"note": note, "qty": 3, "tags": ["a", "b\"c"]})),
            None,
        )
        .await
        .unwrap();

    let req = shop.single_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.json(),
        json!({"note": note, "qty": 3, "tags": ["a", "b\"c"], "fixed": "v1"})
    );
    assert_eq!(out, json!({"note": note, "qty": 3}));
    shop.stop().await;
}

#[tokio::test]
async fn an_empty_mapping_returns_the_whole_object_and_204_is_empty() {
    let shop = FakeShop::start().await.unwrap();
    let whole = spec(json!({"method": "GET", "url": shop.url("/api/orders/1")}));
    let out = open_client()
        .call(&whole, None, &args(json!({})), None)
        .await
        .unwrap();
    assert_eq!(out["delivery"]["eta"], "2026-12-01");

    let empty = spec(json!({
        "method": "PUT",
        "url": shop.url("/api/empty"),
        "response": {"status": "/status"}
    }));
    let out = open_client()
        .call(&empty, None, &args(json!({})), None)
        .await
        .unwrap();
    assert_eq!(out, json!({"status": null}));
    shop.stop().await;
}

#[tokio::test]
async fn localhost_by_name_works_when_private_addresses_are_allowed() {
    let shop = FakeShop::start().await.unwrap();
    let spec = spec(json!({
        "method": "GET",
        "url": format!("http://localhost:{}/api/orders/1", shop.addr().port()),
        "response": {"status": "/status"}
    }));
    let out = open_client()
        .call(&spec, None, &args(json!({})), None)
        .await
        .unwrap();
    assert_eq!(out, json!({"status": "shipped"}));
    shop.stop().await;
}
