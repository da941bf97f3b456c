//! The network policy: which destinations an adaptor may reach. By default only
//! public internet addresses over http(s), with no credentials in the URL.
//!
//! The checks here are on the URL text: scheme, userinfo, IP-literal hosts and
//! localhost-style names. They are all a validation can do without DNS. At call time the
//! same policy is enforced again on the addresses a host name actually resolves to (see
//! `resolver.rs`), which is what closes the DNS and rebinding gaps; IP-literal URLs never
//! reach a resolver, so [`NetworkPolicy::check_url`] is what guards them.

use std::net::IpAddr;

use url::{Host, Url};

use crate::adaptors::error::AdaptorError;
use crate::adaptors::ip_class::classify;

/// Where adaptors may connect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Allow loopback, private, link-local and other non-public addresses. Off by
    /// default; meant for tests and single-machine deployments talking to a sidecar.
    pub allow_private: bool,
}

impl NetworkPolicy {
    /// Refuses `ip` unless it is public or the policy allows private addresses.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), AdaptorError> {
        let class = classify(ip);
        if class.is_public() || self.allow_private {
            Ok(())
        } else {
            Err(AdaptorError::Refused {
                reason: format!("{class} address {ip} is not allowed"),
            })
        }
    }

    /// Checks everything about `url` that needs no DNS: an http(s) scheme, no
    /// userinfo, a host, and — unless private addresses are allowed — no forbidden IP
    /// literal. With `names_too`, localhost-style names are refused as well (validation
    /// does this; at call time the resolver judges names by what they resolve to).
    pub(crate) fn check_url(&self, url: &Url, names_too: bool) -> Result<(), AdaptorError> {
        let refuse = |reason: String| Err(AdaptorError::Refused { reason });
        if !matches!(url.scheme(), "http" | "https") {
            return refuse(format!(
                "scheme `{}` is not allowed (only http and https)",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("credentials in the URL are not allowed".into());
        }
        match url.host() {
            None => refuse("the URL has no host".into()),
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => {
                if names_too && !self.allow_private && is_local_name(name) {
                    refuse(format!("host `{name}` is a local name"))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Names that mean "this machine" without asking DNS (RFC 6761 `localhost` and the
/// usual `/etc/hosts` aliases).
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    matches!(
        name.as_str(),
        "localhost" | "localhost.localdomain" | "ip6-localhost" | "ip6-loopback"
    ) || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DENY: NetworkPolicy = NetworkPolicy {
        allow_private: false,
    };
    const ALLOW: NetworkPolicy = NetworkPolicy {
        allow_private: true,
    };

    fn check(policy: NetworkPolicy, url: &str) -> Result<(), AdaptorError> {
        policy.check_url(&Url::parse(url).expect("test URL parses"), true)
    }

    #[test]
    fn default_policy_refuses_non_public_destinations() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/",
            "http://[::1]:80/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost:9000/",
            "ftp://shop.example/",
            "file:///etc/passwd",
            "http://user:pass@shop.example/",
            "http://user@shop.example/",
        ] {
            let result = check(DENY, url);
            assert!(
                matches!(result, Err(AdaptorError::Refused { .. })),
                "{url}: {result:?}"
            );
        }
    }

    #[test]
    fn default_policy_accepts_public_destinations() {
        for url in [
            "https://shop.example/api/orders/1",
            "http://93.184.216.34/",
            "https://[2606:4700:4700::1111]/dns-query",
            "https://notlocalhost.example/",
        ] {
            assert_eq!(check(DENY, url), Ok(()), "{url}");
        }
    }

    #[test]
    fn allow_private_still_checks_scheme_and_userinfo() {
        assert_eq!(check(ALLOW, "http://127.0.0.1:8080/x"), Ok(()));
        assert_eq!(check(ALLOW, "http://localhost/"), Ok(()));
        assert!(check(ALLOW, "ftp://127.0.0.1/").is_err());
        assert!(check(ALLOW, "http://u:p@127.0.0.1/").is_err());
    }

    #[test]
    fn names_are_left_to_the_resolver_at_call_time() {
        let url = Url::parse("http://localhost/").unwrap();
        assert_eq!(DENY.check_url(&url, false), Ok(()));
    }

    #[test]
    fn refusal_names_the_class() {
        let Err(AdaptorError::Refused { reason }) = check(DENY, "http://10.1.2.3/") else {
            panic!("expected a refusal");
        };
        assert_eq!(reason, "private address 10.1.2.3 is not allowed");
    }
}
