//! The actor tree: a root supervisor, one [`tenant::TenantActor`] per tenant, and under
//! each tenant one [`conversation::ConversationActor`] per live conversation.
//!
//! Callers never build message enums: they use the typed handles ([`Runtime`],
//! [`TenantHandle`]) and speak the turn contract ([`crate::turn`]). Every long-lived
//! actor is spawned from the main multi-thread runtime (never from an HTTP worker),
//! because an actor lives on the runtime that spawned it.

pub mod conversation;
pub mod resume;
pub mod root;
pub mod supervision;
pub mod tenant;
pub mod timers;

pub use root::Runtime;
pub use tenant::{OpenError, Opened, Opening, TenantHandle, Thread};

/// Stops a spawned task when dropped, so a task never outlives the actor state that owns it.
#[derive(Debug)]
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
