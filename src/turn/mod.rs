//! The turn contract: what a conversation is asked to do and what it answers.
//!
//! A conversation receives a [`Command`] and answers with a [`Reply`], whether the
//! sender runs on this node or on another one: in cluster mode the very same values are
//! serialised onto Redis, so there is no second, hand-translated wire format. Edges
//! (web chat, provider webhooks, the admin API) build commands; the actor layer routes
//! them; the cluster layer carries them. [`PersistedState`] is the part of a
//! conversation's state that is stored with it, and the one way to create it.
//!
//! This module depends on nothing but the dialog engine's plain data types, so every
//! layer can import it without importing each other.

mod command;
mod persisted;
mod reply;

pub use command::{Command, Inbound, Source};
pub use persisted::{PendingCall, PendingLlm, PendingTimer, PersistedState};
pub use reply::{Ack, Reply, TurnError};
