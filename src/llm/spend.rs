//! The gateway's side of budgets and rate limits: before a call goes out it asks its
//! [`SpendGuard`] to admit it and reserve what it may cost at most (the prompt's
//! estimate and `max_tokens`, at the target's price); when the call ends, whatever way,
//! the reservation is settled to the actual cost and tokens. A refusal stops the call
//! before any request reaches an upstream.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use super::usage::Usage;
use super::{CallOrigin, LlmError};

/// A reservation the guard made; settled exactly once.
pub struct Reservation {
    pub micros: i64,
    /// The guard's own record of what it reserved where.
    pub detail: Box<dyn Any + Send + Sync>,
}

/// Admits calls against budgets and rate limits, and settles them.
pub trait SpendGuard: Send + Sync {
    /// Reserves `micros` for a call charged to `origin`; `prompt_tokens` is the
    /// gateway's estimate of the prompt, for token rate limits. `Ok(None)`: nothing to
    /// track. A refusal is [`LlmError::BudgetExhausted`] or
    /// [`LlmError::TenantRateLimited`]; a failure to check is [`LlmError::Budget`] (the
    /// call does not go out either).
    fn reserve<'a>(
        &'a self,
        origin: &'a CallOrigin,
        micros: i64,
        prompt_tokens: u64,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Reservation>, LlmError>> + Send + 'a>>;

    /// Swaps `reservation` for the call's actual cost and tokens. Called from `Drop`
    /// too: it must not block (an implementation hands the work to a task).
    fn settle(
        &self,
        origin: &CallOrigin,
        reservation: Reservation,
        actual_micros: i64,
        usage: Usage,
        call_id: &str,
    );
}
