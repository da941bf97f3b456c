//! The single error type of the LLM layer. Every failure a caller can see — bad
//! configuration, an upstream HTTP error, a broken connection, a malformed stream or
//! one of our own deadlines — is one [`LlmError`] variant with a stable [`LlmError::code`]
//! that the chat runtime can forward to clients without leaking internals.

use std::fmt;

/// Which deadline of a completion was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutPhase {
    /// No text fragment (and, before that, no response headers) within `first_token_timeout_ms`.
    FirstToken,
    /// No next fragment within `idle_timeout_ms` of asking for it.
    Idle,
    /// The whole reply did not finish within `request_timeout_ms`.
    Total,
}

impl TimeoutPhase {
    /// Stable snake_case name, e.g. for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutPhase::FirstToken => "first_token",
            TimeoutPhase::Idle => "idle",
            TimeoutPhase::Total => "total",
        }
    }
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong while talking to a model.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum LlmError {
    /// The upstream answered with an error: an HTTP error status (with OpenAI's
    /// `error.message` when present) or an error event inside the stream (`status: None`).
    #[error("upstream error{}: {message}", fmt_status(*.status))]
    Upstream {
        status: Option<u16>,
        message: String,
    },
    /// The upstream refused with 429: too many requests or tokens for now. `Retry-After`
    /// (seconds or an HTTP date), when sent, says how long to wait.
    #[error("upstream rate limit (HTTP 429){}: {message}", fmt_retry(*.retry_after_ms))]
    RateLimited {
        retry_after_ms: Option<u64>,
        message: String,
    },
    /// A budget of the tenant (or of the flow) has no room for the call: nothing was
    /// sent. `message` is what the tenant wants the user told.
    #[error("model budget exhausted ({scope})")]
    BudgetExhausted {
        scope: String,
        message: Option<String>,
    },
    /// The tenant's rate limit on model calls refused the call: nothing was sent.
    #[error("the tenant's model rate limit is reached")]
    TenantRateLimited { message: Option<String> },
    /// The budgets could not be checked (the database failed); the call did not go out.
    #[error("budget check failed: {0}")]
    Budget(String),
    /// Every target of the route is failing and its circuit breaker is open: the gateway
    /// refused without calling the upstream.
    #[error("circuit breaker open for {target}")]
    BreakerOpen { target: String },
    /// One of the gateway's deadlines expired; the stream ends after this error.
    #[error("LLM {phase} timeout after {after_ms} ms")]
    Timeout { phase: TimeoutPhase, after_ms: u64 },
    /// Network failure: connection refused/reset, DNS, TLS, body read errors.
    #[error("transport error: {0}")]
    Transport(String),
    /// The upstream spoke something that is not the OpenAI streaming protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The gateway configuration (or a request built from it) is invalid.
    #[error("configuration error: {0}")]
    Config(String),
    /// The target cannot do what was asked (e.g. a provider without embeddings); the
    /// gateway tries the route's next target.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

fn fmt_retry(retry_after_ms: Option<u64>) -> String {
    retry_after_ms
        .map(|ms| format!(", retry after {ms} ms"))
        .unwrap_or_default()
}

fn fmt_status(status: Option<u16>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

impl LlmError {
    /// Stable machine-readable code, suitable for client-facing error frames.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Upstream { .. } => "llm_upstream",
            LlmError::RateLimited { .. } => "llm_rate_limited",
            LlmError::BreakerOpen { .. } => "llm_breaker_open",
            LlmError::BudgetExhausted { .. } => "llm_budget_exhausted",
            LlmError::Budget(_) => "llm_budget_check",
            LlmError::TenantRateLimited { .. } => "llm_tenant_rate_limited",
            LlmError::Timeout { .. } => "llm_timeout",
            LlmError::Transport(_) => "llm_transport",
            LlmError::Protocol(_) => "llm_protocol",
            LlmError::Config(_) => "llm_config",
            LlmError::Unsupported(_) => "llm_unsupported",
        }
    }

    /// Whether trying again later might succeed (timeouts, network trouble, 429 and 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Timeout { .. }
            | LlmError::Transport(_)
            | LlmError::RateLimited { .. }
            | LlmError::BreakerOpen { .. } => true,
            LlmError::Upstream { status, .. } => match status {
                Some(s) => *s == 408 || *s == 429 || *s >= 500,
                None => true,
            },
            LlmError::Protocol(_)
            | LlmError::Config(_)
            | LlmError::Unsupported(_)
            | LlmError::BudgetExhausted { .. }
            | LlmError::TenantRateLimited { .. }
            | LlmError::Budget(_) => false,
        }
    }
}

/// Shortens upstream-provided text (error pages can be huge) at a char boundary.
pub(crate) fn truncate_message(text: &str, max_chars: usize) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

/// An error and its sources, e.g. "error sending request …: client error (Connect): Connection refused".
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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
    fn codes_and_display() {
        let e = LlmError::Upstream {
            status: Some(500),
            message: "boom".into(),
        };
        assert_eq!(e.code(), "llm_upstream");
        assert_eq!(e.to_string(), "upstream error (HTTP 500): boom");
        let t = LlmError::Timeout {
            phase: TimeoutPhase::FirstToken,
            after_ms: 300,
        };
        assert_eq!(t.code(), "llm_timeout");
        assert_eq!(t.to_string(), "LLM first_token timeout after 300 ms");
        assert_eq!(LlmError::Transport("x".into()).code(), "llm_transport");
        assert_eq!(LlmError::Protocol("x".into()).code(), "llm_protocol");
        assert_eq!(LlmError::Config("x".into()).code(), "llm_config");
    }

    #[test]
    fn truncation_is_char_safe() {
        assert_eq!(truncate_message("  héllo  ", 10), "héllo");
        assert_eq!(truncate_message("héllo wörld", 4), "héll…");
    }
}
