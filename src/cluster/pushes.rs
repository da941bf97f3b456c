//! What arrives on this node's Redis subscriptions: requests and replies on its inbox,
//! flow-activation notices, and the events of conversations it watches. One task reads
//! the push channel of the subscriber connection and hands each push here.

use std::sync::Weak;

use redis::{PushInfo, PushKind, Value};
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::warn;

use super::messages::WireEvent;
use super::{BreakerNotice, ClusterNode};

impl ClusterNode {
    fn deliver_push(&self, push: PushInfo) {
        match push.kind {
            PushKind::Message => {
                let [Value::BulkString(channel), Value::BulkString(payload)] = push.data.as_slice()
                else {
                    return;
                };
                let Ok(channel) = std::str::from_utf8(channel) else {
                    return;
                };
                if channel == self.keys.node_inbox(&self.node_id) {
                    self.inbox.deliver(payload, self.handler.get());
                } else if channel == self.keys.flows_channel() {
                    self.flow_activated(payload);
                } else if channel == self.keys.breakers_channel() {
                    self.breaker_changed(payload);
                } else if let Some((tenant, conversation)) = self.conversation_of(channel) {
                    self.remote_event(tenant, conversation, payload);
                }
            }
            PushKind::Disconnection => {
                self.mark(false);
                self.backplane.reconnected();
            }
            _ => {}
        }
    }

    /// `<prefix>:{<tenant>}:conv:<conversation>` → (tenant, conversation).
    fn conversation_of<'a>(&self, channel: &'a str) -> Option<(&'a str, &'a str)> {
        let rest = channel.strip_prefix(&format!("{}:{{", self.config.key_prefix))?;
        let (tenant, conversation) = rest.split_once(self.keys.conversation_channel_marker())?;
        Some((tenant, conversation))
    }

    fn remote_event(&self, tenant: &str, conversation: &str, payload: &[u8]) {
        let Ok(wire) = serde_json::from_slice::<WireEvent>(payload) else {
            warn!("malformed conversation event ignored");
            return;
        };
        if *wire.node == *self.node_id {
            return; // delivered locally when published
        }
        if let Some(bus) = self.bus.get() {
            bus.deliver_local(tenant, conversation, wire.event);
        }
    }

    fn breaker_changed(&self, payload: &[u8]) {
        let Ok(notice) = serde_json::from_slice::<BreakerNotice>(payload) else {
            warn!("malformed breaker notice ignored");
            return;
        };
        if notice.node == *self.node_id {
            return; // this node's own
        }
        if let Some(sink) = self.breakers.get() {
            sink(notice);
        }
    }

    fn flow_activated(&self, payload: &[u8]) {
        #[derive(Deserialize)]
        struct Activation {
            tenant: String,
            flow: String,
        }
        if let (Ok(activation), Some(flows)) = (
            serde_json::from_slice::<Activation>(payload),
            self.flows.get(),
        ) {
            flows.forget_active(&activation.tenant, &activation.flow);
        }
    }
}

pub(super) async fn dispatch(
    node: Weak<ClusterNode>,
    mut pushes: mpsc::UnboundedReceiver<PushInfo>,
) {
    while let Some(push) = pushes.recv().await {
        let Some(node) = node.upgrade() else { return };
        node.deliver_push(push);
    }
}
