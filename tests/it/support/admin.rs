//! An admin API client for tests: real HTTP, Bearer keys.

use std::net::SocketAddr;

use reqwest::Method;
use serde_json::Value;

/// The bootstrap key test nodes are configured with.
pub const BOOTSTRAP_KEY: &str = "test-bootstrap-key-0123456789abcdef";

#[derive(Clone)]
pub struct Admin {
    base: String,
    http: reqwest::Client,
    pub key: String,
}

/// A response: status and JSON body (Null when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub etag: Option<String>,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Admin {
    pub fn new(addr: SocketAddr, key: &str) -> Self {
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            key: key.to_string(),
        }
    }

    pub fn operator(addr: SocketAddr) -> Self {
        Self::new(addr, BOOTSTRAP_KEY)
    }

    /// The same key against another node.
    pub fn at(&self, addr: SocketAddr) -> Self {
        Self::new(addr, &self.key)
    }

    pub fn with_key(&self, key: &str) -> Self {
        Self {
            key: key.to_string(),
            ..self.clone()
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !self.key.is_empty() {
            request = request.bearer_auth(&self.key);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await.expect("admin request");
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().trim_matches('"').to_string());
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply { status, body, etag }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(
            Method::POST,
            path,
            Some(("application/json", body.to_string())),
            &[],
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[]).await
    }

    pub async fn put_yaml(&self, path: &str, yaml: &str) -> Reply {
        self.send(
            Method::PUT,
            path,
            Some(("application/yaml", yaml.to_string())),
            &[],
        )
        .await
    }

    pub async fn put_json(&self, path: &str, body: Value) -> Reply {
        self.send(
            Method::PUT,
            path,
            Some(("application/json", body.to_string())),
            &[],
        )
        .await
    }

    /// Creates a tenant (operator) and returns an owner key for it.
    pub async fn tenant_with_owner(&self, tenant: &str, entry_flow: &str) -> String {
        let created = self
            .post("/v1/admin/tenants", serde_json::json!({"id": tenant, "name": tenant, "entry_flow": entry_flow, "allow_private_adaptors": true}))
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        self.key_for(tenant, "owner").await
    }

    pub async fn key_for(&self, tenant: &str, role: &str) -> String {
        let key = self
            .post(
                &format!("/v1/admin/tenants/{tenant}/keys"),
                serde_json::json!({"name": format!("{role} key"), "role": role}),
            )
            .await;
        assert_eq!(key.status, 201, "{:?}", key.body);
        key.body["key"].as_str().unwrap().to_string()
    }

    /// Saves, publishes and activates a flow; returns the version.
    pub async fn publish_flow(&self, tenant: &str, flow: &str, yaml: &str) -> i64 {
        let saved = self
            .put_yaml(&format!("/v1/admin/tenants/{tenant}/flows/{flow}"), yaml)
            .await;
        assert!(
            saved.status == 200 || saved.status == 201,
            "{:?}",
            saved.body
        );
        assert_eq!(saved.body["valid"], true, "{:#?}", saved.body);
        let published = self
            .post(
                &format!("/v1/admin/tenants/{tenant}/flows/{flow}/publish"),
                serde_json::json!({"activate": true}),
            )
            .await;
        assert!(
            published.status == 201 || published.status == 200,
            "{:?}",
            published.body
        );
        published.body["version"].as_i64().unwrap()
    }
}
