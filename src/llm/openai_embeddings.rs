//! OpenAI-compatible embeddings: `POST {base_url}/embeddings` (Azure OpenAI:
//! `{base_url}/openai/deployments/{model}/embeddings?api-version=…` with an `api-key`
//! header), sent once with the provider's HTTP client. A non-2xx answer becomes
//! `LlmError::Upstream` with its status (429: `RateLimited` with its `Retry-After`);
//! retrying and falling back are the gateway's, as for chat.

use serde::Deserialize;

use super::LlmError;
use super::error::{chain, truncate_message};
use super::usage::{Usage, UsageSlot};

const MAX_ERROR_CHARS: usize = 500;

/// Where a provider's embeddings go.
pub(crate) struct EmbeddingsEndpoint {
    pub base_url: String,
    pub api_key: String,
    /// Set for Azure OpenAI: the deployment is the model, and this is `api-version`.
    pub azure_api_version: Option<String>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
    #[serde(default)]
    usage: Option<ReportedUsage>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct ReportedUsage {
    prompt_tokens: u64,
}

impl EmbeddingsEndpoint {
    /// One vector per input, in input order.
    pub(crate) async fn embed(
        &self,
        http: &reqwest::Client,
        inputs: &[String],
        model: &str,
        usage: &UsageSlot,
    ) -> Result<Vec<Vec<f32>>, LlmError> {
        let body =
            serde_json::json!({ "model": model, "input": inputs, "encoding_format": "float" });
        let request = match &self.azure_api_version {
            Some(version) => http
                .post(format!(
                    "{}/openai/deployments/{model}/embeddings",
                    self.base_url
                ))
                .query(&[("api-version", version)])
                .header("api-key", &self.api_key),
            None => http
                .post(format!("{}/embeddings", self.base_url))
                .bearer_auth(&self.api_key),
        };
        let response = request
            .json(&body)
            .send()
            .await
            .map_err(|e| LlmError::Transport(chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after_ms = super::retry_after::parse(response.headers());
            let text = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            let message = truncate_message(&message, MAX_ERROR_CHARS);
            return Err(if status.as_u16() == 429 {
                LlmError::RateLimited {
                    retry_after_ms,
                    message,
                }
            } else {
                LlmError::Upstream {
                    status: Some(status.as_u16()),
                    message,
                }
            });
        }
        let parsed: Response = response
            .json()
            .await
            .map_err(|e| LlmError::Protocol(format!("embeddings response: {}", chain(&e))))?;
        if let Some(reported) = parsed.usage {
            usage.set(Usage {
                tokens_in: reported.prompt_tokens,
                tokens_out: 0,
            });
        }
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; inputs.len()];
        for item in parsed.data {
            match vectors.get_mut(item.index) {
                Some(slot) => *slot = Some(item.embedding),
                None => {
                    return Err(LlmError::Protocol(format!(
                        "embeddings response: index {} out of range",
                        item.index
                    )));
                }
            }
        }
        vectors
            .into_iter()
            .map(|v| {
                v.ok_or_else(|| {
                    LlmError::Protocol("embeddings response: an input has no vector".into())
                })
            })
            .collect()
    }
}
