//! Human agents as a product (docs/agents.md): who they are, what they may do to a
//! handed-off conversation, how conversations reach them, and their live inbox.
//!
//! A conversation a flow hands off is in human mode: the bot is silent, and it waits in
//! its queue (`conversations.handoff_queue`) until an agent claims it or the
//! [`assigner`] gives it to the least-loaded online agent of the queue with room. The
//! agent answers, writes private notes, transfers it, and resolves it back to the bot
//! at a state of the flow ([`actions`]). Agents sign in with a token of their own
//! ([`token`]) and follow their inbox over a WebSocket ([`socket`], frames in
//! [`protocol`]). Presence rides on the cluster's presence (`agent:<id>` entries).

pub mod actions;
pub mod assigner;
pub mod protocol;
pub mod socket;
pub mod summary;
pub mod token;

use crate::cluster::presence::{PresenceEntry, PresenceKind};
use crate::store::{AgentRow, now_ms};

/// An agent's presence entry: `id` is `agent:<agent>` (announced over HTTP) or
/// `agent:<agent>:<socket>` (one per open inbox socket); the subject is the agent.
pub fn presence_entry(agent: &AgentRow, id: String, node: &str, status: &str) -> PresenceEntry {
    PresenceEntry {
        id,
        kind: PresenceKind::Agent,
        subject: agent.id.clone(),
        conversation_id: None,
        node: node.to_owned(),
        since: now_ms(),
        status: Some(status.to_owned()),
    }
}
