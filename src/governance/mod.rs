//! Governance of model spend: the [`Governor`] is the gateway's `SpendGuard`, which
//! admits every model call against the tenant's rate limits (`rate_limits.rs`) and
//! budgets and prepaid credits (`budgets.rs`) before anything is sent, and settles both
//! when the call ends; `alerts.rs` sends signed events to tenants' webhooks when a
//! budget crosses a threshold or runs out, a circuit breaker opens or closes, or a
//! channel delivery fails for good; `tenant_models.rs` gives the gateway each tenant's
//! own model providers (its own keys) and routes; `shared_breakers.rs` shares circuit
//! breakers between the nodes of a cluster.

pub mod alerts;
pub mod budgets;
mod governor;
pub mod rate_limits;
pub mod shared_breakers;
pub mod tenant_models;

pub use alerts::Alerts;
pub use budgets::Budgets;
pub use governor::Governor;
pub use rate_limits::ModelLimits;
pub use tenant_models::TenantProviders;
