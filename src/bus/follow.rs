//! [`Follower`]: one conversation's events in order, whatever happened on the way —
//! channel-neutral, used by every web chat socket and by the channel senders.
//!
//! It subscribes to the bus first and reads the store second, so nothing published in
//! between is missed; it then hands out the stored events after the watcher's last seq
//! (replay), then the live ones. Durable events come out exactly once and in `seq`
//! order: one already handed out is skipped, a gap (an event lost between nodes) is
//! filled from the store, and a resync notice — or falling behind the bus's small ring —
//! re-reads the store. A delta repeated by a retried publish is skipped too (deltas lost
//! while behind are not replayed: the finished message is). `next` is cancel safe, so it
//! can sit in a `select!`.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{Bus, BusEvent, BusRecvError, Subscription};
use crate::store::{Store, StoreError};
use crate::transcript::Message;

/// The store is read in pages of this many events.
const PAGE: i64 = 500;

/// Why a follower cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("the conversation's topic closed")]
    Closed,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// What the store must still be read for.
#[derive(Debug, Clone, Copy)]
enum CatchUp {
    /// Everything after the last seq handed out (replay, resync).
    All,
    /// Up to and including this seq (a gap before a live event).
    Until(i64),
}

pub struct Follower {
    subscription: Subscription,
    store: Store,
    tenant_id: Arc<str>,
    conversation_id: String,
    /// The highest durable seq handed out.
    last_sent: i64,
    /// Durable events read from the store, to hand out before anything live.
    backlog: VecDeque<Message>,
    catch_up: Option<CatchUp>,
    /// A live event held back while the gap before it is filled; handed out next.
    held: Option<Arc<BusEvent>>,
    /// The delta expected next: (message id, offset), to skip repeats.
    next_delta: Option<(String, usize)>,
    /// Live events only ([`Follower::live`]): nothing is ever read from the store.
    live_only: bool,
}

impl Follower {
    /// Follows the conversation from the event after `after_seq`.
    pub async fn start(
        bus: &Bus,
        store: Store,
        tenant_id: Arc<str>,
        conversation_id: String,
        after_seq: i64,
    ) -> Self {
        let subscription = bus.subscribe(&tenant_id, &conversation_id).await;
        Self {
            subscription,
            store,
            tenant_id,
            conversation_id,
            last_sent: after_seq,
            backlog: VecDeque::new(),
            catch_up: Some(CatchUp::All),
            held: None,
            next_delta: None,
            live_only: false,
        }
    }

    /// Follows only what happens from now on (deltas and new messages), for watchers
    /// that get durable events another way.
    pub async fn live(
        bus: &Bus,
        store: Store,
        tenant_id: Arc<str>,
        conversation_id: String,
    ) -> Self {
        let mut follower = Self::start(bus, store, tenant_id, conversation_id, i64::MAX).await;
        follower.catch_up = None;
        follower.live_only = true;
        follower
    }

    /// The highest durable seq handed out so far.
    pub fn last_seq(&self) -> i64 {
        self.last_sent
    }

    /// The next event, in order. Cancel safe: a dropped call loses nothing.
    pub async fn next(&mut self) -> Result<Arc<BusEvent>, FollowError> {
        loop {
            if let Some(message) = self.backlog.pop_front() {
                self.last_sent = message.seq;
                return Ok(Arc::new(BusEvent::Message(message)));
            }
            if let Some(catch_up) = self.catch_up {
                self.read_store(catch_up).await?;
                continue;
            }
            let (event, gap_filled) = match self.held.take() {
                Some(event) => (event, true),
                None => match self.subscription.recv().await {
                    Ok(event) => (event, false),
                    Err(BusRecvError::Lagged(_)) => {
                        self.resync();
                        continue;
                    }
                    Err(BusRecvError::Closed) => return Err(FollowError::Closed),
                },
            };
            match event.as_ref() {
                BusEvent::Message(message) => {
                    if message.seq <= self.last_sent {
                        continue;
                    }
                    if message.seq > self.last_sent.saturating_add(1) && !gap_filled {
                        self.catch_up = Some(CatchUp::Until(message.seq - 1));
                        self.held = Some(event);
                        continue;
                    }
                    self.last_sent = message.seq;
                    return Ok(event);
                }
                BusEvent::Delta {
                    message_id,
                    offset,
                    text,
                } => {
                    if let Some((id, next)) = &self.next_delta
                        && id == message_id
                        && offset < next
                    {
                        continue;
                    }
                    self.next_delta = Some((message_id.clone(), offset + text.chars().count()));
                    return Ok(event);
                }
                BusEvent::Typing { .. } => return Ok(event),
                BusEvent::Resync => self.resync(),
            }
        }
    }

    /// Missed events are read from the store (unless this follower takes only live ones).
    fn resync(&mut self) {
        if !self.live_only {
            self.catch_up = Some(CatchUp::All);
        }
    }

    /// Reads one page of missed events into the backlog. Nothing changes until the read
    /// completes, so a cancelled read is simply made again.
    async fn read_store(&mut self, catch_up: CatchUp) -> Result<(), FollowError> {
        let page = self
            .store
            .events_after(&self.tenant_id, &self.conversation_id, self.last_sent, PAGE)
            .await?;
        let mut done = (page.len() as i64) < PAGE;
        for message in page {
            if let CatchUp::Until(until) = catch_up
                && message.seq > until
            {
                done = true;
                break;
            }
            self.backlog.push_back(message);
        }
        if done {
            self.catch_up = None;
        }
        // Otherwise the next page is read once this one is handed out (and `last_sent`
        // has moved past it).
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseConfig;
    use crate::store::{NewConversation, NewEvent, NewTenant, TurnState};
    use crate::transcript::{MessageMeta, Role};

    async fn store_with_conversation(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&DatabaseConfig {
            url,
            ..DatabaseConfig::default()
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        store
            .create_tenant(&NewTenant {
                id: "t",
                name: "t",
                entry_flow: "f",
                allowed_origins: &[],
                allow_private_adaptors: false,
                llm_model: None,
            })
            .await
            .unwrap();
        store
            .create_conversation(&NewConversation {
                id: "c",
                tenant_id: "t",
                channel: "webchat",
                external_user: "v",
                flow_id: "f",
                flow_version: 1,
                dialog_state: "{}",
            })
            .await
            .unwrap();
        store
    }

    async fn store_message(store: &Store, seq: i64) -> Message {
        let id = format!("m{seq}");
        let text = format!("text {seq}");
        let created_at = store
            .commit_turn(
                "t",
                "c",
                0,
                &[NewEvent {
                    seq,
                    message_id: &id,
                    role: Role::Bot,
                    text: &text,
                    meta: &MessageMeta::NONE,
                }],
                &TurnState {
                    dialog_state: "{}",
                    status: "active",
                    applied_seq: 0,
                    pending_work: false,
                    outbox_account: None,
                    timer_due_at: None,
                    handoff_queue: None,
                    assign_to: None,
                },
            )
            .await
            .unwrap();
        Message {
            seq,
            message_id: id,
            role: Role::Bot,
            text,
            created_at,
            meta: MessageMeta::NONE,
        }
    }

    async fn next_seq(follower: &mut Follower) -> i64 {
        match follower.next().await.unwrap().as_ref() {
            BusEvent::Message(message) => message.seq,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    fn delta(offset: usize, text: &str) -> BusEvent {
        BusEvent::Delta {
            message_id: "m9".into(),
            offset,
            text: text.into(),
        }
    }

    #[tokio::test]
    async fn replays_then_follows_in_order_filling_gaps_and_skipping_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_conversation(&dir).await;
        let bus = Bus::new(64);
        let tenant: Arc<str> = Arc::from("t");
        for seq in 1..=3 {
            store_message(&store, seq).await;
        }
        let mut follower =
            Follower::start(&bus, store.clone(), tenant.clone(), "c".into(), 1).await;
        // Published after the subscription: seq 3 is also in the replay, so it comes once.
        let third = store.events_after("t", "c", 2, 1).await.unwrap().remove(0);
        bus.publish(&tenant, "c", BusEvent::Message(third));
        assert_eq!(next_seq(&mut follower).await, 2);
        assert_eq!(next_seq(&mut follower).await, 3);
        // Seq 4 was lost on the way (stored, never published): filled from the store.
        store_message(&store, 4).await;
        let fifth = store_message(&store, 5).await;
        bus.publish(&tenant, "c", BusEvent::Message(fifth));
        assert_eq!(next_seq(&mut follower).await, 4);
        assert_eq!(next_seq(&mut follower).await, 5);
        // A retried publish repeats a delta: handed out once.
        bus.publish(&tenant, "c", delta(0, "He"));
        bus.publish(&tenant, "c", delta(0, "He"));
        bus.publish(&tenant, "c", delta(2, "llo"));
        for expected in [0, 2] {
            match follower.next().await.unwrap().as_ref() {
                BusEvent::Delta { offset, .. } => assert_eq!(*offset, expected),
                other => panic!("expected a delta, got {other:?}"),
            }
        }
        // A resync notice re-reads the store.
        store_message(&store, 6).await;
        bus.publish(&tenant, "c", BusEvent::Resync);
        assert_eq!(next_seq(&mut follower).await, 6);
        assert_eq!(follower.last_seq(), 6);
        store.close().await;
    }
}
