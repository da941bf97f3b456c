//! A small client of a running server's admin API, for `flows push|publish`.

use clap::Args;
use serde_json::Value;

/// Where the admin API is and who calls it.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// Base URL of a running Switchboard, e.g. http://127.0.0.1:8080
    #[arg(long, env = "SWITCHBOARD_URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// An admin API key (editor or owner of the tenant).
    #[arg(long, env = "SWITCHBOARD_API_KEY", hide_env_values = true)]
    pub key: String,
    /// The tenant whose flows to change.
    #[arg(long, env = "SWITCHBOARD_TENANT")]
    pub tenant: String,
}

pub struct Remote {
    args: RemoteArgs,
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
}

impl Remote {
    pub fn new(args: RemoteArgs) -> Self {
        Self {
            args,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/v1/admin/tenants/{}{path}",
            self.args.server.trim_end_matches('/'),
            self.args.tenant
        )
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: String,
    ) -> anyhow::Result<Response> {
        let response = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.args.key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Response { status, body })
    }
}
