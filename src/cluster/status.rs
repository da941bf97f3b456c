//! The operator's view of the cluster: live nodes, what they own, and their leases.

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::keys::Keys;
use super::lease::HeldLease;
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

/// Reads a lease key, `<prefix>:{<tenant>}:lease:<kind>:<id>` (the fence is left 0).
pub fn parse_lease_key(key: &str) -> Option<LeaseView> {
    let (_, rest) = key.split_once(":{")?;
    let (tenant, rest) = rest.split_once("}:lease:")?;
    let (kind, id) = rest.split_once(':')?;
    Some(LeaseView {
        kind: if kind == "conv" {
            "conversation".into()
        } else {
            kind.into()
        },
        tenant_id: tenant.to_string(),
        id: id.to_string(),
        fence: 0,
    })
}

pub(super) fn lease_views(held: &[HeldLease]) -> Vec<LeaseView> {
    let mut views: Vec<LeaseView> = held
        .iter()
        .filter_map(|lease| {
            Some(LeaseView {
                fence: lease.fence,
                ..parse_lease_key(&lease.key)?
            })
        })
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
    fn lease_keys_become_readable_views() {
        let views = lease_views(&[
            HeldLease {
                key: "sb:{acme}:lease:conv:c1".into(),
                fence: 7,
            },
            HeldLease {
                key: "sb:{acme}:lease:sender:wa".into(),
                fence: 2,
            },
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
