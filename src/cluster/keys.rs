//! Names of every Redis key and channel the cluster uses, in one place.
//!
//! Per-tenant keys carry the tenant in a `{…}` hash tag, so on Redis Cluster all of a
//! tenant's keys live in one slot and the lease scripts (which touch a lease and its
//! fence counter together) stay single-slot. Node keys are per node.

/// Key and channel names under one prefix (`cluster.key_prefix`).
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    fn tenant(&self, tenant_id: &str, rest: &str) -> String {
        format!("{}:{{{tenant_id}}}:{rest}", self.prefix)
    }

    /// The owner lease of a conversation: `<node>|<fence>`, with a TTL.
    pub fn conversation_lease(&self, tenant_id: &str, conversation_id: &str) -> String {
        self.tenant(tenant_id, &format!("lease:conv:{conversation_id}"))
    }

    /// The delivery lease of a channel account (one sender per account in the cluster).
    pub fn sender_lease(&self, tenant_id: &str, account_id: &str) -> String {
        self.tenant(tenant_id, &format!("lease:sender:{account_id}"))
    }

    /// The fencing counter that goes with a lease key.
    pub fn fence_of(lease_key: &str) -> String {
        format!("{lease_key}:fence")
    }

    /// Presence: a sorted set of entry ids scored by expiry (ms since the epoch)…
    pub fn presence(&self, tenant_id: &str) -> String {
        self.tenant(tenant_id, "presence")
    }

    /// …and a hash of entry id → entry JSON.
    pub fn presence_entries(&self, tenant_id: &str) -> String {
        self.tenant(tenant_id, "presence:entries")
    }

    /// Presence changes are published here.
    pub fn presence_channel(&self, tenant_id: &str) -> String {
        self.tenant(tenant_id, "presence:changes")
    }

    /// A conversation's events (the bus backplane).
    pub fn conversation_channel(&self, tenant_id: &str, conversation_id: &str) -> String {
        self.tenant(tenant_id, &format!("conv:{conversation_id}"))
    }

    /// The prefix shared by every conversation channel (to recognise pushes).
    pub fn conversation_channel_marker(&self) -> &'static str {
        "}:conv:"
    }

    /// Webhook dedup keys: set once a provider event is stored.
    pub fn inbound_seen(&self, tenant_id: &str, source: &str, key: &str) -> String {
        self.tenant(tenant_id, &format!("seen:{source}:{key}"))
    }

    /// A visitor's message counter for one second.
    pub fn visitor_rate(&self, tenant_id: &str, visitor_id: &str, second: i64) -> String {
        self.tenant(tenant_id, &format!("rate:{visitor_id}:{second}"))
    }

    /// A tenant's model calls (`kind` = `requests` or `tokens`) in one minute.
    pub fn model_rate(&self, tenant_id: &str, kind: &str, minute: i64) -> String {
        self.tenant(tenant_id, &format!("model:{kind}:{minute}"))
    }

    /// The live spend of one budget period (a hash: `spent`, `reserved`).
    pub fn spend(&self, tenant_id: &str, flow_id: &str, period_key: &str) -> String {
        self.tenant(tenant_id, &format!("spend:{flow_id}:{period_key}"))
    }

    /// Circuit breakers that opened or closed on some node.
    pub fn breakers_channel(&self) -> String {
        format!("{}:breakers", self.prefix)
    }

    /// A node's inbox: forwarded messages and their replies.
    pub fn node_inbox(&self, node_id: &str) -> String {
        format!("{}:node:{node_id}:inbox", self.prefix)
    }

    /// The set of live nodes, scored by expiry.
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// A node's self-description (JSON), refreshed with its heartbeat.
    pub fn node_info(&self, node_id: &str) -> String {
        format!("{}:node:{node_id}:info", self.prefix)
    }

    /// Flow activations, so every node drops its cached active version at once.
    pub fn flows_channel(&self) -> String {
        format!("{}:flows", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_keys_share_a_hash_tag() {
        let keys = Keys::new("sb");
        let lease = keys.conversation_lease("acme", "c1");
        assert_eq!(lease, "sb:{acme}:lease:conv:c1");
        assert_eq!(Keys::fence_of(&lease), "sb:{acme}:lease:conv:c1:fence");
        for key in [
            keys.presence("acme"),
            keys.presence_entries("acme"),
            keys.sender_lease("acme", "wa"),
            keys.inbound_seen("acme", "whatsapp", "wamid.1"),
            keys.conversation_channel("acme", "c1"),
        ] {
            assert!(key.starts_with("sb:{acme}:"), "{key}");
        }
        assert!(
            keys.conversation_channel("acme", "c1")
                .contains(keys.conversation_channel_marker())
        );
    }
}
