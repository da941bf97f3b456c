//! The conversation bus: how events produced by a conversation reach every socket that
//! watches it.
//!
//! Each conversation has a topic, created when the first local subscriber arrives and
//! removed with the last one: a bounded `tokio::sync::broadcast` channel. A subscriber
//! that falls more than `capacity` events behind gets [`BusRecvError::Lagged`] and must
//! resynchronise from the store (durable events carry `seq`, so nothing is lost, only
//! re-read). Publishing never blocks the conversation actor.
//!
//! On a single node that is all. In cluster mode a [`Backplane`] (Redis, see
//! `crate::cluster::backplane`) carries every published event to the other nodes and
//! delivers theirs here; the bus tells it which topics this node watches.
//!
//! Watchers rarely use a [`Subscription`] directly: a [`Follower`] combines it with the
//! store into one ordered stream without gaps or duplicates.

mod follow;

use std::sync::Arc;

use dashmap::DashMap;
use futures_util::future::BoxFuture;
use tokio::sync::{OnceCell, broadcast};

pub use follow::{FollowError, Follower};

/// Carries bus events between nodes.
pub trait Backplane: Send + Sync {
    /// Sends an event published on this node to the other nodes, in publishing order.
    fn publish(&self, tenant_id: &str, conversation_id: &str, event: &BusEvent);
    /// This node now watches the conversation; resolves once remote events flow.
    fn watch(&self, tenant_id: &str, conversation_id: &str) -> BoxFuture<'static, ()>;
    /// This node no longer watches the conversation.
    fn unwatch(&self, tenant_id: &str, conversation_id: &str);
}

use crate::transcript::Message;

/// Something a conversation publishes to its watchers. Serialisable, because in cluster
/// mode it also travels between nodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusEvent {
    /// A durable message, already stored under its seq.
    Message(Message),
    /// Text of a bot message in progress; `offset` counts the characters sent before it.
    Delta {
        message_id: String,
        offset: usize,
        text: String,
    },
    /// Events may have been missed (a backplane reconnect): read the store from your
    /// last seq.
    Resync,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Topic {
    tenant_id: Arc<str>,
    conversation_id: String,
}

struct TopicEntry {
    sender: broadcast::Sender<Arc<BusEvent>>,
    /// Set once the backplane delivers this topic's remote events.
    watched: Arc<OnceCell<()>>,
}

type Topics = Arc<DashMap<Topic, TopicEntry>>;

/// Cheap-clone handle to the bus.
#[derive(Clone)]
pub struct Bus {
    /// Topic → sender. DashMap because publishers (conversation actors) and subscribers
    /// (connections) touch different topics concurrently from many threads; no reference
    /// into it is ever held across an `.await`.
    topics: Topics,
    capacity: usize,
    backplane: Option<Arc<dyn Backplane>>,
}

/// A subscriber fell behind or the topic closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusRecvError {
    #[error("subscriber fell behind by {0} events")]
    Lagged(u64),
    #[error("topic closed")]
    Closed,
}

/// A live subscription to one conversation's topic. Dropping it unsubscribes.
pub struct Subscription {
    receiver: Option<broadcast::Receiver<Arc<BusEvent>>>,
    topic: Topic,
    topics: Topics,
    backplane: Option<Arc<dyn Backplane>>,
}

impl Bus {
    pub fn new(capacity: usize) -> Self {
        Self {
            topics: Arc::new(DashMap::new()),
            capacity: capacity.max(16),
            backplane: None,
        }
    }

    /// A bus whose events also travel to (and arrive from) other nodes.
    pub fn with_backplane(capacity: usize, backplane: Arc<dyn Backplane>) -> Self {
        Self {
            backplane: Some(backplane),
            ..Self::new(capacity)
        }
    }

    /// Publishes to everyone watching the conversation, on every node.
    pub fn publish(&self, tenant_id: &Arc<str>, conversation_id: &str, event: BusEvent) {
        if let Some(backplane) = &self.backplane {
            backplane.publish(tenant_id, conversation_id, &event);
        }
        self.deliver_local(tenant_id, conversation_id, event);
    }

    /// Hands an event to this node's subscribers only (events from other nodes).
    pub fn deliver_local(&self, tenant_id: &str, conversation_id: &str, event: BusEvent) {
        let topic = Topic {
            tenant_id: Arc::from(tenant_id),
            conversation_id: conversation_id.to_string(),
        };
        if let Some(entry) = self.topics.get(&topic) {
            // An error only means every receiver is gone; the last one removes the topic.
            let _ = entry.sender.send(Arc::new(event));
        }
    }

    /// Tells every local subscriber to re-read the store (after a backplane outage).
    pub fn resync_all(&self) {
        for entry in self.topics.iter() {
            let _ = entry.sender.send(Arc::new(BusEvent::Resync));
        }
    }

    /// Subscribes to a conversation's events. In cluster mode the first local subscriber
    /// of a topic waits until remote events flow, so subscribing and then reading the
    /// store misses nothing.
    pub async fn subscribe(&self, tenant_id: &Arc<str>, conversation_id: &str) -> Subscription {
        let topic = Topic {
            tenant_id: tenant_id.clone(),
            conversation_id: conversation_id.to_string(),
        };
        let (receiver, watched) = {
            let entry = self
                .topics
                .entry(topic.clone())
                .or_insert_with(|| TopicEntry {
                    sender: broadcast::channel(self.capacity).0,
                    watched: Arc::new(OnceCell::new()),
                });
            (entry.sender.subscribe(), entry.watched.clone())
        };
        let subscription = Subscription {
            receiver: Some(receiver),
            topic,
            topics: self.topics.clone(),
            backplane: self.backplane.clone(),
        };
        if let Some(backplane) = &self.backplane {
            watched
                .get_or_init(|| backplane.watch(tenant_id, conversation_id))
                .await;
        }
        subscription
    }

    /// Topics with at least one subscriber.
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<Arc<BusEvent>, BusRecvError> {
        let Some(receiver) = self.receiver.as_mut() else {
            return Err(BusRecvError::Closed);
        };
        receiver.recv().await.map_err(|e| match e {
            broadcast::error::RecvError::Lagged(n) => BusRecvError::Lagged(n),
            broadcast::error::RecvError::Closed => BusRecvError::Closed,
        })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let removed = self
            .topics
            .remove_if(&self.topic, |_, entry| entry.sender.receiver_count() == 0);
        if let (Some(_), Some(backplane)) = (removed, &self.backplane) {
            backplane.unwatch(&self.topic.tenant_id, &self.topic.conversation_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(n: usize) -> BusEvent {
        BusEvent::Delta {
            message_id: "m".into(),
            offset: n,
            text: "x".into(),
        }
    }

    #[tokio::test]
    async fn delivers_in_order_and_cleans_up_topics() {
        let bus = Bus::new(64);
        let tenant: Arc<str> = Arc::from("t");
        bus.publish(&tenant, "c", delta(0)); // nobody listens: dropped, no topic created
        assert_eq!(bus.topic_count(), 0);
        let mut a = bus.subscribe(&tenant, "c").await;
        let mut b = bus.subscribe(&tenant, "c").await;
        let mut other = bus.subscribe(&tenant, "d").await;
        for n in 0..3 {
            bus.publish(&tenant, "c", delta(n));
        }
        for sub in [&mut a, &mut b] {
            for n in 0..3 {
                assert_eq!(*sub.recv().await.unwrap(), delta(n));
            }
        }
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), other.recv())
                .await
                .is_err(),
            "another conversation's subscriber must see nothing"
        );
        drop(a);
        assert_eq!(bus.topic_count(), 2);
        drop(b);
        drop(other);
        assert_eq!(bus.topic_count(), 0);
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_lagged() {
        let bus = Bus::new(16);
        let tenant: Arc<str> = Arc::from("t");
        let mut sub = bus.subscribe(&tenant, "c").await;
        for n in 0..40 {
            bus.publish(&tenant, "c", delta(n));
        }
        assert!(matches!(sub.recv().await, Err(BusRecvError::Lagged(_))));
    }
}
