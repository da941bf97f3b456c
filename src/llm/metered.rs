//! The metering wrapper around a reply stream: it watches the fragments go by and, when
//! the stream ends, fails, or is dropped half-read, hands one [`ModelCall`] to the sink.
//! Recording on drop is what makes a stream cut short still count what it used.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::time::Instant;

use super::spend::{Reservation, SpendGuard};
use super::usage::{CallOutcome, ModelCall, PriceTable, Usage, UsageSink, UsageSlot, UsageSource};
use super::{LlmError, TokenStream};

/// A call being metered: everything but its ending.
pub(crate) struct Meter {
    pub(crate) sink: Arc<dyn UsageSink>,
    pub(crate) prices: Arc<PriceTable>,
    pub(crate) record: ModelCall,
    pub(crate) started: Instant,
    /// The provider's report, when the backend gets one.
    pub(crate) reported: UsageSlot,
    /// The gateway's own count of the prompt, used when no report arrives.
    pub(crate) estimated_in: u64,
    /// The backend's tokens are its fragments and `estimated_in` is its exact prompt
    /// count (the offline model): no report is needed.
    pub(crate) counts_own: bool,
    /// What the budgets reserved for this call, settled to its cost at the end.
    pub(crate) spend: Option<(Arc<dyn SpendGuard>, Reservation)>,
}

impl Meter {
    /// Records the call as ended with `outcome` after `fragments` streamed fragments.
    pub(crate) fn finish(
        mut self,
        outcome: CallOutcome,
        error: Option<&LlmError>,
        fragments: u64,
        first_token_ms: Option<u64>,
    ) {
        let counted = Usage {
            tokens_in: self.estimated_in,
            tokens_out: fragments,
        };
        let (usage, source) = match self.reported.get() {
            _ if self.counts_own => (counted, UsageSource::Counted),
            Some(usage) => (usage, UsageSource::Provider),
            None => (counted, UsageSource::Estimated),
        };
        self.record.outcome = outcome;
        self.record.error_code = error.map(LlmError::code);
        self.record.usage = usage;
        self.record.usage_source = source;
        self.record.first_token_ms = first_token_ms;
        self.record.latency_ms = millis(self.started.elapsed());
        self.record.cost_micros = self
            .prices
            .cost_micros(&self.record.model, usage)
            .unwrap_or(0);
        let labels = [
            ("provider", self.record.provider.clone()),
            ("model", self.record.model.clone()),
        ];
        metrics::counter!("switchboard_model_calls_total", &labels[..]).increment(1);
        metrics::counter!("switchboard_model_calls_by_outcome_total", "outcome" => outcome.as_str()).increment(1);
        metrics::counter!(
            "switchboard_model_tokens_total",
            &[
                labels[0].clone(),
                labels[1].clone(),
                ("direction", "in".to_owned())
            ][..]
        )
        .increment(usage.tokens_in);
        metrics::counter!(
            "switchboard_model_tokens_total",
            &[
                labels[0].clone(),
                labels[1].clone(),
                ("direction", "out".to_owned())
            ][..]
        )
        .increment(usage.tokens_out);
        metrics::counter!("switchboard_model_cost_micros_total", &labels[..])
            .increment(u64::try_from(self.record.cost_micros).unwrap_or(0));
        if let Some(ms) = first_token_ms {
            metrics::histogram!("switchboard_model_first_token_seconds", &labels[..])
                .record(ms as f64 / 1000.0);
        }
        if let Some((guard, reservation)) = self.spend.take() {
            let record = &self.record;
            guard.settle(
                &record.origin,
                reservation,
                record.cost_micros,
                record.usage,
                &record.id,
            );
        }
        self.sink.record(self.record);
    }
}

/// A [`TokenStream`] that meters itself.
struct Metered {
    inner: TokenStream,
    meter: Option<Meter>,
    fragments: u64,
    first_token_ms: Option<u64>,
}

/// Wraps `inner` so its call is recorded exactly once, however it ends.
pub(crate) fn metered(inner: TokenStream, meter: Meter) -> TokenStream {
    Box::pin(Metered {
        inner,
        meter: Some(meter),
        fragments: 0,
        first_token_ms: None,
    })
}

impl Stream for Metered {
    type Item = Result<String, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = this.inner.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => {
                this.fragments += 1;
                if this.first_token_ms.is_none() {
                    this.first_token_ms = this.meter.as_ref().map(|m| millis(m.started.elapsed()));
                }
            }
            Poll::Ready(Some(Err(error))) => {
                if let Some(meter) = this.meter.take() {
                    meter.finish(
                        CallOutcome::Error,
                        Some(error),
                        this.fragments,
                        this.first_token_ms,
                    );
                }
            }
            Poll::Ready(None) => {
                if let Some(meter) = this.meter.take() {
                    meter.finish(CallOutcome::Ok, None, this.fragments, this.first_token_ms);
                }
            }
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        if let Some(meter) = self.meter.take() {
            meter.finish(
                CallOutcome::Cancelled,
                None,
                self.fragments,
                self.first_token_ms,
            );
        }
    }
}

pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
