//! Webhook ingestion shared by WhatsApp, Slack and Teams, after the provider module has
//! verified the request and parsed it into [`InboundMessage`]s.
//!
//! Each message goes to the conversation of its provider thread (created on first
//! contact; a unique index makes concurrent first deliveries agree on one). It is stored
//! with the provider's event id as its dedup key before the webhook is answered, so a
//! retried or concurrent duplicate finds the first copy: one stored message, one reply.
//! In cluster mode a stored event also leaves a mark in Redis, so a retry that lands on
//! any node is answered without touching the conversation (the store stays the guarantee).
//! Replies leave through the channel's outbox, not here.

use std::time::Duration;

use crate::actors::conversation::PersistedState;
use crate::actors::{Inbound, Runtime, TurnError};
use crate::channels::delivery::ChannelHub;
use crate::channels::inbound::{InboundMessage, Provider};
use crate::store::ChannelAccountRow;

/// Why a message could not be taken in; the webhook answers 503 and the provider retries.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error("the tenant is unavailable")]
    Tenant,
    #[error("the tenant's entry flow has no active version: {0}")]
    Flow(String),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the message was not stored in time")]
    NotStored,
}

/// Stores one inbound message in its thread's conversation (idempotently) and tells the
/// account's sender where replies go.
pub async fn take_in(
    runtime: &Runtime,
    hub: &ChannelHub,
    account: &ChannelAccountRow,
    provider: Provider,
    message: &InboundMessage,
    ack_timeout: Duration,
) -> Result<(), IngressError> {
    let tenant = runtime
        .tenant(&account.tenant_id)
        .await
        .map_err(|_| IngressError::Tenant)?
        .ok_or(IngressError::Tenant)?;
    let services = runtime.services();
    let cluster = services.cluster.node();
    if let Some(node) = cluster
        && node
            .inbound_seen(tenant.id(), provider.as_str(), &message.event_id)
            .await
    {
        // A retry of an event some node already stored: answer at once.
        tracing::debug!(
            provider = provider.as_str(),
            "duplicate webhook event (cluster dedup mark)"
        );
        return Ok(());
    }
    let entry_flow = tenant.info().entry_flow.clone();
    let (version, _) = services
        .flows
        .active(tenant.id(), &entry_flow)
        .await
        .map_err(|e| IngressError::Flow(e.to_string()))?;
    let state = serde_json::to_string(&PersistedState::default()).unwrap_or_default();
    let (conversation_id, created) = services
        .store
        .open_thread_conversation(
            tenant.id(),
            &account.id,
            provider.as_str(),
            &message.thread_key,
            &entry_flow,
            version,
            &state,
            &message.reply_to.to_string(),
        )
        .await?;
    if created {
        tracing::info!(tenant_id = %tenant.id(), conversation_id = %conversation_id,
            provider = provider.as_str(), "conversation opened");
    }
    hub.watch(&account.id, &conversation_id, message.reply_to.clone());
    let inbound = Inbound {
        source: provider.as_str(),
        dedup_key: message.event_id.clone(),
        text: message.text.clone(),
    };
    match tokio::time::timeout(
        ack_timeout,
        tenant.send_user_message(&conversation_id, inbound),
    )
    .await
    {
        Ok(Ok(ack)) => {
            if let Some(node) = cluster {
                node.mark_inbound_seen(tenant.id(), provider.as_str(), &message.event_id)
                    .await;
            }
            tracing::debug!(conversation_id = %conversation_id, seq = ack.seq, duplicate = ack.duplicate,
                provider = provider.as_str(), "inbound message stored");
            Ok(())
        }
        Ok(Err(
            TurnError::Store
            | TurnError::Unavailable
            | TurnError::NotFound
            | TurnError::NotInHumanMode
            | TurnError::Moved
            | TurnError::ClusterUnavailable,
        ))
        | Err(_) => Err(IngressError::NotStored),
    }
}
