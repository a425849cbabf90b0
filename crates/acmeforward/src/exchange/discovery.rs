//! Authoritative mode's discovery of a zone's nameservers: the apex from an SOA reply, the NS
//! hosts of the apex with their glue, and the addresses that pass the address policy. The
//! exchange drives the steps (SOA, NS, A/AAAA of hosts without glue); this is what each step
//! takes from its reply.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::{Name, RData, RecordType};

use crate::config::DEFAULT_PORT;
use crate::exchange::validate::Validated;
use crate::rules::policy;
use crate::state::engine::Engine;

/// The most nameserver host names taken from one NS reply (authoritative mode).
pub const MAX_NS_HOSTS: usize = 13;

/// The most nameserver addresses one exchange collects (authoritative mode).
pub const MAX_NS_ADDRS: usize = 32;

/// Authoritative mode: the zone's nameservers as found so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    /// The zone apex (lower case), once known.
    pub(crate) apex: Option<Name>,
    /// Nameserver addresses (port 53), in the order to try them.
    pub(crate) addrs: Vec<SocketAddr>,
    /// How many of `addrs` were tried.
    pub(crate) tried: usize,
    /// A/AAAA lookups still to do for nameserver hosts that came without glue.
    pub(crate) lookups: VecDeque<(Name, RecordType)>,
    /// The smallest TTL of the NS and address records behind `addrs`.
    pub(crate) ttl: u32,
    /// `addrs` came from the learned state (then a failure falls back to discovery, once).
    pub(crate) from_learned: bool,
    pub(crate) fell_back: bool,
}

/// The zone apex named by an SOA reply: the owner (lower case) of an SOA record in the answer or
/// authority section at or above the asked name.
pub(crate) fn soa_apex(valid: &Validated, asked: &Name) -> Option<Name> {
    valid
        .answers
        .iter()
        .chain(&valid.authorities)
        .find(|r| matches!(r.data, RData::SOA(_)) && r.name.zone_of(asked))
        .map(|r| r.name.to_lowercase())
}

/// Authoritative mode: takes the NS records of `apex` from an NS reply, with their glue; hosts
/// without glue get A (then AAAA) lookups. Addresses pass the address policy.
pub(crate) fn add_nameservers(engine: &Engine, auth: &mut Auth, valid: &Validated, apex: &Name) {
    let mut hosts: Vec<(Name, u32)> = Vec::new();
    for r in valid.answers.iter().chain(&valid.authorities) {
        if let RData::NS(ns) = &r.data
            && r.name == *apex
            && !hosts.iter().any(|(h, _)| *h == ns.0)
            && hosts.len() < MAX_NS_HOSTS
        {
            hosts.push((ns.0.to_lowercase(), r.ttl));
        }
    }
    auth.ttl = hosts.iter().map(|(_, t)| *t).min().unwrap_or(u32::MAX);
    let mut glueless = Vec::new();
    // IPv4 glue first: a cluster without IPv6 would otherwise wait out timeouts first.
    for family_v4 in [true, false] {
        for (host, _) in &hosts {
            for r in &valid.additionals {
                let ip = match &r.data {
                    RData::A(a) if family_v4 => IpAddr::V4(a.0),
                    RData::AAAA(a) if !family_v4 => IpAddr::V6(a.0),
                    _ => continue,
                };
                if r.name == *host {
                    add_addr(engine, auth, ip, r.ttl);
                }
            }
        }
    }
    for (host, _) in &hosts {
        if !valid.additionals.iter().any(|r| r.name == *host) {
            glueless.push(host.clone());
        }
    }
    for rtype in [RecordType::A, RecordType::AAAA] {
        for host in &glueless {
            auth.lookups.push_back((host.clone(), rtype));
        }
    }
}

pub(crate) fn add_addr(engine: &Engine, auth: &mut Auth, ip: IpAddr, ttl: u32) {
    if let Err(why) = policy::ns_address_allowed(engine.config(), ip) {
        engine.refuse(why);
        return;
    }
    let addr = SocketAddr::new(ip, DEFAULT_PORT);
    if auth.addrs.len() < MAX_NS_ADDRS && !auth.addrs.contains(&addr) {
        auth.addrs.push(addr);
        auth.ttl = auth.ttl.min(ttl);
    }
}
