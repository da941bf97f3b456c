//! Classification of IP addresses into "public internet" and the special-purpose
//! ranges an adaptor must never reach by default (loopback, private networks, cloud
//! metadata on link-local, CGNAT, multicast, documentation, reserved ...).
//!
//! The ranges are data — one table per address family, most specific prefix first —
//! so the whole policy can be read (and tested) at a glance. IPv6 forms that embed an
//! IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`
//! and 6to4 `2002::/16`) are classified by the embedded IPv4 address, so
//! `[::ffff:127.0.0.1]` is loopback like `127.0.0.1`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of destination an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpClass {
    /// Globally routable: the only class allowed by the default policy.
    Public,
    /// `0.0.0.0/8` ("this network") and `::`.
    Unspecified,
    /// `127.0.0.0/8` and `::1`.
    Loopback,
    /// RFC 1918 `10/8`, `172.16/12`, `192.168/16`; IPv6 unique-local `fc00::/7` and the
    /// deprecated site-local `fec0::/10`.
    Private,
    /// `169.254/16` (including cloud metadata `169.254.169.254`) and `fe80::/10`.
    LinkLocal,
    /// Carrier-grade NAT `100.64/10`.
    SharedAddressSpace,
    /// `255.255.255.255`.
    Broadcast,
    /// `224/4` and `ff00::/8`.
    Multicast,
    /// TEST-NET-1/2/3, `2001:db8::/32` and `3fff::/20`.
    Documentation,
    /// Other special-purpose ranges: `192.0.0/24`, `192.88.99/24`, benchmarking
    /// `198.18/15`, `240/4`; IPv6 discard `100::/64`, local NAT64 `64:ff9b:1::/48`,
    /// Teredo `2001::/32`.
    Reserved,
}

impl IpClass {
    pub fn is_public(self) -> bool {
        self == IpClass::Public
    }

    /// Human-readable name used in refusal reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            IpClass::Public => "public",
            IpClass::Unspecified => "unspecified",
            IpClass::Loopback => "loopback",
            IpClass::Private => "private",
            IpClass::LinkLocal => "link-local",
            IpClass::SharedAddressSpace => "shared (CGNAT)",
            IpClass::Broadcast => "broadcast",
            IpClass::Multicast => "multicast",
            IpClass::Documentation => "documentation",
            IpClass::Reserved => "reserved",
        }
    }
}

impl fmt::Display for IpClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Special-purpose IPv4 ranges as (network, prefix length, class).
const V4_RANGES: &[([u8; 4], u8, IpClass)] = &[
    ([255, 255, 255, 255], 32, IpClass::Broadcast),
    ([0, 0, 0, 0], 8, IpClass::Unspecified),
    ([10, 0, 0, 0], 8, IpClass::Private),
    ([100, 64, 0, 0], 10, IpClass::SharedAddressSpace),
    ([127, 0, 0, 0], 8, IpClass::Loopback),
    ([169, 254, 0, 0], 16, IpClass::LinkLocal),
    ([172, 16, 0, 0], 12, IpClass::Private),
    ([192, 0, 0, 0], 24, IpClass::Reserved),
    ([192, 0, 2, 0], 24, IpClass::Documentation),
    ([192, 88, 99, 0], 24, IpClass::Reserved),
    ([192, 168, 0, 0], 16, IpClass::Private),
    ([198, 18, 0, 0], 15, IpClass::Reserved),
    ([198, 51, 100, 0], 24, IpClass::Documentation),
    ([203, 0, 113, 0], 24, IpClass::Documentation),
    ([224, 0, 0, 0], 4, IpClass::Multicast),
    ([240, 0, 0, 0], 4, IpClass::Reserved),
];

/// Special-purpose IPv6 ranges as (network, prefix length, class); the ranges that
/// embed IPv4 are handled before this table.
const V6_RANGES: &[([u16; 8], u8, IpClass)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 128, IpClass::Unspecified),
    ([0, 0, 0, 0, 0, 0, 0, 1], 128, IpClass::Loopback),
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, IpClass::Reserved),
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, IpClass::Reserved),
    (
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        IpClass::Documentation,
    ),
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, IpClass::Reserved),
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, IpClass::Documentation),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, IpClass::Private),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, IpClass::LinkLocal),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, IpClass::Private),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, IpClass::Multicast),
];

/// Classifies `ip`; see [`IpClass`] for the ranges.
pub fn classify(ip: IpAddr) -> IpClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> IpClass {
    let bits = u32::from(ip);
    V4_RANGES
        .iter()
        .find(|(net, len, _)| in_prefix(bits.into(), u32::from_be_bytes(*net).into(), *len, 32))
        .map_or(IpClass::Public, |(_, _, class)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> IpClass {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let bits = u128::from(ip);
    V6_RANGES
        .iter()
        .find(|(net, len, _)| in_prefix(bits, u128::from(Ipv6Addr::from(*net)), *len, 128))
        .map_or(IpClass::Public, |(_, _, class)| *class)
}

/// The IPv4 address an IPv6 address stands for, if it is one of the embedding forms.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    let s = ip.segments();
    match s {
        // IPv4-mapped ::ffff:a.b.c.d
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low32),
        // IPv4-compatible ::a.b.c.d (deprecated); `::` and `::1` are IPv6's own.
        [0, 0, 0, 0, 0, 0, _, _] if bits > 1 => Some(low32),
        // NAT64 well-known prefix 64:ff9b::/96
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low32),
        // 6to4 2002:aabb:ccdd::/48
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

/// Whether the top `len` of `width` bits of `addr` and `net` agree.
fn in_prefix(addr: u128, net: u128, len: u8, width: u32) -> bool {
    let shift = width.saturating_sub(u32::from(len));
    addr.checked_shr(shift).unwrap_or(0) == net.checked_shr(shift).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> IpClass {
        classify(text.parse().expect("test address parses"))
    }

    #[test]
    fn ipv4_table() {
        let cases = [
            ("0.0.0.0", IpClass::Unspecified),
            ("0.1.2.3", IpClass::Unspecified),
            ("10.1.2.3", IpClass::Private),
            ("100.64.0.1", IpClass::SharedAddressSpace),
            ("100.127.255.255", IpClass::SharedAddressSpace),
            ("100.128.0.1", IpClass::Public),
            ("127.0.0.1", IpClass::Loopback),
            ("127.255.255.254", IpClass::Loopback),
            ("169.254.169.254", IpClass::LinkLocal),
            ("172.15.255.255", IpClass::Public),
            ("172.16.0.1", IpClass::Private),
            ("172.31.255.255", IpClass::Private),
            ("172.32.0.1", IpClass::Public),
            ("192.0.0.8", IpClass::Reserved),
            ("192.0.2.1", IpClass::Documentation),
            ("192.88.99.1", IpClass::Reserved),
            ("192.168.1.1", IpClass::Private),
            ("198.18.0.1", IpClass::Reserved),
            ("198.19.255.255", IpClass::Reserved),
            ("198.51.100.7", IpClass::Documentation),
            ("203.0.113.9", IpClass::Documentation),
            ("224.0.0.1", IpClass::Multicast),
            ("239.255.255.250", IpClass::Multicast),
            ("240.0.0.1", IpClass::Reserved),
            ("255.255.255.255", IpClass::Broadcast),
            ("1.1.1.1", IpClass::Public),
            ("8.8.8.8", IpClass::Public),
            ("93.184.216.34", IpClass::Public),
            ("11.0.0.1", IpClass::Public),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), expected, "{ip}");
        }
    }

    #[test]
    fn ipv6_table() {
        let cases = [
            ("::", IpClass::Unspecified),
            ("::1", IpClass::Loopback),
            ("fc00::1", IpClass::Private),
            ("fd12:3456:789a::1", IpClass::Private),
            ("fe80::1", IpClass::LinkLocal),
            ("febf:ffff::1", IpClass::LinkLocal),
            ("fec0::1", IpClass::Private),
            ("ff02::1", IpClass::Multicast),
            ("2001:db8::1", IpClass::Documentation),
            ("3fff:0fff::1", IpClass::Documentation),
            ("2001::1", IpClass::Reserved),
            ("100::1", IpClass::Reserved),
            ("64:ff9b:1::1", IpClass::Reserved),
            ("2606:4700:4700::1111", IpClass::Public),
            ("2001:4860:4860::8888", IpClass::Public),
            ("2a00:1450:4001::1", IpClass::Public),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), expected, "{ip}");
        }
    }

    #[test]
    fn ipv6_embedding_ipv4_is_classified_by_the_ipv4_address() {
        let cases = [
            ("::ffff:127.0.0.1", IpClass::Loopback),
            ("::ffff:7f00:1", IpClass::Loopback),
            ("::ffff:10.0.0.1", IpClass::Private),
            ("::ffff:169.254.169.254", IpClass::LinkLocal),
            ("::ffff:0.0.0.0", IpClass::Unspecified),
            ("::ffff:8.8.8.8", IpClass::Public),
            ("::127.0.0.1", IpClass::Loopback),
            ("::192.168.0.1", IpClass::Private),
            ("::0.0.0.2", IpClass::Unspecified),
            ("64:ff9b::127.0.0.1", IpClass::Loopback),
            ("64:ff9b::169.254.169.254", IpClass::LinkLocal),
            ("64:ff9b::8.8.8.8", IpClass::Public),
            ("2002:7f00:1::", IpClass::Loopback),
            ("2002:a9fe:a9fe::1", IpClass::LinkLocal),
            ("2002:0808:0808::1", IpClass::Public),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), expected, "{ip}");
        }
    }

    #[test]
    fn only_public_is_public() {
        assert!(IpClass::Public.is_public());
        assert!(!IpClass::Loopback.is_public());
        assert_eq!(IpClass::LinkLocal.to_string(), "link-local");
    }
}
