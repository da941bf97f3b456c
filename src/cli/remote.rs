//! A small client of a running server's admin API, for the commands that talk to one
//! (`flows push|publish|list|pull|diff|activate|rollback`, `tenants`, `conversations`,
//! `usage`). It speaks JSON and turns an error answer into the server's code and
//! message, so every command fails with one readable line.

use anyhow::bail;
use clap::Args;
use reqwest::Method;
use serde_json::Value;

/// Where the admin API is and who calls it.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of a running Switchboard, e.g. http://127.0.0.1:8080
    #[arg(long, env = "SWITCHBOARD_URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// An admin API key (a role of the tenant that allows the command, or the operator key).
    #[arg(long, env = "SWITCHBOARD_API_KEY", hide_env_values = true)]
    pub key: String,
}

/// The admin API, for one tenant's resources.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The tenant whose resources to read or change.
    #[arg(long, env = "SWITCHBOARD_TENANT")]
    pub tenant: String,
}

pub struct Remote {
    /// `<server>/v1/admin`, plus `/tenants/<id>` for a tenant's resources.
    base: String,
    key: String,
    http: reqwest::Client,
}

/// A response as status and JSON body.
pub struct Response {
    pub status: u16,
    pub body: Value,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The server's error message, for printing.
    pub fn error_message(&self) -> String {
        let error = &self.body["error"];
        match (error["code"].as_str(), error["message"].as_str()) {
            (Some(code), Some(message)) => format!("{code}: {message} (HTTP {})", self.status),
            _ => format!("HTTP {}: {}", self.status, self.body),
        }
    }

    /// The body of a success, or the server's error as an error.
    pub fn into_body(self) -> anyhow::Result<Value> {
        if self.ok() {
            Ok(self.body)
        } else {
            bail!("{}", self.error_message())
        }
    }
}

impl Remote {
    /// A client for one tenant's resources (`/v1/admin/tenants/<tenant>/…`).
    pub fn new(args: RemoteArgs) -> Self {
        let tenant = encode(&args.tenant);
        let mut remote = Self::admin(args.server);
        remote.base = format!("{}/tenants/{tenant}", remote.base);
        remote
    }

    /// A client for the admin API's root (`/v1/admin/…`).
    pub fn admin(args: ServerArgs) -> Self {
        Self {
            base: format!("{}/v1/admin", args.server.trim_end_matches('/')),
            key: args.key,
            http: reqwest::Client::new(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: String,
    ) -> anyhow::Result<Response> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .request(method, &url)
            .bearer_auth(&self.key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {url}: {}", without_url(&e)))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Response { status, body })
    }

    /// GETs a JSON resource; an error answer is an error.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::GET, path, "application/json", String::new())
            .await?
            .into_body()
    }

    /// Sends a JSON body; an error answer is an error.
    pub async fn json(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(method, path, "application/json", body.to_string())
            .await?
            .into_body()
    }
}

/// A path segment or query value, percent-encoded.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A request error's cause without the URL (the message names it once already).
fn without_url(error: &reqwest::Error) -> String {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    let mut last = error.to_string();
    while let Some(e) = cause {
        last = e.to_string();
        cause = e.source();
    }
    last
}
