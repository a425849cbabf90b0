//! The engine: a [`Config`] plus the [`Learned`] state shared by every query, and the classifier
//! that applies all the forwarding rules.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::classify::{ACME_LABEL, CLASS_IN};
use crate::config::{Config, Verdict, Zone};
use crate::learned::{Fact, Facts, Learned, TYPE_A, TYPE_AAAA, TYPE_NS, TYPE_SOA};
use crate::name;

/// Which forwarding rule matched a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Rule 1: an `_acme-challenge` name at or below a configured zone; any type.
    Challenge,
    /// Rule 2: SOA or NS at or below a zone listed explicitly, or for an ancestor of a delegated
    /// zone.
    Discovery,
    /// Rule 3: A or AAAA for a learned NS target host name.
    NsHost,
    /// Rule 4: any type at or below a delegated zone.
    Delegated,
    /// Rule 4: any type for a learned CNAME target of a challenge reply.
    CnameTarget,
    /// Rule 5: SOA or NS for a learned ancestor of a challenge name or CNAME target.
    Ancestor,
}

impl Rule {
    /// Rules 1 and 4: the questions that authoritative mode sends to the zone's nameservers
    /// (and whose replies' CNAME targets are learned).
    pub fn is_challenge_like(self) -> bool {
        matches!(self, Rule::Challenge | Rule::Delegated | Rule::CnameTarget)
    }
}

/// A [`Config`] plus the learned state (behind an `RwLock`). `Send + Sync`: one per server block,
/// shared by every query.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    learned: RwLock<Learned>,
    /// `learned.len()`, readable without the lock.
    learned_len: AtomicUsize,
    /// `learned.cname_target_len()`, readable without the lock.
    cname_targets: AtomicUsize,
}

fn in_any(wire: &[u8], zones: &[Zone]) -> bool {
    zones.iter().any(|z| name::is_at_or_below(wire, z.wire()))
}

fn is_exactly(wire: &[u8], zones: &[Zone]) -> bool {
    zones.iter().any(|z| z.wire() == wire)
}

impl Engine {
    /// An engine with nothing learned yet.
    pub fn new(config: Config) -> Engine {
        let learned = Learned::new(config.max_learned());
        Engine {
            config,
            learned: RwLock::new(learned),
            learned_len: AtomicUsize::new(0),
            cname_targets: AtomicUsize::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The per-query hot path: no allocation. `qname` is in presentation format (as miekg/dns
    /// gives it: trailing dot optional, `\.` and `\DDD` escapes). [`Verdict::Forward`] when one
    /// of the forwarding rules matches (see [`Engine::rule`]), else [`Verdict::Pass`].
    ///
    /// The learned state's read lock is taken only when something was learned, and then only
    /// for A/AAAA/SOA/NS questions or when a CNAME target was learned.
    pub fn classify(&self, qname: &[u8], qtype: u16, qclass: u16, now_ms: u64) -> Verdict {
        match self.rule(qname, qtype, qclass, now_ms) {
            Some(_) => Verdict::Forward,
            None => Verdict::Pass,
        }
    }

    /// Which rule forwards the question, if any (class IN only; malformed names never match).
    /// Rules 1 and 4 are checked first, then 2, 3 and 5. No allocation.
    pub fn rule(&self, qname: &[u8], qtype: u16, qclass: u16, now_ms: u64) -> Option<Rule> {
        if qclass != CLASS_IN {
            return None;
        }
        let c = &self.config;
        // Cheap checks first: most names need no scan at all.
        let maybe_challenge =
            matches!(qname.first(), Some(b'_' | b'\\')) && qname.len() >= ACME_LABEL.len();
        let soa_ns = matches!(qtype, TYPE_SOA | TYPE_NS);
        let static_discovery = c.discovery()
            && soa_ns
            && !(c.discovery_zones().is_empty() && c.delegated_ancestors().is_empty());
        let delegated = !c.delegated().is_empty();
        let learned = self.learned_may_match(qtype);
        if !(maybe_challenge || static_discovery || delegated || learned) {
            return None;
        }
        let wire = name::scan(qname).ok()?;
        self.rule_wire(wire.as_bytes(), qtype, now_ms)
    }

    /// Whether the learned state can match a question of this type (no lock taken).
    fn learned_may_match(&self, qtype: u16) -> bool {
        self.learned_len.load(Ordering::Acquire) > 0
            && (self.cname_targets.load(Ordering::Acquire) > 0
                || (self.config.discovery()
                    && matches!(qtype, TYPE_A | TYPE_AAAA | TYPE_SOA | TYPE_NS)))
    }

    /// [`Engine::rule`] for a lower-cased wire-form name of class IN.
    pub(crate) fn rule_wire(&self, wire: &[u8], qtype: u16, now_ms: u64) -> Option<Rule> {
        let c = &self.config;
        if name::is_challenge(wire) && in_any(wire, c.zones()) {
            return Some(Rule::Challenge);
        }
        if in_any(wire, c.delegated()) {
            return Some(Rule::Delegated);
        }
        let soa_ns = matches!(qtype, TYPE_SOA | TYPE_NS);
        let facts = if self.learned_may_match(qtype) {
            self.read().lookup_normalized(wire, now_ms)
        } else {
            Facts::default()
        };
        if facts.cname_target {
            return Some(Rule::CnameTarget);
        }
        if !c.discovery() {
            return None;
        }
        if soa_ns
            && (in_any(wire, c.discovery_zones()) || is_exactly(wire, c.delegated_ancestors()))
        {
            return Some(Rule::Discovery);
        }
        if facts.ns_host && matches!(qtype, TYPE_A | TYPE_AAAA) {
            return Some(Rule::NsHost);
        }
        if facts.ancestor && soa_ns {
            return Some(Rule::Ancestor);
        }
        None
    }

    /// The number of entries in the learned state (expired ones included until evicted or
    /// purged). No lock.
    pub fn learned_len(&self) -> usize {
        self.learned_len.load(Ordering::Acquire)
    }

    /// The unexpired facts learned about `name` (wire form, any case).
    pub fn learned_facts(&self, name: &[u8], now_ms: u64) -> Facts {
        if self.learned_len() == 0 {
            return Facts::default();
        }
        self.read().lookup(name, now_ms)
    }

    /// The learned nameserver addresses of the closest enclosing zone of `name` (wire form, any
    /// case): the apex (lower-cased wire form) and the addresses.
    pub fn learned_servers(&self, name: &[u8], now_ms: u64) -> Option<(Vec<u8>, Vec<SocketAddr>)> {
        if self.learned_len() == 0 {
            return None;
        }
        self.read()
            .servers(name, now_ms)
            .map(|(apex, servers)| (apex.to_vec(), servers.to_vec()))
    }

    /// Learns `fact` about `name` (wire form, any case) as a forwarded reply would (see
    /// [`Learned::learn`]). Exchanges do this themselves; this is for tests, benchmarks and
    /// warm starts. Returns false for a malformed name.
    pub fn learn(&self, name: &[u8], fact: Fact, ttl: u32, now_ms: u64) -> bool {
        self.update(|l| l.learn(name, fact, ttl, now_ms))
    }

    /// A copy of the learned state.
    pub fn learned_snapshot(&self) -> Learned {
        self.read().clone()
    }

    /// Drops the learned entries that have all expired; returns how many went.
    pub fn purge(&self, now_ms: u64) -> usize {
        self.update(|l| l.purge(now_ms))
    }

    /// Changes the learned state under the write lock and republishes the counters.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut Learned) -> R) -> R {
        let mut guard: RwLockWriteGuard<'_, Learned> =
            self.learned.write().unwrap_or_else(PoisonError::into_inner);
        let r = f(&mut guard);
        self.cname_targets
            .store(guard.cname_target_len(), Ordering::Release);
        self.learned_len.store(guard.len(), Ordering::Release);
        r
    }

    fn read(&self) -> RwLockReadGuard<'_, Learned> {
        self.learned.read().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigBuilder;
    use crate::testutil::wire_name;

    fn engine(setup: impl FnOnce(&mut ConfigBuilder)) -> Engine {
        let mut b = ConfigBuilder::new();
        assert!(b.upstream("192.0.2.53").is_ok());
        setup(&mut b);
        match b.build() {
            Ok(c) => Engine::new(c),
            Err(e) => panic!("config: {e}"),
        }
    }

    fn rule(e: &Engine, name: &str, qtype: u16) -> Option<Rule> {
        e.rule(name.as_bytes(), qtype, 1, 1000)
    }

    const A: u16 = 1;
    const NS: u16 = 2;
    const CNAME: u16 = 5;
    const SOA: u16 = 6;
    const TXT: u16 = 16;
    const AAAA: u16 = 28;

    #[test]
    fn rule1_challenge_any_type() {
        let e = engine(|b| {
            assert!(b.zone("example.com").is_ok());
        });
        for qtype in [A, NS, SOA, TXT, AAAA, 255] {
            assert_eq!(
                rule(&e, "_acme-challenge.www.example.com.", qtype),
                Some(Rule::Challenge)
            );
        }
        assert_eq!(rule(&e, "_acme-challenge.example.org.", TXT), None);
        assert_eq!(
            e.rule(b"_acme-challenge.example.com", TXT, 3, 0),
            None,
            "class IN only"
        );
    }

    #[test]
    fn rule2_soa_ns_in_listed_zones_only() {
        let e = engine(|b| {
            assert!(b.zone("example.com").is_ok());
        });
        for name in ["example.com.", "www.example.com", "a.b.example.com."] {
            assert_eq!(rule(&e, name, SOA), Some(Rule::Discovery), "{name}");
            assert_eq!(rule(&e, name, NS), Some(Rule::Discovery), "{name}");
            assert_eq!(rule(&e, name, A), None, "{name}");
            assert_eq!(rule(&e, name, TXT), None, "{name}");
        }
        assert_eq!(rule(&e, "com.", SOA), None);
        assert_eq!(rule(&e, "cluster.local.", SOA), None);

        // No zone listed (or only the root): rule 2 matches nothing.
        for e in [
            engine(|_| {}),
            engine(|b| {
                assert!(b.zone(".").is_ok());
            }),
        ] {
            assert_eq!(rule(&e, "example.com.", SOA), None);
            assert_eq!(rule(&e, "cluster.local.", SOA), None);
            assert_eq!(rule(&e, "svc.cluster.local.", NS), None);
        }

        // discovery off.
        let e = engine(|b| {
            assert!(b.zone("example.com").is_ok());
            b.discovery(false);
        });
        assert_eq!(rule(&e, "example.com.", SOA), None);
        assert_eq!(
            rule(&e, "_acme-challenge.example.com.", SOA),
            Some(Rule::Challenge)
        );
    }

    #[test]
    fn rule2_ancestors_of_delegated_zones() {
        let e = engine(|b| {
            assert!(b.delegated("acme.auth.example.net").is_ok());
        });
        for name in ["auth.example.net.", "example.net", "net."] {
            assert_eq!(rule(&e, name, SOA), Some(Rule::Discovery), "{name}");
            assert_eq!(rule(&e, name, NS), Some(Rule::Discovery), "{name}");
            assert_eq!(rule(&e, name, A), None, "{name}");
        }
        assert_eq!(rule(&e, ".", SOA), None, "never the root");
        assert_eq!(rule(&e, "other.example.net.", SOA), None, "not an ancestor");
        let off = engine(|b| {
            assert!(b.delegated("acme.auth.example.net").is_ok());
            b.discovery(false);
        });
        assert_eq!(rule(&off, "example.net.", SOA), None);
    }

    #[test]
    fn rule4_delegated_zone_any_type() {
        let e = engine(|b| {
            assert!(b.zone("example.com").is_ok());
            assert!(b.delegated("Acme.Auth.example.NET.").is_ok());
            b.discovery(false);
        });
        for name in [
            "acme.auth.example.net.",
            "x.acme.auth.example.net",
            "A.B.ACME.AUTH.EXAMPLE.NET",
        ] {
            for qtype in [A, CNAME, SOA, TXT, 65535] {
                assert_eq!(
                    rule(&e, name, qtype),
                    Some(Rule::Delegated),
                    "{name} {qtype}"
                );
            }
        }
        assert_eq!(rule(&e, "xacme.auth.example.net.", TXT), None);
        assert_eq!(rule(&e, r"x\.acme.auth.example.net.", TXT), None);
    }

    #[test]
    fn learned_rules_3_4_5() {
        let e = engine(|_| {});
        e.update(|l| {
            l.learn(&wire_name("ns1.example.net"), Fact::NsHost, 300, 0);
            l.learn(&wire_name("t.auth.example.org"), Fact::CnameTarget, 300, 0);
            l.learn(&wire_name("example.com"), Fact::Ancestor, 300, 0);
        });
        assert_eq!(e.learned_len(), 3);
        assert_eq!(rule(&e, "NS1.example.net", A), Some(Rule::NsHost));
        assert_eq!(rule(&e, "ns1.example.net.", AAAA), Some(Rule::NsHost));
        assert_eq!(rule(&e, "ns1.example.net.", TXT), None);
        for qtype in [A, TXT, SOA, 255] {
            assert_eq!(
                rule(&e, "t.auth.example.org.", qtype),
                Some(Rule::CnameTarget)
            );
        }
        assert_eq!(rule(&e, "u.auth.example.org.", TXT), None);
        assert_eq!(rule(&e, "example.com.", SOA), Some(Rule::Ancestor));
        assert_eq!(rule(&e, "example.com.", NS), Some(Rule::Ancestor));
        assert_eq!(rule(&e, "example.com.", A), None);
        // Expired: nothing forwarded (the entries are still counted).
        assert_eq!(e.rule(b"ns1.example.net", A, 1, 300_000), None);
        assert_eq!(e.rule(b"t.auth.example.org", TXT, 1, 300_000), None);
        assert_eq!(e.rule(b"example.com", SOA, 1, 300_000), None);
        assert_eq!(e.learned_len(), 3);
        assert_eq!(e.purge(300_000), 3);
        assert_eq!(e.learned_len(), 0);
    }

    #[test]
    fn discovery_off_keeps_only_learned_cname_targets() {
        let e = engine(|b| {
            b.discovery(false);
        });
        assert!(e.learn(&wire_name("ns1.example.net"), Fact::NsHost, 300, 0));
        assert!(e.learn(&wire_name("t.example.org"), Fact::CnameTarget, 300, 0));
        assert!(e.learn(&wire_name("example.com"), Fact::Ancestor, 300, 0));
        assert!(!e.learn(b"\x03ab", Fact::Ancestor, 300, 0));
        assert_eq!(rule(&e, "ns1.example.net.", A), None);
        assert_eq!(rule(&e, "example.com.", SOA), None);
        assert_eq!(rule(&e, "t.example.org.", TXT), Some(Rule::CnameTarget));
    }

    #[test]
    fn classify_is_rule_is_some() {
        let e = engine(|b| {
            assert!(b.zone("example.com").is_ok());
        });
        assert_eq!(
            e.classify(b"_acme-challenge.example.com", TXT, 1, 0),
            Verdict::Forward
        );
        assert_eq!(e.classify(b"www.example.com", A, 1, 0), Verdict::Pass);
        assert_eq!(e.classify(b"", A, 1, 0), Verdict::Pass);
        assert_eq!(e.classify(b"a..b", SOA, 1, 0), Verdict::Pass);
    }

    #[test]
    fn engine_is_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Engine>();
    }
}
