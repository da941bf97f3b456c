//! OpenAI-compatible backend built on async-openai: turns a [`CompletionRequest`] into
//! a streaming `POST {base_url}/chat/completions` and the SSE chunks into plain text
//! fragments, mapping every failure onto [`LlmError`]. The same code speaks Azure OpenAI
//! (`kind = "azure"`): `{base_url}/openai/deployments/{model}/chat/completions` with
//! `api-version` and an `api-key` header, where a route's model is the deployment.
//!
//! HTTP execution goes through our own tower service instead of async-openai's
//! default executor for two reasons: the default wraps requests in a retry layer
//! (3 retries with backoff, honouring `Retry-After`) that would multiply load on a
//! failing upstream and turn a prompt `429`/`5xx` into a first-token timeout, and its
//! error reader drops the HTTP status when an error body is not OpenAI JSON (e.g. a
//! `404` page from a wrong base URL). Here every non-2xx response becomes
//! `LlmError::Upstream { status: Some(..) }` (a 429 `LlmError::RateLimited` with its
//! `Retry-After`), once, immediately: retrying and falling back are the gateway's.

use std::sync::Arc;

use async_openai::Client;
use async_openai::config::{AzureConfig, Config, OpenAIConfig};
use async_openai::error::{ApiError, ApiErrorResponse, OpenAIError, StreamError, WrappedError};
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionStreamOptions, CompletionUsage,
    CreateChatCompletionRequest, CreateChatCompletionStreamResponse, ResponseFormat,
    ResponseFormatJsonSchema,
};
use dashmap::DashMap;
use futures_util::StreamExt;

use super::error::{chain, truncate_message};
use super::provider::{BoxFuture, Provider, check_endpoint};
use super::usage::{Usage, UsageSlot};
use super::{ChatMessage, CompletionRequest, LlmError, Role, TokenStream};
use crate::config::ProviderConfig;

/// Longest upstream-provided text we copy into an error message.
const MAX_ERROR_CHARS: usize = 500;

type DynClient = Client<Box<dyn Config>>;

/// An OpenAI-compatible API, or Azure OpenAI.
pub(crate) struct OpenAiProvider {
    http: reqwest::Client,
    endpoint: Endpoint,
    embeddings: super::openai_embeddings::EmbeddingsEndpoint,
    max_tokens: u32,
    temperature: f32,
}

enum Endpoint {
    OpenAi(Arc<DynClient>),
    /// One client per deployment (Azure puts it in the URL), made on first use.
    Azure {
        base_url: String,
        api_key: String,
        api_version: String,
        clients: DashMap<String, Arc<DynClient>>,
    },
}

impl OpenAiProvider {
    /// Validates `cfg` (named `key` in messages) and builds the HTTP client. Never reads
    /// `OPENAI_*` environment variables.
    pub(crate) fn new(
        cfg: &ProviderConfig,
        key: &str,
        http: reqwest::Client,
        max_tokens: u32,
        temperature: f32,
    ) -> Result<Self, LlmError> {
        check_endpoint(key, &cfg.base_url, &cfg.api_key)?;
        let base_url = cfg.base_url.trim().trim_end_matches('/').to_owned();
        let embeddings = super::openai_embeddings::EmbeddingsEndpoint {
            base_url: base_url.clone(),
            api_key: cfg.api_key.clone(),
            azure_api_version: (cfg.kind == "azure").then(|| cfg.api_version.clone()),
        };
        let endpoint = if cfg.kind == "azure" {
            if cfg.api_version.trim().is_empty() {
                return Err(LlmError::Config(format!(
                    "{key}.api_version is required for Azure OpenAI"
                )));
            }
            Endpoint::Azure {
                base_url,
                api_key: cfg.api_key.clone(),
                api_version: cfg.api_version.clone(),
                clients: DashMap::new(),
            }
        } else {
            // Explicit empty org/project so OPENAI_ORG_ID / OPENAI_PROJECT_ID are ignored, and
            // an explicit key (even empty) so OPENAI_API_KEY is never sent to a foreign host.
            let config = OpenAIConfig::new()
                .with_api_base(base_url)
                .with_api_key(cfg.api_key.clone())
                .with_org_id("")
                .with_project_id("");
            Endpoint::OpenAi(Arc::new(dyn_client(&http, Box::new(config))))
        };
        Ok(Self {
            http,
            endpoint,
            embeddings,
            max_tokens,
            temperature,
        })
    }

    fn client(&self, model: &str) -> Arc<DynClient> {
        match &self.endpoint {
            Endpoint::OpenAi(client) => client.clone(),
            Endpoint::Azure {
                base_url,
                api_key,
                api_version,
                clients,
            } => clients
                .entry(model.to_owned())
                .or_insert_with(|| {
                    let config = AzureConfig::new()
                        .with_api_base(base_url.clone())
                        .with_api_key(api_key.clone())
                        .with_api_version(api_version.clone())
                        .with_deployment_id(model);
                    Arc::new(dyn_client(&self.http, Box::new(config)))
                })
                .clone(),
        }
    }

    /// Sends the request and waits for the response headers; the returned stream
    /// yields the non-empty `delta.content` of each chunk, and the usage chunk
    /// (`stream_options.include_usage`) goes to `usage`.
    async fn open(
        &self,
        req: &CompletionRequest,
        model: &str,
        usage: UsageSlot,
    ) -> Result<TokenStream, LlmError> {
        let mut request = self.build_request(req, model);
        request.stream_options = Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        });
        let chunks = self
            .client(model)
            .chat()
            .create_stream(request)
            .await
            .map_err(map_open_error)?;
        Ok(text_fragments(chunks, usage))
    }

    /// A non-streamed completion constrained to `schema` (OpenAI structured outputs);
    /// returns the message content, which should be a JSON object, and reports the
    /// response's usage to `usage`.
    async fn json(
        &self,
        req: &CompletionRequest,
        model: &str,
        schema: &serde_json::Value,
        usage: &UsageSlot,
    ) -> Result<String, LlmError> {
        let mut request = self.build_request(req, model);
        request.stream = None;
        request.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: ResponseFormatJsonSchema {
                description: Some("Values extracted from the user's message".into()),
                name: "extraction".into(),
                schema: schema.clone(),
                strict: None,
            },
        });
        let response = self
            .client(model)
            .chat()
            .create(request)
            .await
            .map_err(map_open_error)?;
        if let Some(reported) = &response.usage {
            usage.set(usage_of(reported));
        }
        response
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .ok_or_else(|| LlmError::Protocol("the completion has no message content".into()))
    }

    #[allow(deprecated)] // `max_tokens`: still what most OpenAI-compatible servers understand.
    fn build_request(&self, req: &CompletionRequest, model: &str) -> CreateChatCompletionRequest {
        CreateChatCompletionRequest {
            model: model.to_owned(),
            messages: req
                .messages
                .iter()
                .cloned()
                .map(to_openai_message)
                .collect(),
            max_tokens: Some(req.max_tokens.unwrap_or(self.max_tokens)),
            temperature: Some(req.temperature.unwrap_or(self.temperature)),
            stream: Some(true),
            ..Default::default()
        }
    }
}

impl Provider for OpenAiProvider {
    fn kind(&self) -> &'static str {
        match self.endpoint {
            Endpoint::OpenAi(_) => "openai",
            Endpoint::Azure { .. } => "azure",
        }
    }

    fn stream<'a>(
        &'a self,
        req: &'a CompletionRequest,
        model: &'a str,
        usage: UsageSlot,
    ) -> BoxFuture<'a, Result<TokenStream, LlmError>> {
        Box::pin(self.open(req, model, usage))
    }

    fn complete_json<'a>(
        &'a self,
        req: &'a CompletionRequest,
        model: &'a str,
        schema: &'a serde_json::Value,
        usage: &'a UsageSlot,
    ) -> BoxFuture<'a, Result<String, LlmError>> {
        Box::pin(self.json(req, model, schema, usage))
    }

    fn embed<'a>(
        &'a self,
        inputs: &'a [String],
        model: &'a str,
        usage: &'a UsageSlot,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, LlmError>> {
        Box::pin(self.embeddings.embed(&self.http, inputs, model, usage))
    }
}

fn dyn_client(http: &reqwest::Client, config: Box<dyn Config>) -> DynClient {
    Client::build(http.clone(), config).with_http_service(single_attempt(http.clone()))
}

fn to_openai_message(m: ChatMessage) -> ChatCompletionRequestMessage {
    match m.role {
        Role::System => ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
            content: ChatCompletionRequestSystemMessageContent::Text(m.content),
            name: None,
        }),
        Role::User => ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
            content: ChatCompletionRequestUserMessageContent::Text(m.content),
            name: None,
        }),
        Role::Assistant => {
            ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                content: Some(ChatCompletionRequestAssistantMessageContent::Text(
                    m.content,
                )),
                ..Default::default()
            })
        }
    }
}

/// Tower service executing each request exactly once; non-2xx responses become
/// `OpenAIError::ApiError` carrying the real status and the best message we can find.
fn single_attempt(
    http: reqwest::Client,
) -> impl tower::Service<
    HttpRequestFactory,
    Response = reqwest::Response,
    Error = OpenAIError,
    Future = impl Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |factory: HttpRequestFactory| {
        let http = http.clone();
        async move {
            let request = factory.build().await?;
            let response = http.execute(request).await?;
            if response.status().is_success() {
                Ok(response)
            } else {
                Err(error_response(response).await)
            }
        }
    })
}

/// A 429 with its `Retry-After`, carried through async-openai as a boxed error.
#[derive(Debug, thiserror::Error)]
#[error("rate limited: {message}")]
struct RateLimit {
    retry_after_ms: Option<u64>,
    message: String,
}

async fn error_response(response: reqwest::Response) -> OpenAIError {
    let status_code = response.status();
    let retry_after_ms = super::retry_after::parse(response.headers());
    let body = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return OpenAIError::Reqwest(e),
    };
    let api_error = match serde_json::from_slice::<WrappedError>(&body) {
        Ok(wrapped) => wrapped.error,
        Err(_) => {
            let text = String::from_utf8_lossy(&body);
            let message = if text.trim().is_empty() {
                status_code
                    .canonical_reason()
                    .unwrap_or("empty error body")
                    .to_owned()
            } else {
                truncate_message(&text, MAX_ERROR_CHARS)
            };
            ApiError {
                message,
                ..Default::default()
            }
        }
    };
    if status_code.as_u16() == 429 {
        return OpenAIError::Boxed(Box::new(RateLimit {
            retry_after_ms,
            message: api_error.message,
        }));
    }
    OpenAIError::ApiError(ApiErrorResponse {
        status_code,
        api_error,
    })
}

/// Maps the chunk stream to text, skipping empty deltas and ending after the first error.
fn text_fragments(
    chunks: impl futures_util::Stream<Item = Result<CreateChatCompletionStreamResponse, OpenAIError>>
    + Send
    + 'static,
    usage: UsageSlot,
) -> TokenStream {
    struct State<S> {
        chunks: S,
        usage: UsageSlot,
        finished: bool,
        produced: bool,
        done: bool,
    }
    let state = State {
        chunks: Box::pin(chunks),
        usage,
        finished: false,
        produced: false,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        while !st.done {
            match st.chunks.next().await {
                Some(Ok(chunk)) => {
                    if let Some(reported) = &chunk.usage {
                        st.usage.set(usage_of(reported));
                    }
                    let mut text = String::new();
                    for choice in chunk.choices.iter().filter(|c| c.index == 0) {
                        if let Some(content) = &choice.delta.content {
                            text.push_str(content);
                        }
                        if let Some(reason) = &choice.finish_reason {
                            st.finished = true;
                            tracing::debug!(?reason, "llm stream finished");
                        }
                    }
                    if !text.is_empty() {
                        st.produced = true;
                        return Some((Ok(text), st));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(map_stream_error(e)), st));
                }
                None => {
                    st.done = true;
                    if !st.finished {
                        if !st.produced {
                            let msg = "stream ended without any content or finish_reason";
                            return Some((Err(LlmError::Protocol(msg.into())), st));
                        }
                        tracing::warn!("llm stream ended without finish_reason; reply may be cut");
                    }
                }
            }
        }
        None
    }))
}

fn usage_of(reported: &CompletionUsage) -> Usage {
    Usage {
        tokens_in: u64::from(reported.prompt_tokens),
        tokens_out: u64::from(reported.completion_tokens),
    }
}

/// Errors while sending the request / receiving headers.
fn map_open_error(e: OpenAIError) -> LlmError {
    match e {
        OpenAIError::ApiError(resp) => LlmError::Upstream {
            status: Some(resp.status_code.as_u16()),
            message: truncate_message(&resp.api_error.message, MAX_ERROR_CHARS),
        },
        OpenAIError::Reqwest(e) => LlmError::Transport(chain(&e)),
        OpenAIError::InvalidArgument(msg) => LlmError::Config(msg),
        OpenAIError::Boxed(e) => match e.downcast::<RateLimit>() {
            Ok(limit) => LlmError::RateLimited {
                retry_after_ms: limit.retry_after_ms,
                message: truncate_message(&limit.message, MAX_ERROR_CHARS),
            },
            Err(e) => LlmError::Transport(chain(e.as_ref())),
        },
        other => LlmError::Protocol(truncate_message(&other.to_string(), MAX_ERROR_CHARS)),
    }
}

/// Errors while reading the SSE body.
fn map_stream_error(e: OpenAIError) -> LlmError {
    match e {
        // An `data: {"error": {...}}` event mid-stream is how OpenAI reports late failures.
        OpenAIError::JSONDeserialize(err, content) => {
            match serde_json::from_str::<WrappedError>(&content) {
                Ok(wrapped) => LlmError::Upstream {
                    status: None,
                    message: truncate_message(&wrapped.error.message, MAX_ERROR_CHARS),
                },
                Err(_) => LlmError::Protocol(format!(
                    "invalid stream chunk ({err}): {}",
                    truncate_message(&content, 200)
                )),
            }
        }
        OpenAIError::StreamError(inner) => match *inner {
            StreamError::EventStream(msg) if msg.starts_with("Transport error") => {
                LlmError::Transport(msg)
            }
            other => LlmError::Protocol(other.to_string()),
        },
        other => map_open_error(other),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rejects_bad_config() {
        let base = ProviderConfig {
            kind: "openai".into(),
            base_url: "http://127.0.0.1:1/v1".into(),
            ..ProviderConfig::default()
        };
        let http = super::super::provider::http_client(Duration::from_secs(1)).unwrap();
        let build = |cfg: &ProviderConfig| {
            OpenAiProvider::new(cfg, "llm.providers.x", http.clone(), 16, 0.3)
        };
        assert!(build(&base).is_ok());
        let azure = ProviderConfig {
            kind: "azure".into(),
            api_version: "2024-10-21".into(),
            ..base.clone()
        };
        assert_eq!(build(&azure).map(|p| p.kind()).ok(), Some("azure"));
        for bad in [
            ProviderConfig {
                base_url: "ftp://x".into(),
                ..base.clone()
            },
            ProviderConfig {
                api_key: "sk-abc\n".into(),
                ..base.clone()
            },
            ProviderConfig {
                api_version: String::new(),
                ..azure.clone()
            },
        ] {
            assert!(matches!(build(&bad), Err(LlmError::Config(_))), "{bad:?}");
        }
    }

    #[test]
    fn mid_stream_error_event_is_upstream() {
        let content =
            r#"{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"#;
        let err = serde_json::from_str::<CreateChatCompletionStreamResponse>(content).unwrap_err();
        let mapped = map_stream_error(OpenAIError::JSONDeserialize(err, content.into()));
        assert_eq!(
            mapped,
            LlmError::Upstream {
                status: None,
                message: "overloaded".into()
            }
        );
    }

    #[test]
    fn garbage_chunk_is_protocol() {
        let content = "{not json";
        let err = serde_json::from_str::<CreateChatCompletionStreamResponse>(content).unwrap_err();
        let mapped = map_stream_error(OpenAIError::JSONDeserialize(err, content.into()));
        assert!(matches!(mapped, LlmError::Protocol(_)));
    }
}
