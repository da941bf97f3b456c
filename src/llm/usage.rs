//! Metering: what a model call used and cost, and who it is charged to.
//!
//! Every call the gateway makes (a streamed reply or an extraction, successful or not)
//! ends as one [`ModelCall`] handed to the gateway's [`UsageSink`]. Tokens come from the
//! provider's own usage report when it sent one; a stream cut short (or a provider that
//! never reports) is counted by the gateway itself and marked `estimated`. Cost comes from
//! the [`PriceTable`], in integer micro-units of the configured currency, never floats.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Tokens one call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub tokens_in: u64,
    pub tokens_out: u64,
}

/// Where a call's token counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageSource {
    /// The provider's own report (OpenAI `usage`, Anthropic `message_delta`).
    Provider,
    /// Counted by Switchboard: the offline model, which has no tokenizer but its own.
    Counted,
    /// The provider sent no report (a stream cut short): prompt characters / 4, and
    /// one token per streamed fragment.
    Estimated,
}

impl UsageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Provider => "provider",
            UsageSource::Counted => "counted",
            UsageSource::Estimated => "estimated",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The reply arrived whole.
    Ok,
    /// The provider or the gateway failed the call (`error_code` says how).
    Error,
    /// The caller stopped reading before the end (a cancelled turn, a shutdown).
    Cancelled,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::Cancelled => "cancelled",
        }
    }
}

/// What a call is for: a streamed reply, a structured extraction or embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Chat,
    Extract,
    /// Embeddings of a knowledge base's chunks or a question.
    Embed,
}

impl CallKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Chat => "chat",
            CallKind::Extract => "extract",
            CallKind::Embed => "embed",
        }
    }
}

/// Who a call is charged to: its tenant and, for a conversation's turn, where in which
/// flow it happened. Simulations carry no conversation and the channel `simulate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOrigin {
    pub tenant_id: String,
    pub conversation_id: Option<String>,
    pub flow_id: Option<String>,
    pub flow_version: Option<i64>,
    pub state: Option<String>,
    pub channel: Option<String>,
}

/// One metered model call, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCall {
    /// Unique; a credit ledger debit names it.
    pub id: String,
    pub origin: CallOrigin,
    pub kind: CallKind,
    /// The configured provider's name: `default` (the one `llm.base_url` describes, or
    /// the offline model) or a name of `[llm.providers]`.
    pub provider: String,
    pub model: String,
    /// 1 for the first target of a call; fallbacks count up.
    pub attempt: u32,
    pub outcome: CallOutcome,
    /// The [`super::LlmError::code`] of a failed call.
    pub error_code: Option<&'static str>,
    pub usage: Usage,
    pub usage_source: UsageSource,
    /// From sending the request to the first text fragment (streams that produced one).
    pub first_token_ms: Option<u64>,
    /// From sending the request to the end of the call.
    pub latency_ms: u64,
    /// In micro-units of the price table's currency.
    pub cost_micros: i64,
    /// Unix milliseconds when the call started.
    pub started_at: i64,
}

/// Receives every finished call. Called from `Drop` too, so it must not block: an
/// implementation queues the record and stores it elsewhere.
pub trait UsageSink: Send + Sync {
    fn record(&self, call: ModelCall);
}

/// Keeps records in memory: for tests, and for gateways nobody meters (simulations
/// built without a store).
#[derive(Clone, Default)]
pub struct MemorySink(Arc<Mutex<Vec<ModelCall>>>);

impl MemorySink {
    pub fn calls(&self) -> Vec<ModelCall> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl UsageSink for MemorySink {
    fn record(&self, call: ModelCall) {
        if let Ok(mut calls) = self.0.lock() {
            calls.push(call);
        }
    }
}

/// The price of one model, in micro-units of the currency per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Per million prompt tokens (e.g. 150000 is 0.15 per million).
    pub input: u64,
    /// Per million completion tokens.
    pub output: u64,
}

/// Prices per model name. A model missing from the table costs 0 and is logged once
/// per gateway as unpriced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable {
    prices: BTreeMap<String, ModelPrice>,
}

impl PriceTable {
    pub fn new(prices: BTreeMap<String, ModelPrice>) -> Self {
        Self { prices }
    }

    pub fn get(&self, model: &str) -> Option<ModelPrice> {
        self.prices.get(model).copied()
    }

    /// The cost of `usage` on `model` in micro-units, rounded half up, or `None` when
    /// the model has no price.
    pub fn cost_micros(&self, model: &str, usage: Usage) -> Option<i64> {
        self.get(model).map(|price| cost_micros(price, usage))
    }
}

/// `(tokens_in × input + tokens_out × output) / 1,000,000`, rounded half up, in integer
/// arithmetic wide enough that no realistic count overflows.
pub fn cost_micros(price: ModelPrice, usage: Usage) -> i64 {
    let scaled = u128::from(usage.tokens_in) * u128::from(price.input)
        + u128::from(usage.tokens_out) * u128::from(price.output);
    i64::try_from((scaled + 500_000) / 1_000_000).unwrap_or(i64::MAX)
}

/// The gateway's estimate of a prompt's tokens when the provider reported none: one
/// token per four characters, at least one per message.
pub fn estimate_prompt_tokens(messages: &[super::ChatMessage]) -> u64 {
    messages
        .iter()
        .map(|m| (m.content.chars().count() as u64).div_ceil(4).max(1))
        .sum()
}

/// Where a backend reports the usage of the call it is streaming, once known.
#[derive(Clone, Default)]
pub(crate) struct UsageSlot(Arc<Mutex<Option<Usage>>>);

impl UsageSlot {
    pub(crate) fn set(&self, usage: Usage) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(usage);
        }
    }

    pub(crate) fn get(&self) -> Option<Usage> {
        self.0.lock().ok().and_then(|slot| *slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_integer_micro_units_rounded_half_up() {
        let price = ModelPrice {
            input: 150_000,
            output: 600_000,
        };
        let usage = Usage {
            tokens_in: 1_000,
            tokens_out: 2_000,
        };
        // 1,000 × 0.15/M + 2,000 × 0.60/M = 0.00015 + 0.0012 = 1,350 micro-units.
        assert_eq!(cost_micros(price, usage), 1_350);
        // 3 × 150,000 = 450,000 → 0.45 micro-units → 0; 4 × 150,000 → 0.6 → 1.
        let tiny = |n| Usage {
            tokens_in: n,
            tokens_out: 0,
        };
        assert_eq!(cost_micros(price, tiny(3)), 0);
        assert_eq!(cost_micros(price, tiny(4)), 1);
        let huge = Usage {
            tokens_in: u64::MAX,
            tokens_out: u64::MAX,
        };
        assert_eq!(cost_micros(price, huge), i64::MAX);
    }

    #[test]
    fn unpriced_model_has_no_cost() {
        let table = PriceTable::new(BTreeMap::from([(
            "m".to_string(),
            ModelPrice {
                input: 1_000_000,
                output: 2_000_000,
            },
        )]));
        let usage = Usage {
            tokens_in: 7,
            tokens_out: 5,
        };
        assert_eq!(table.cost_micros("m", usage), Some(17));
        assert_eq!(table.cost_micros("other", usage), None);
    }
}
