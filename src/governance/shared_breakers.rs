//! Circuit breakers in cluster mode: a breaker that opens or closes on this node is
//! announced on Redis, and the other nodes' announcements are followed, so a failing
//! target is skipped cluster-wide after five failures in total, not five per node.

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{BreakerNotice, ClusterNode};
use crate::llm::LlmGateway;
use crate::llm::breaker::{BreakerKey, BreakerListener};

/// Shares `llm`'s breakers through `node`.
pub fn share(node: &Arc<ClusterNode>, llm: &LlmGateway) {
    struct Announce(Arc<ClusterNode>);
    impl BreakerListener for Announce {
        fn opened(&self, key: &BreakerKey, open_for: Duration) {
            self.announce(
                key,
                Some(u64::try_from(open_for.as_millis()).unwrap_or(u64::MAX)),
            );
        }
        fn closed(&self, key: &BreakerKey) {
            self.announce(key, None);
        }
    }
    impl Announce {
        fn announce(&self, key: &BreakerKey, open_ms: Option<u64>) {
            let node = self.0.clone();
            let notice = BreakerNotice {
                node: String::new(),
                provider: key.provider.clone(),
                model: key.model.clone(),
                credential: key.credential.clone(),
                open_ms,
            };
            tokio::spawn(async move { node.announce_breaker(notice).await });
        }
    }
    llm.add_breaker_listener(Arc::new(Announce(node.clone())));
    let gateway = llm.clone();
    node.on_breaker_notice(Arc::new(move |notice: BreakerNotice| {
        let key = BreakerKey {
            provider: notice.provider,
            model: notice.model,
            credential: notice.credential,
        };
        gateway.follow_breaker(&key, notice.open_ms.map(Duration::from_millis));
    }));
}
