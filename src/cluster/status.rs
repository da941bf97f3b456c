//! The operator's view of the cluster: live nodes, what they own, and their leases.

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::keys::Keys;
use super::lease::LeaseKey;
use super::{ClusterError, NodeInfo};
use crate::store::now_ms;

/// Leases listed per node in its registry entry (the count is always exact).
pub const MAX_LISTED_LEASES: usize = 1_000;

/// A lease as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaseView {
    /// `conversation` or `sender` (a channel account's delivery).
    pub kind: String,
    pub tenant_id: String,
    /// The conversation or channel account id.
    pub id: String,
    pub fence: i64,
}

impl LeaseView {
    fn of(lease: &LeaseKey, fence: i64) -> Self {
        let (kind, tenant_id, id) = match lease {
            LeaseKey::Conversation {
                tenant_id,
                conversation_id,
            } => ("conversation", tenant_id, conversation_id),
            LeaseKey::Sender {
                tenant_id,
                account_id,
            } => ("sender", tenant_id, account_id),
        };
        LeaseView {
            kind: kind.into(),
            tenant_id: tenant_id.clone(),
            id: id.clone(),
            fence,
        }
    }
}

pub(super) fn lease_views(held: &[(LeaseKey, i64)]) -> Vec<LeaseView> {
    let mut views: Vec<LeaseView> = held
        .iter()
        .map(|(lease, fence)| LeaseView::of(lease, *fence))
        .collect();
    views.sort_by(|a, b| (&a.tenant_id, &a.id).cmp(&(&b.tenant_id, &b.id)));
    views.truncate(MAX_LISTED_LEASES);
    views
}

pub(super) async fn nodes(
    redis: &ConnectionManager,
    keys: &Keys,
) -> Result<Vec<NodeInfo>, ClusterError> {
    let mut redis = redis.clone();
    let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
        .arg(keys.nodes())
        .arg(format!("({}", now_ms()))
        .arg("+inf")
        .query_async(&mut redis)
        .await
        .map_err(ClusterError::redis)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let infos: Vec<Option<String>> = redis::cmd("MGET")
        .arg(ids.iter().map(|id| keys.node_info(id)).collect::<Vec<_>>())
        .query_async(&mut redis)
        .await
        .map_err(ClusterError::redis)?;
    let mut nodes: Vec<NodeInfo> = infos
        .into_iter()
        .flatten()
        .filter_map(|json| serde_json::from_str(&json).ok())
        .collect();
    nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_become_readable_views() {
        let views = lease_views(&[
            (LeaseKey::sender("acme", "wa"), 2),
            (LeaseKey::conversation("acme", "c1"), 7),
        ]);
        assert_eq!(
            views,
            vec![
                LeaseView {
                    kind: "conversation".into(),
                    tenant_id: "acme".into(),
                    id: "c1".into(),
                    fence: 7
                },
                LeaseView {
                    kind: "sender".into(),
                    tenant_id: "acme".into(),
                    id: "wa".into(),
                    fence: 2
                },
            ]
        );
    }
}
