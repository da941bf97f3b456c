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
    /// Someone is typing: the end user (to the agent) or a human agent (to the user).
    /// Ephemeral, like a delta: never stored, not replayed.
    Typing {
        role: crate::transcript::Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
    },
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
        // The unwatch is sent while the map shard is still locked, so it reaches the
        // backplane before the watch of a subscriber that re-creates the topic right
        // after. Sent after the removal, it could overtake that watch, and the node would
        // unsubscribe a topic that has a watcher again (its remote events then stop).
        let backplane = self.backplane.as_ref();
        let topic = &self.topic;
        self.topics.remove_if(topic, |_, entry| {
            let last = entry.sender.receiver_count() == 0;
            if let (true, Some(backplane)) = (last, backplane) {
                backplane.unwatch(&topic.tenant_id, &topic.conversation_id);
            }
            last
        });
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

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// Records what the bus asks of the backplane, the way the Redis subscription
    /// manager applies it: a set of watched topics. On its first unwatch it makes a new
    /// subscriber arrive, from another thread, in the middle of the last one leaving.
    #[derive(Default)]
    struct InterferingBackplane {
        watched: std::sync::Mutex<std::collections::HashSet<String>>,
        bus: std::sync::OnceLock<Bus>,
        arrived: std::sync::Mutex<Option<std::sync::mpsc::Receiver<Subscription>>>,
        /// Only the first unwatch brings a newcomer.
        interfered: std::sync::atomic::AtomicBool,
    }

    impl Backplane for InterferingBackplane {
        fn publish(&self, _: &str, _: &str, _: &BusEvent) {}
        fn watch(&self, _: &str, conversation_id: &str) -> BoxFuture<'static, ()> {
            self.watched
                .lock()
                .unwrap()
                .insert(conversation_id.to_string());
            Box::pin(async {})
        }
        fn unwatch(&self, _: &str, conversation_id: &str) {
            if let Some(bus) = self.bus.get().cloned()
                && !self
                    .interfered
                    .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                let (tx, rx) = std::sync::mpsc::channel();
                *self.arrived.lock().unwrap() = Some(rx);
                let conversation = conversation_id.to_string();
                let (started_tx, started_rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let tenant: Arc<str> = Arc::from("t");
                    started_tx.send(()).unwrap();
                    let subscription = block_on(bus.subscribe(&tenant, &conversation));
                    let _ = tx.send(subscription);
                });
                started_rx.recv().unwrap();
                // Give the newcomer time to get through, unless the bus holds it back.
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            self.watched.lock().unwrap().remove(conversation_id);
        }
    }

    /// The last watcher leaving while a new one arrives must leave the topic watched:
    /// the unwatch may never overtake the newcomer's watch (a node would otherwise stop
    /// receiving a conversation's events from the other nodes).
    #[test]
    fn a_topic_rewatched_while_its_last_watcher_leaves_stays_watched() {
        let backplane = Arc::new(InterferingBackplane::default());
        let bus = Bus::with_backplane(16, backplane.clone());
        let _ = backplane.bus.set(bus.clone());
        let tenant: Arc<str> = Arc::from("t");
        let leaving = block_on(bus.subscribe(&tenant, "c"));
        drop(leaving);
        let arrived = backplane.arrived.lock().unwrap().take().unwrap();
        let newcomer = arrived
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the newcomer subscribed");
        assert!(
            backplane.watched.lock().unwrap().contains("c"),
            "a topic with a watcher was unwatched"
        );
        drop(newcomer);
        assert!(!backplane.watched.lock().unwrap().contains("c"));
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
