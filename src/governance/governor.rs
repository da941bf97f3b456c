//! The gateway's [`SpendGuard`] in a running node: a call is admitted by the tenant's
//! rate limits first, then by its budgets; when it ends, both are settled.

use std::future::Future;
use std::pin::Pin;

use super::budgets::Budgets;
use super::rate_limits::{Counted, ModelLimits};
use crate::llm::usage::Usage;
use crate::llm::{CallOrigin, LlmError, Reservation, SpendGuard};

#[derive(Clone)]
pub struct Governor {
    pub limits: ModelLimits,
    pub budgets: Budgets,
}

/// What one admitted call holds.
struct Held {
    counted: Option<Counted>,
    budget: Option<Reservation>,
}

impl Governor {
    async fn admit(
        &self,
        origin: &CallOrigin,
        micros: i64,
        prompt_tokens: u64,
    ) -> Result<Option<Reservation>, LlmError> {
        let counted = self.limits.admit(&origin.tenant_id, prompt_tokens).await?;
        let budget = self.budgets.admit(origin, micros).await?;
        if counted.is_none() && budget.is_none() {
            return Ok(None);
        }
        Ok(Some(Reservation {
            micros,
            detail: Box::new(Held { counted, budget }),
        }))
    }
}

impl SpendGuard for Governor {
    fn reserve<'a>(
        &'a self,
        origin: &'a CallOrigin,
        micros: i64,
        prompt_tokens: u64,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Reservation>, LlmError>> + Send + 'a>> {
        Box::pin(self.admit(origin, micros, prompt_tokens))
    }

    fn settle(
        &self,
        origin: &CallOrigin,
        reservation: Reservation,
        actual_micros: i64,
        usage: Usage,
        call_id: &str,
    ) {
        let Ok(held) = reservation.detail.downcast::<Held>() else {
            return;
        };
        let Held { counted, budget } = *held;
        if let Some(budget) = budget {
            self.budgets
                .settle(&origin.tenant_id, budget, actual_micros, call_id);
        }
        if let Some(counted) = counted {
            let limits = self.limits.clone();
            let tenant_id = origin.tenant_id.clone();
            let tokens = usage.tokens_in.saturating_add(usage.tokens_out);
            tokio::spawn(async move { limits.settle(&tenant_id, counted, tokens).await });
        }
    }
}
