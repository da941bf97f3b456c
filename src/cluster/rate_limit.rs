//! The message rate limit of one web chat connection: one limiter per connection, in
//! process on a single node, in Redis in cluster mode.
//!
//! On a single node ([`LocalLimiter`]) a connection may send `webchat.messages_per_second`
//! with bursts of `webchat.message_burst` (a GCRA through `governor`). In cluster mode
//! ([`RedisLimiter`]) the count is per visitor across all of its sockets and nodes,
//! `cluster.visitor_messages_per_second` in each one-second window, so a visitor cannot
//! multiply its allowance by opening sockets on several nodes. When Redis is unreachable
//! the message is allowed: a rate limit is not worth refusing service for.

use std::num::NonZeroU32;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::ClusterNode;

/// Counts one connection's messages.
pub trait MessageLimiter: Send + Sync {
    /// Counts one message; false when it is over the limit (it is then not counted
    /// against later ones by the local limiter; the Redis window counts every attempt).
    fn allow(&self) -> BoxFuture<'static, bool>;
}

/// In process, per connection.
pub struct LocalLimiter(DefaultDirectRateLimiter);

impl LocalLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self(RateLimiter::direct(
            Quota::per_second(per_second).allow_burst(burst),
        ))
    }
}

impl MessageLimiter for LocalLimiter {
    fn allow(&self) -> BoxFuture<'static, bool> {
        std::future::ready(self.0.check().is_ok()).boxed()
    }
}

/// In Redis, per visitor, across the cluster.
pub struct RedisLimiter {
    node: Arc<ClusterNode>,
    tenant_id: Arc<str>,
    visitor_id: String,
}

impl RedisLimiter {
    pub fn new(node: Arc<ClusterNode>, tenant_id: Arc<str>, visitor_id: String) -> Self {
        Self {
            node,
            tenant_id,
            visitor_id,
        }
    }
}

impl MessageLimiter for RedisLimiter {
    fn allow(&self) -> BoxFuture<'static, bool> {
        let node = self.node.clone();
        let tenant_id = self.tenant_id.clone();
        let visitor_id = self.visitor_id.clone();
        async move { node.allow_visitor_message(&tenant_id, &visitor_id).await }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_limiter_allows_the_burst_then_refuses() {
        let limiter = LocalLimiter::new(1, 3);
        for _ in 0..3 {
            assert!(limiter.allow().await);
        }
        assert!(!limiter.allow().await);
    }
}
