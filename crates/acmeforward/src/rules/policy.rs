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
#[path = "policy_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "policy_exchange_tests.rs"]
mod exchange_tests;
