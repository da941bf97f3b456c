//! The conversation bus: how events produced by a conversation reach every socket that
//! watches it.
//!
//! Each conversation has a topic, created when the first subscriber arrives and removed
//! with the last one. This is the in-process implementation: a bounded
//! `tokio::sync::broadcast` channel per topic. A subscriber that falls more than
//! `capacity` events behind gets [`BusRecvError::Lagged`] and must resynchronise from the
//! store (durable events carry `seq`, so nothing is lost, only re-read). Publishing never
//! blocks the conversation actor.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::broadcast;

use crate::transcript::Message;

/// Something a conversation publishes to its watchers.
#[derive(Debug, Clone, PartialEq)]
pub enum BusEvent {
    /// A durable message, already stored under its seq.
    Message(Message),
    /// Text of a bot message in progress; `offset` counts the characters sent before it.
    Delta {
        message_id: String,
        offset: usize,
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Topic {
    tenant_id: Arc<str>,
    conversation_id: String,
}

/// Cheap-clone handle to the in-process bus.
#[derive(Clone)]
pub struct Bus {
    /// Topic → sender. DashMap because publishers (conversation actors) and subscribers
    /// (connections) touch different topics concurrently from many threads; no reference
    /// into it is ever held across an `.await`.
    topics: Arc<DashMap<Topic, broadcast::Sender<Arc<BusEvent>>>>,
    capacity: usize,
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
    topics: Arc<DashMap<Topic, broadcast::Sender<Arc<BusEvent>>>>,
}

impl Bus {
    pub fn new(capacity: usize) -> Self {
        Self {
            topics: Arc::new(DashMap::new()),
            capacity: capacity.max(16),
        }
    }

    /// Publishes to everyone watching the conversation; a no-op when nobody is.
    pub fn publish(&self, tenant_id: &Arc<str>, conversation_id: &str, event: BusEvent) {
        let topic = Topic {
            tenant_id: tenant_id.clone(),
            conversation_id: conversation_id.to_string(),
        };
        if let Some(sender) = self.topics.get(&topic) {
            // An error only means every receiver is gone; the last one removes the topic.
            let _ = sender.send(Arc::new(event));
        }
    }

    pub fn subscribe(&self, tenant_id: &Arc<str>, conversation_id: &str) -> Subscription {
        let topic = Topic {
            tenant_id: tenant_id.clone(),
            conversation_id: conversation_id.to_string(),
        };
        let receiver = self
            .topics
            .entry(topic.clone())
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe();
        Subscription {
            receiver: Some(receiver),
            topic,
            topics: self.topics.clone(),
        }
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
        self.topics
            .remove_if(&self.topic, |_, sender| sender.receiver_count() == 0);
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
        let mut a = bus.subscribe(&tenant, "c");
        let mut b = bus.subscribe(&tenant, "c");
        let mut other = bus.subscribe(&tenant, "d");
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
        let mut sub = bus.subscribe(&tenant, "c");
        for n in 0..40 {
            bus.publish(&tenant, "c", delta(n));
        }
        assert!(matches!(sub.recv().await, Err(BusRecvError::Lagged(_))));
    }
}
