//! OpenAI-compatible backend built on async-openai: turns a [`CompletionRequest`] into
//! a streaming `POST {base_url}/chat/completions` and the SSE chunks into plain text
//! fragments, mapping every failure onto [`LlmError`].
//!
//! HTTP execution goes through our own tower service instead of async-openai's
//! default executor for two reasons: the default wraps requests in a retry layer
//! (3 retries with backoff, honouring `Retry-After`) that would multiply load on a
//! failing upstream and turn a prompt `429`/`5xx` into a first-token timeout, and its
//! error reader drops the HTTP status when an error body is not OpenAI JSON (e.g. a
//! `404` page from a wrong base URL). Here every non-2xx response becomes
//! `LlmError::Upstream { status: Some(..) }`, once, immediately.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
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
use futures_util::StreamExt;

use super::error::truncate_message;
use super::usage::{Usage, UsageSlot};
use super::{ChatMessage, CompletionRequest, LlmError, Role, TokenStream};
use crate::config::LlmConfig;

/// Longest upstream-provided text we copy into an error message.
const MAX_ERROR_CHARS: usize = 500;

/// A configured client for one OpenAI-compatible endpoint.
pub(crate) struct OpenAiBackend {
    client: Client<OpenAIConfig>,
    model: String,
    max_tokens: u32,
    temperature: f32,
}

impl OpenAiBackend {
    /// Validates `cfg` and builds the HTTP client. Never reads `OPENAI_*` environment variables.
    pub(crate) fn new(cfg: &LlmConfig) -> Result<Self, LlmError> {
        let base_url = cfg.base_url.trim().trim_end_matches('/');
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "llm.base_url must start with http:// or https:// (got {base_url:?})"
            )));
        }
        if cfg.model.trim().is_empty() {
            return Err(LlmError::Config("llm.model must not be empty".into()));
        }
        // async-openai builds the Authorization header with `parse().unwrap()`, so a key
        // with a newline or other control character would panic there; reject it here.
        if cfg.api_key.chars().any(|c| c.is_control() || !c.is_ascii()) {
            return Err(LlmError::Config(
                "llm.api_key contains non-printable or non-ASCII characters".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| LlmError::Config(format!("cannot build HTTP client: {}", chain(&e))))?;
        // Explicit empty org/project so OPENAI_ORG_ID / OPENAI_PROJECT_ID are ignored, and
        // an explicit key (even empty) so OPENAI_API_KEY is never sent to a foreign host.
        let config = OpenAIConfig::new()
            .with_api_base(base_url)
            .with_api_key(cfg.api_key.clone())
            .with_org_id("")
            .with_project_id("");
        let client = Client::build(http.clone(), config).with_http_service(single_attempt(http));
        Ok(Self {
            client,
            model: cfg.model.clone(),
            max_tokens: cfg.max_tokens,
            temperature: cfg.temperature,
        })
    }

    pub(crate) fn model(&self) -> &str {
        &self.model
    }

    /// Sends the request and waits for the response headers; the returned stream
    /// yields the non-empty `delta.content` of each chunk.
    /// The usage chunk (`stream_options.include_usage`) goes to `usage`.
    pub(crate) async fn open(
        &self,
        req: CompletionRequest,
        usage: UsageSlot,
    ) -> Result<TokenStream, LlmError> {
        let mut request = self.build_request(req);
        request.stream_options = Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        });
        let chunks = self
            .client
            .chat()
            .create_stream(request)
            .await
            .map_err(map_open_error)?;
        Ok(text_fragments(chunks, usage))
    }

    /// A non-streamed completion constrained to `schema` (OpenAI structured outputs);
    /// returns the message content, which should be a JSON object, and reports the
    /// response's usage to `usage`.
    pub(crate) async fn complete_json(
        &self,
        req: CompletionRequest,
        schema: &serde_json::Value,
        usage: &UsageSlot,
    ) -> Result<String, LlmError> {
        let mut request = self.build_request(req);
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
            .client
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
    fn build_request(&self, req: CompletionRequest) -> CreateChatCompletionRequest {
        CreateChatCompletionRequest {
            model: req.model.clone().unwrap_or_else(|| self.model.clone()),
            messages: req.messages.into_iter().map(to_openai_message).collect(),
            max_tokens: Some(req.max_tokens.unwrap_or(self.max_tokens)),
            temperature: Some(req.temperature.unwrap_or(self.temperature)),
            stream: Some(true),
            ..Default::default()
        }
    }
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

async fn error_response(response: reqwest::Response) -> OpenAIError {
    let status_code = response.status();
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
        OpenAIError::Boxed(e) => LlmError::Transport(chain(e.as_ref())),
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

/// An error and its sources, e.g. "error sending request …: client error (Connect): Connection refused".
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_config() {
        let base = LlmConfig {
            base_url: "http://127.0.0.1:1/v1".into(),
            ..LlmConfig::default()
        };
        assert!(OpenAiBackend::new(&base).is_ok());
        for bad in [
            LlmConfig {
                base_url: "ftp://x".into(),
                ..base.clone()
            },
            LlmConfig {
                model: " ".into(),
                ..base.clone()
            },
            LlmConfig {
                api_key: "sk-abc\n".into(),
                ..base.clone()
            },
        ] {
            assert!(matches!(OpenAiBackend::new(&bad), Err(LlmError::Config(_))));
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
