//! Governance of model spend: budgets and prepaid credits enforced before every model
//! call (`budgets.rs`, the gateway's `SpendGuard`), and alerts to tenants' webhooks
//! (`alerts.rs`) when a budget crosses a threshold or runs out, a circuit breaker opens
//! or closes, or a channel delivery fails for good.

pub mod alerts;
pub mod budgets;

pub use alerts::Alerts;
pub use budgets::Budgets;
