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

use crate::actors::{OpenError, Opening, Runtime, Thread};
use crate::channels::delivery::ChannelHub;
use crate::channels::inbound::{InboundMessage, Provider};
use crate::store::ChannelAccountRow;
use crate::turn::{Inbound, TurnError};

/// Why a message could not be taken in; the webhook answers 503 and the provider retries.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error("the tenant is unavailable")]
    Tenant,
    #[error("cannot open the thread's conversation: {0}")]
    Open(#[from] OpenError),
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
    let cluster = &runtime.services().cluster;
    let source = provider.source();
    if cluster
        .inbound_seen(tenant.id(), source.as_str(), &message.event_id)
        .await
    {
        // A retry of an event some node already stored: answer at once.
        metrics::counter!("switchboard_webhook_duplicates_total", "provider" => provider.as_str())
            .increment(1);
        tracing::debug!(
            provider = provider.as_str(),
            "duplicate webhook event (cluster dedup mark)"
        );
        return Ok(());
    }
    let reply_to = message.reply_to.to_string();
    let opened = tenant
        .open_conversation(Opening {
            source,
            external_user: &message.thread_key,
            thread: Some(Thread {
                account_id: &account.id,
                reply_to: &reply_to,
            }),
            preview: None,
        })
        .await?;
    let conversation_id = opened.id;
    hub.watch(&account.id, &conversation_id, message.reply_to.clone());
    let inbound = Inbound {
        source,
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
            if ack.duplicate {
                metrics::counter!("switchboard_webhook_duplicates_total", "provider" => provider.as_str())
                    .increment(1);
            }
            cluster
                .mark_inbound_seen(tenant.id(), source.as_str(), &message.event_id)
                .await;
            tracing::debug!(conversation_id = %conversation_id, seq = ack.seq, duplicate = ack.duplicate,
                provider = provider.as_str(), "inbound message stored");
            Ok(())
        }
        Ok(Err(
            TurnError::Store
            | TurnError::Unavailable
            | TurnError::NotFound
            | TurnError::NotInHumanMode
            | TurnError::NoSuchState
            | TurnError::NotRunning
            | TurnError::Ended
            | TurnError::Moved
            | TurnError::ClusterUnavailable,
        ))
        | Err(_) => Err(IngressError::NotStored),
    }
}
