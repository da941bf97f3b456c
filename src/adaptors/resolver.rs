//! The DNS resolver installed in the adaptor HTTP client. It resolves a host name
//! itself and hands reqwest only addresses that pass the [`NetworkPolicy`]; if any
//! address of the name is forbidden the whole lookup fails. Because the connection is
//! made to exactly the addresses vetted here, there is no window between "check" and
//! "connect" for a DNS rebinding answer to slip through.
//!
//! A refusal travels through reqwest as the boxed [`AdaptorError::Refused`] itself, so
//! the client can find it again in the error's source chain and report it as such.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::adaptors::error::AdaptorError;
use crate::adaptors::policy::NetworkPolicy;

/// Resolves with the system resolver (`tokio::net::lookup_host`) and filters by policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VettedResolver {
    policy: NetworkPolicy,
}

impl VettedResolver {
    pub(crate) fn new(policy: NetworkPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for VettedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_vetted(&host, policy).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// All addresses of `host` (port 0: reqwest fills in the URL's port), or an error if
/// there are none or any of them is forbidden.
pub(crate) async fn resolve_vetted(
    host: &str,
    policy: NetworkPolicy,
) -> Result<Vec<SocketAddr>, AdaptorError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| AdaptorError::Network(format!("cannot resolve `{host}`: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(AdaptorError::Network(format!(
            "`{host}` resolved to no addresses"
        )));
    }
    for addr in &addrs {
        policy
            .check_ip(addr.ip())
            .map_err(|refusal| AdaptorError::Refused {
                reason: format!("`{host}` resolves to a forbidden address: {refusal}"),
            })?;
    }
    tracing::debug!(
        host,
        addrs = addrs.len(),
        "adaptor host resolved and vetted"
    );
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn localhost_is_refused_by_default_and_allowed_when_private_is() {
        let refused = resolve_vetted("localhost", NetworkPolicy::default()).await;
        assert!(
            matches!(refused, Err(AdaptorError::Refused { ref reason }) if reason.contains("loopback")),
            "{refused:?}"
        );
        let allowed = resolve_vetted(
            "localhost",
            NetworkPolicy {
                allow_private: true,
            },
        )
        .await
        .expect("localhost resolves");
        assert!(allowed.iter().all(|a| a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn the_reqwest_resolver_returns_the_refusal_as_its_error() {
        let resolver = VettedResolver::new(NetworkPolicy::default());
        let name: Name = "localhost".parse().expect("valid name");
        let Err(error) = resolver.resolve(name).await else {
            panic!("localhost must be refused");
        };
        assert!(matches!(
            error.downcast_ref::<AdaptorError>(),
            Some(AdaptorError::Refused { .. })
        ));
    }

    #[tokio::test]
    async fn unknown_names_are_network_errors() {
        let result = resolve_vetted("no-such-host.invalid", NetworkPolicy::default()).await;
        assert!(
            matches!(result, Err(AdaptorError::Network(_))),
            "{result:?}"
        );
    }
}
