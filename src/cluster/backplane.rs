//! The Redis backplane of the conversation bus: events published on one node reach the
//! sockets watching the same conversation on every other node.
//!
//! Transport: Redis pub/sub, one channel per conversation. A node subscribes to a
//! conversation's channel while it has a local watcher of it (the bus tells it when the
//! first watcher arrives and the last leaves), so nodes only receive what they need.
//! Guarantees: pub/sub is at most once and keeps the order of one publisher connection.
//! Each node publishes through a single task over one connection, so a conversation's
//! events leave in the order its actor produced them. What pub/sub may lose (a dropped
//! subscriber connection) is recovered from the store: durable events carry a gap-free
//! `seq`, a watcher that sees a gap reads the missing events from PostgreSQL, and after a
//! reconnect every watcher on the node is told to resynchronise. Deltas (tokens of a reply
//! in progress) are best effort; the final message is durable.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::keys::Keys;
use super::messages::WireEvent;
use crate::bus::{Backplane, BusEvent};

/// Events waiting to be published; past this, events are dropped (watchers resync).
const PUBLISH_QUEUE: usize = 65_536;
/// Events published per pipeline round trip.
const PUBLISH_BATCH: usize = 256;
/// A batch that cannot be published is retried for about this long, then dropped.
const PUBLISH_RETRY_FOR: Duration = Duration::from_secs(30);

enum SubscriptionCmd {
    Watch(String, oneshot::Sender<()>),
    Unwatch(String),
    /// Subscribe everything again (after a reconnect), then resync local watchers.
    Reconcile,
}

pub(super) struct RedisBackplane {
    node_id: Arc<str>,
    keys: Keys,
    events: mpsc::Sender<(String, String)>,
    subscriptions: mpsc::UnboundedSender<SubscriptionCmd>,
    healthy: Arc<AtomicBool>,
}

impl RedisBackplane {
    /// Starts the publisher and the subscription manager. `fixed` are channels this
    /// node always listens to (its inbox, flow activations). `on_reconnected` runs once
    /// every subscription is back after an outage.
    pub fn start(
        node_id: Arc<str>,
        keys: Keys,
        publisher: ConnectionManager,
        subscriber: ConnectionManager,
        fixed: Vec<String>,
        on_reconnected: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let (events, events_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (subscriptions, subscriptions_rx) = mpsc::unbounded_channel();
        let healthy = Arc::new(AtomicBool::new(true));
        tokio::spawn(publish_loop(publisher, events_rx));
        tokio::spawn(subscription_loop(
            subscriber,
            subscriptions.downgrade(),
            subscriptions_rx,
            fixed,
            healthy.clone(),
            on_reconnected,
        ));
        Self {
            node_id,
            keys,
            events,
            subscriptions,
            healthy,
        }
    }

    /// The subscriber connection dropped: subscribe again and resync.
    pub fn reconnected(&self) {
        self.healthy.store(false, Ordering::Relaxed);
        let _ = self.subscriptions.send(SubscriptionCmd::Reconcile);
    }
}

impl Backplane for RedisBackplane {
    fn publish(&self, tenant_id: &str, conversation_id: &str, event: &BusEvent) {
        if matches!(event, BusEvent::Resync) {
            return; // a local signal, never sent
        }
        let wire = WireEvent {
            node: self.node_id.to_string(),
            event: event.clone(),
        };
        let Ok(payload) = serde_json::to_string(&wire) else {
            return;
        };
        let channel = self.keys.conversation_channel(tenant_id, conversation_id);
        // Counted before it is queued: the publisher may take it before `try_send` returns.
        crate::telemetry::metrics::queued("backplane_events", 1.0);
        if self.events.try_send((channel, payload)).is_err() {
            crate::telemetry::metrics::queued("backplane_events", -1.0);
            warn!(
                conversation_id,
                "backplane queue full; an event was not published (watchers elsewhere resync)"
            );
        }
    }

    fn watch(&self, tenant_id: &str, conversation_id: &str) -> BoxFuture<'static, ()> {
        let channel = self.keys.conversation_channel(tenant_id, conversation_id);
        let (done, wait) = oneshot::channel();
        let _ = self
            .subscriptions
            .send(SubscriptionCmd::Watch(channel, done));
        Box::pin(async move {
            let _ = wait.await;
        })
    }

    fn unwatch(&self, tenant_id: &str, conversation_id: &str) {
        let channel = self.keys.conversation_channel(tenant_id, conversation_id);
        let _ = self.subscriptions.send(SubscriptionCmd::Unwatch(channel));
    }
}

async fn publish_loop(mut redis: ConnectionManager, mut events: mpsc::Receiver<(String, String)>) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    loop {
        if events.recv_many(&mut batch, PUBLISH_BATCH).await == 0 {
            return;
        }
        crate::telemetry::metrics::queued("backplane_events", -(batch.len() as f64));
        let mut pipe = redis::pipe();
        for (channel, payload) in &batch {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            match pipe.query_async::<()>(&mut redis).await {
                Ok(()) => break,
                Err(e) if started.elapsed() < PUBLISH_RETRY_FOR => {
                    debug!(error = %e, "publish failed; retrying in order");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Err(e) => {
                    warn!(error = %e, events = batch.len(), "events not published; remote watchers resync from the store");
                    break;
                }
            }
        }
        batch.clear();
    }
}

async fn subscription_loop(
    mut redis: ConnectionManager,
    myself: mpsc::WeakUnboundedSender<SubscriptionCmd>,
    mut commands: mpsc::UnboundedReceiver<SubscriptionCmd>,
    fixed: Vec<String>,
    healthy: Arc<AtomicBool>,
    on_reconnected: Arc<dyn Fn() + Send + Sync>,
) {
    let mut wanted: HashSet<String> = HashSet::new();
    let mut subscribed_before = false;
    while let Some(command) = commands.recv().await {
        match command {
            SubscriptionCmd::Watch(channel, done) => {
                if wanted.insert(channel.clone())
                    && healthy.load(Ordering::Relaxed)
                    && let Err(e) = redis.subscribe(&channel).await
                {
                    warn!(error = %e, "subscribe failed; will subscribe again when Redis is back");
                    if healthy.swap(false, Ordering::Relaxed) {
                        let myself = myself.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_millis(250)).await;
                            if let Some(commands) = myself.upgrade() {
                                let _ = commands.send(SubscriptionCmd::Reconcile);
                            }
                        });
                    }
                }
                let _ = done.send(());
            }
            SubscriptionCmd::Unwatch(channel) => {
                if wanted.remove(&channel) && healthy.load(Ordering::Relaxed) {
                    let _ = redis.unsubscribe(&channel).await;
                }
            }
            SubscriptionCmd::Reconcile => {
                let all: Vec<&String> = fixed.iter().chain(wanted.iter()).collect();
                let mut delay = Duration::from_millis(100);
                loop {
                    match redis.subscribe(&all).await {
                        Ok(()) => break,
                        Err(e) => {
                            debug!(error = %e, "resubscribe failed; retrying");
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(2));
                        }
                    }
                }
                healthy.store(true, Ordering::Relaxed);
                if subscribed_before {
                    warn!(
                        channels = all.len(),
                        "subscriptions restored; watchers resync from the store"
                    );
                }
                subscribed_before = true;
                on_reconnected();
            }
        }
    }
}
