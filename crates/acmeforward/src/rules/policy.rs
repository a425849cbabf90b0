//! What public data may decide: the checks every fact taken from an upstream reply passes
//! before it can route a question, and the reasons a fact is refused.
//!
//! A fact learned from outside (a nameserver host, a CNAME target, an ancestor, a nameserver
//! address) never concerns a protected name, a nameserver host is in-bailiwick of the zone
//! that names it or inside a listed or delegated zone, and a nameserver address learned from
//! DNS is public unless `allow_ns` lists it. Each refusal is counted by [`Refusal`].

use core::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Config;
use crate::wire::name;

/// Why a fact from an upstream reply was not learned (or a nameserver address not used).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The name is at or below a protected zone.
    Protected = 0,
    /// A nameserver host outside the zone whose NS RRset names it, and outside every listed and
    /// delegated zone (with no zones listed: outside the zone that names it).
    OutOfBailiwick = 1,
    /// A CNAME target or nameserver host that the internal view knows (it answered NOERROR):
    /// an internal name.
    InternalName = 2,
    /// A CNAME target or nameserver host that the internal view could not be asked about (no
    /// reply, SERVFAIL, REFUSED, a bad reply): not learned, to be safe.
    InternalLookupFailed = 3,
    /// A nameserver address in a loopback, link-local, private, CGNAT, multicast, broadcast,
    /// 0.0.0.0/8 or unspecified range that `allow_ns` does not list.
    AddressPolicy = 4,
    /// Past a size limit (nameserver hosts or addresses of one zone).
    Limit = 5,
}

impl Refusal {
    /// Every reason, in code order.
    pub const ALL: [Refusal; 6] = [
        Refusal::Protected,
        Refusal::OutOfBailiwick,
        Refusal::InternalName,
        Refusal::InternalLookupFailed,
        Refusal::AddressPolicy,
        Refusal::Limit,
    ];

    /// A short metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Protected => "protected",
            Refusal::OutOfBailiwick => "out_of_bailiwick",
            Refusal::InternalName => "internal_name",
            Refusal::InternalLookupFailed => "internal_lookup_failed",
            Refusal::AddressPolicy => "address_policy",
            Refusal::Limit => "limit",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The count of refused facts by [`Refusal`], shared by an engine and its exchanges.
#[derive(Debug, Default)]
pub(crate) struct RefusalCounts([AtomicU64; Refusal::ALL.len()]);

impl RefusalCounts {
    pub(crate) fn count(&self, why: Refusal) {
        if let Some(c) = self.0.get(why as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self, why: Refusal) -> u64 {
        self.0
            .get(why as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// Whether a name (lower-cased wire form) may be learned at all.
pub(crate) fn name_allowed(config: &Config, wire: &[u8]) -> Result<(), Refusal> {
    if config.is_protected(wire) {
        return Err(Refusal::Protected);
    }
    Ok(())
}

/// Whether the A/AAAA questions of nameserver host `host`, named by the NS RRset of `owner`
/// (both lower-cased wire form), may go out: in-bailiwick of `owner`, or (zones listed) at or
/// below a listed or delegated zone; never protected. The root and the TLDs vouch for no host
/// in-bailiwick: every name is below them.
pub(crate) fn ns_host_allowed(config: &Config, host: &[u8], owner: &[u8]) -> Result<(), Refusal> {
    name_allowed(config, host)?;
    if (has_two_labels(owner) && name::is_at_or_below(host, owner))
        || (config.zones_listed() && config.in_listed_or_delegated(host))
    {
        Ok(())
    } else {
        Err(Refusal::OutOfBailiwick)
    }
}

/// Whether a well-formed wire-form name has at least two labels (is neither the root nor a
/// TLD).
pub(crate) fn has_two_labels(wire: &[u8]) -> bool {
    name::ancestors(wire).next().is_some()
}

/// Whether a nameserver address learned from DNS may be asked (authoritative mode).
pub(crate) fn ns_address_allowed(config: &Config, ip: IpAddr) -> Result<(), Refusal> {
    if is_public(ip) || config.allow_ns().iter().any(|n| n.contains(ip)) {
        Ok(())
    } else {
        Err(Refusal::AddressPolicy)
    }
}

/// Whether `ip` is outside the loopback, link-local, private (RFC 1918, ULA), CGNAT (RFC 6598),
/// multicast, broadcast and unspecified ranges (IPv4-mapped IPv6 judged as IPv4).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builder::ConfigBuilder;
    use crate::testutil::wire_name;

    fn config(setup: impl FnOnce(&mut ConfigBuilder)) -> Config {
        let mut b = ConfigBuilder::new();
        assert!(b.upstream("192.0.2.53").is_ok());
        setup(&mut b);
        match b.build() {
            Ok(c) => c,
            Err(e) => panic!("config: {e}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn public_ranges() {
        for a in [
            "192.0.2.53",
            "203.0.113.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "2001:db8::53",
            "::ffff:192.0.2.1",
        ] {
            assert!(is_public(ip(a)), "{a}");
        }
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fc12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip(a)), "{a}");
        }
    }

    #[test]
    fn allow_ns_opens_a_range() {
        let c = config(|_| {});
        assert_eq!(
            ns_address_allowed(&c, ip("127.0.0.2")),
            Err(Refusal::AddressPolicy)
        );
        let c = config(|b| {
            assert!(b.allow_ns("127.0.0.0/8").is_ok());
            assert!(b.allow_ns("fd00::53").is_ok());
        });
        assert_eq!(ns_address_allowed(&c, ip("127.0.0.2")), Ok(()));
        assert_eq!(ns_address_allowed(&c, ip("fd00::53")), Ok(()));
        assert_eq!(
            ns_address_allowed(&c, ip("fd00::54")),
            Err(Refusal::AddressPolicy)
        );
        assert_eq!(
            ns_address_allowed(&c, ip("10.0.0.1")),
            Err(Refusal::AddressPolicy)
        );
        assert_eq!(ns_address_allowed(&c, ip("192.0.2.1")), Ok(()));
    }

    #[test]
    fn ns_hosts_listed_zones() {
        let c = config(|b| {
            assert!(b.zone("example.com").is_ok());
            assert!(b.delegated("auth.example.net").is_ok());
            assert!(b.protect("corp.internal").is_ok());
        });
        let ok = |host: &str, owner: &str| ns_host_allowed(&c, &wire_name(host), &wire_name(owner));
        assert_eq!(ok("ns1.example.com", "example.com"), Ok(()));
        assert_eq!(ok("ns1.example.com", "example.org"), Ok(()), "listed zone");
        assert_eq!(
            ok("ns1.auth.example.net", "example.org"),
            Ok(()),
            "delegated"
        );
        assert_eq!(ok("ns.sub.example.org", "sub.example.org"), Ok(()));
        assert_eq!(
            ok("ns.example.org", "sub.example.org"),
            Err(Refusal::OutOfBailiwick)
        );
        assert_eq!(
            ok("db.corp.internal", "evil.example.com"),
            Err(Refusal::Protected)
        );
        assert_eq!(
            ok("ingress.svc.cluster.local", "cluster.local"),
            Err(Refusal::Protected),
            "protected even in-bailiwick"
        );
    }

    #[test]
    fn ns_hosts_no_zones_in_bailiwick_only() {
        let c = config(|_| {});
        let ok = |host: &str, owner: &str| ns_host_allowed(&c, &wire_name(host), &wire_name(owner));
        assert_eq!(ok("ns1.attacker.net", "attacker.net"), Ok(()));
        assert_eq!(
            ok("intranet.example.com", "attacker.net"),
            Err(Refusal::OutOfBailiwick)
        );
        assert_eq!(
            ok("kube-dns.kube-system.svc.cluster.local", "attacker.net"),
            Err(Refusal::Protected)
        );
        // A root or TLD NS RRset vouches for nothing: every name is below it.
        assert_eq!(
            ok("intranet.example.com", "."),
            Err(Refusal::OutOfBailiwick)
        );
        assert_eq!(
            ok("intranet.example.com", "com"),
            Err(Refusal::OutOfBailiwick)
        );
    }
}

#[cfg(test)]
#[path = "policy_exchange_tests.rs"]
mod exchange_tests;
