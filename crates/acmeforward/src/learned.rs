//! The learned state: names that forwarded replies made worth forwarding too, each until its TTL
//! runs out. Plain data with `&mut self` methods and an explicit clock (`now_ms`, the caller's
//! monotonic milliseconds); [`crate::Engine`] wraps it in a lock.
//!
//! One entry per name (lower-cased wire form), holding up to four facts, each with its own
//! expiry:
//!
//! * [`Fact::NsHost`] (rule 3): the name was an NS target; its A and AAAA questions go out;
//! * [`Fact::CnameTarget`] (rule 4): the name was a CNAME target in a challenge reply; any
//!   question for it goes out;
//! * [`Fact::Ancestor`] (rule 5): the name is an ancestor of a challenge name or CNAME target;
//!   its SOA and NS questions go out;
//! * nameserver addresses (authoritative mode): the name is a zone apex and these are its
//!   nameservers' addresses.
//!
//! The number of entries is bounded: when full, expired entries go first, then the ones expiring
//! soonest (a min-heap on expiry with lazy deletion keeps that O(log n)).
//!
//! Beside the entries, the state keeps an exact counting filter of their names
//! ([`FILTER_BITS`] bits, bit [`filter_bit`] of each name, each with the number of entries that
//! map to it): [`crate::Engine`] copies its bit words into atomics after every change, so that the
//! hot path can rule out most names without taking the lock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::name;
use crate::wire::{TYPE_CNAME, TYPE_NS, TYPE_SOA, TYPE_TXT};

/// The shortest time a fact is kept, in seconds, whatever the record's TTL: a follow-up lookup
/// right after a TTL-0 answer must still go out.
pub const LEARN_MIN_TTL: u32 = 60;
/// The longest time a fact is kept, in seconds (one day).
pub const LEARN_MAX_TTL: u32 = 86_400;

/// The number of bits of the name prefilter (see [`filter_bit`]).
pub(crate) const FILTER_BITS: usize = 4096;
/// The prefilter's 64-bit words.
pub(crate) const FILTER_WORDS: usize = FILTER_BITS / 64;

/// The prefilter bit of a lower-cased wire-form name: a fixed FxHash-style hash over its bytes,
/// eight at a time, top bits kept (`< FILTER_BITS`). Deterministic, no allocation, never panics.
/// Distinct names may share a bit; that only costs the hot path a lookup.
pub(crate) fn filter_bit(key: &[u8]) -> usize {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h = (key.len() as u64).wrapping_mul(K);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(26) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        if let Some(dst) = w.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        h = (h.rotate_left(26) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^= h >> 29;
    h = h.wrapping_mul(K);
    (h >> (64 - FILTER_BITS.trailing_zeros())) as usize
}

/// Counts per bit of [`FILTER_BITS`], and the bits with a non-zero count as words. Exact: a bit
/// is set if and only if its count is not zero.
#[derive(Clone)]
struct Counts {
    counts: Box<[u32]>,
    words: [u64; FILTER_WORDS],
}

impl Counts {
    fn new() -> Counts {
        Counts {
            counts: vec![0; FILTER_BITS].into_boxed_slice(),
            words: [0; FILTER_WORDS],
        }
    }

    fn add(&mut self, bit: usize) {
        if let Some(c) = self.counts.get_mut(bit) {
            // At most MAX_MAX_LEARNED entries: never saturates.
            *c = c.saturating_add(1);
        }
        if let Some(w) = self.words.get_mut(bit / 64) {
            *w |= 1 << (bit % 64);
        }
    }

    fn remove(&mut self, bit: usize) {
        let Some(c) = self.counts.get_mut(bit) else {
            return;
        };
        *c = c.saturating_sub(1);
        if *c == 0
            && let Some(w) = self.words.get_mut(bit / 64)
        {
            *w &= !(1 << (bit % 64));
        }
    }
}

/// The pass filter's bit of a name's first and last labels, from their [`filter_bit`]s:
/// `(31 * first + last) mod FILTER_BITS`.
pub(crate) fn pair_bit(first: usize, last: usize) -> usize {
    first.wrapping_mul(31).wrapping_add(last) % FILTER_BITS
}

/// A counting filter over the entries' names (bit [`filter_bit`] of each name), over their last
/// labels (bit [`filter_bit`] of the label's bytes: the pass filter's label bits), and over their
/// first and last labels together ([`pair_bit`]: the pass filter's pair bits).
#[derive(Clone)]
struct Filter {
    names: Counts,
    labels: Counts,
    pairs: Counts,
}

impl Filter {
    fn new() -> Filter {
        Filter {
            names: Counts::new(),
            labels: Counts::new(),
            pairs: Counts::new(),
        }
    }

    /// The label and pair bits of `key`, when it has a label.
    fn label_bits(key: &[u8]) -> Option<(usize, usize)> {
        let first = filter_bit(name::labels(key).next()?);
        let last = filter_bit(name::labels(key).last()?);
        Some((last, pair_bit(first, last)))
    }

    /// An entry named `key` came.
    fn add(&mut self, key: &[u8]) {
        self.names.add(filter_bit(key));
        if let Some((label, pair)) = Filter::label_bits(key) {
            self.labels.add(label);
            self.pairs.add(pair);
        }
    }

    /// An entry named `key` went.
    fn remove(&mut self, key: &[u8]) {
        self.names.remove(filter_bit(key));
        if let Some((label, pair)) = Filter::label_bits(key) {
            self.labels.remove(label);
            self.pairs.remove(pair);
        }
    }
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: u32 = self.names.words.iter().map(|w| w.count_ones()).sum();
        f.debug_struct("Filter").field("bits_set", &set).finish()
    }
}

/// The types a propagation check asks about a challenge's CNAME target or a name in a
/// delegated zone: TXT, CNAME, SOA and NS. Never A or AAAA (an application's types).
pub(crate) fn is_check_type(qtype: u16) -> bool {
    matches!(qtype, TYPE_TXT | TYPE_CNAME | TYPE_SOA | TYPE_NS)
}

/// What a forwarded reply taught about a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fact {
    /// Rule 3: the name is an NS target; its A and AAAA questions are forwarded.
    NsHost,
    /// Rule 4: the name is a CNAME target of a challenge reply (that the internal view does not
    /// know); its TXT, CNAME, SOA and NS questions are forwarded.
    CnameTarget,
    /// Rule 5: the name is an ancestor of a challenge name or of a learned CNAME target; its SOA
    /// and NS questions are forwarded.
    Ancestor,
}

/// The unexpired facts about one name, as [`Learned::lookup`] finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Facts {
    /// Rule 3 applies: A and AAAA questions are forwarded.
    pub ns_host: bool,
    /// Rule 4 applies: TXT, CNAME, SOA and NS questions are forwarded.
    pub cname_target: bool,
    /// Rule 5 applies: SOA and NS questions are forwarded.
    pub ancestor: bool,
    /// The prefetch found the name as a nameserver host of a listed or delegated zone: A and
    /// AAAA questions are forwarded (on every replica alike).
    pub prefetched_host: bool,
    /// The prefetch found the name as the apex of (or above) a listed or delegated zone: SOA
    /// and NS questions are forwarded (on every replica alike).
    pub prefetched_apex: bool,
}

impl Facts {
    /// Whether a question of type `qtype` for the name is forwarded by these facts (with the
    /// discovery rules 3 and 5 on).
    #[cfg(any(test, feature = "internals"))]
    pub fn forwards(&self, qtype: u16) -> bool {
        (self.cname_target && is_check_type(qtype))
            || ((self.ns_host || self.prefetched_host)
                && matches!(qtype, crate::wire::TYPE_A | crate::wire::TYPE_AAAA))
            || ((self.ancestor || self.prefetched_apex) && matches!(qtype, TYPE_SOA | TYPE_NS))
    }

    /// No fact at all.
    #[cfg(any(test, feature = "internals"))]
    pub fn is_empty(&self) -> bool {
        !(self.ns_host
            || self.cname_target
            || self.ancestor
            || self.prefetched_host
            || self.prefetched_apex)
    }
}

/// What the prefetch found for one listed or delegated zone: the apex at or above it, the
/// nameserver hosts of that apex that passed the rules, and (authoritative mode) their
/// addresses that passed the address policy. Valid until `until` (`now_ms` milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PrefetchedZone {
    /// Lower-cased wire form.
    pub(crate) apex: Box<[u8]>,
    /// Lower-cased wire form.
    pub(crate) hosts: Vec<Box<[u8]>>,
    /// In the order to try them.
    pub(crate) servers: Box<[SocketAddr]>,
    pub(crate) until: u64,
}

/// The prefetched facts about one name, with their expiry (the latest of the zones that
/// give them).
#[derive(Debug, Clone, Copy, Default)]
struct Pinned {
    host_until: u64,
    apex_until: u64,
}

/// The facts about one name; each expiry is in `now_ms` milliseconds, 0 when never learned.
#[derive(Debug, Clone, Default)]
struct Entry {
    ns_host: u64,
    cname_target: u64,
    ancestor: u64,
    servers: Box<[SocketAddr]>,
    servers_until: u64,
}

impl Entry {
    /// When the last of the facts expires.
    fn until(&self) -> u64 {
        self.ns_host
            .max(self.cname_target)
            .max(self.ancestor)
            .max(self.servers_until)
    }
}

/// The learned state (see the module documentation). Names are wire form, in any letter case;
/// a name that is not well-formed wire form is never learned and never found.
#[derive(Debug, Clone)]
pub struct Learned {
    entries: HashMap<Arc<[u8]>, Entry>,
    /// (expiry, name) for every entry's current expiry, plus stale records of earlier expiries
    /// (skipped when popped, dropped when the heap is rebuilt).
    by_expiry: BinaryHeap<Reverse<(u64, Arc<[u8]>)>>,
    max_entries: usize,
    /// Entries that have a CNAME-target fact (expired or not): while there are none, only
    /// A/AAAA/SOA/NS questions need a lookup.
    cname_targets: usize,
    /// The names of `entries` and `pinned`, as a counting filter.
    filter: Filter,
    /// The prefetch's results, by listed or delegated zone (lower-cased wire form). Never
    /// evicted by learning; replaced by the next prefetch, dropped when expired.
    prefetched: HashMap<Box<[u8]>, PrefetchedZone>,
    /// `prefetched` indexed by name.
    pinned: HashMap<Box<[u8]>, Pinned>,
}

/// The expiry of a fact learned at `now_ms` from a record with `ttl` seconds.
pub(crate) fn expiry(now_ms: u64, ttl: u32) -> u64 {
    let secs = ttl.clamp(LEARN_MIN_TTL, LEARN_MAX_TTL);
    now_ms.saturating_add(u64::from(secs) * 1000)
}

impl Learned {
    /// An empty state holding at most `max_entries` names (at least one).
    pub fn new(max_entries: usize) -> Learned {
        Learned {
            entries: HashMap::new(),
            by_expiry: BinaryHeap::new(),
            max_entries: max_entries.max(1),
            cname_targets: 0,
            filter: Filter::new(),
            prefetched: HashMap::new(),
            pinned: HashMap::new(),
        }
    }

    /// The number of names the prefetch made forwardable (hosts and apexes).
    pub(crate) fn pinned_len(&self) -> usize {
        self.pinned.len()
    }

    /// Sets (or with `None` removes) the prefetch's results for `zone` (lower-cased wire form).
    pub(crate) fn set_prefetched(&mut self, zone: &[u8], found: Option<PrefetchedZone>) {
        match found {
            Some(z) => {
                self.prefetched.insert(zone.into(), z);
            }
            None => {
                self.prefetched.remove(zone);
            }
        }
        self.reindex_pinned();
    }

    /// Rebuilds `pinned` (and its share of the filter) from `prefetched`.
    fn reindex_pinned(&mut self) {
        for key in self.pinned.keys() {
            self.filter.remove(key);
        }
        self.pinned.clear();
        for z in self.prefetched.values() {
            let apex = self.pinned.entry(z.apex.clone()).or_default();
            apex.apex_until = apex.apex_until.max(z.until);
            for h in &z.hosts {
                let host = self.pinned.entry(h.clone()).or_default();
                host.host_until = host.host_until.max(z.until);
            }
        }
        for key in self.pinned.keys() {
            self.filter.add(key);
        }
    }

    /// The bound on the number of entries.
    #[cfg(any(test, feature = "internals"))]
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The number of entries (names), expired ones included until they are evicted or purged.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    #[cfg(any(test, feature = "internals"))]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of entries with a CNAME-target fact (expired ones included until evicted).
    pub fn cname_target_len(&self) -> usize {
        self.cname_targets
    }

    /// The prefilter: bit [`filter_bit`] of every entry's name (lower-cased wire form) is set,
    /// and no other bit.
    pub(crate) fn filter_words(&self) -> &[u64; FILTER_WORDS] {
        &self.filter.names.words
    }

    /// The last labels of the entries' names (and of the prefetched names), by their
    /// [`filter_bit`]: the learned share of the pass filter's label bits.
    pub(crate) fn label_words(&self) -> &[u64; FILTER_WORDS] {
        &self.filter.labels.words
    }

    /// The first and last labels of the entries' names (and of the prefetched names), by their
    /// [`pair_bit`]: the pass filter's pair bits.
    pub(crate) fn pair_words(&self) -> &[u64; FILTER_WORDS] {
        &self.filter.pairs.words
    }

    /// When the next entry expires (all its facts), `None` with no entries. Drops the heap's
    /// stale records on top first, so this is the earliest current expiry.
    pub(crate) fn next_expiry(&mut self) -> Option<u64> {
        while let Some(Reverse((until, key))) = self.by_expiry.peek() {
            if self
                .entries
                .get(&**key)
                .is_some_and(|e| e.until() == *until)
            {
                return Some(*until);
            }
            self.by_expiry.pop();
        }
        None
    }

    /// The unexpired facts about `name` (wire form, any case). No allocation.
    #[cfg(any(test, feature = "internals"))]
    pub fn lookup(&self, name: &[u8], now_ms: u64) -> Facts {
        let Some(key) = name::normalize_wire(name) else {
            return Facts::default();
        };
        self.lookup_normalized(key.as_bytes(), now_ms)
    }

    /// [`Learned::lookup`] for a name already lower-cased and checked.
    pub(crate) fn lookup_normalized(&self, key: &[u8], now_ms: u64) -> Facts {
        let mut facts = match self.entries.get(key) {
            Some(e) => Facts {
                ns_host: e.ns_host > now_ms,
                cname_target: e.cname_target > now_ms,
                ancestor: e.ancestor > now_ms,
                ..Facts::default()
            },
            None => Facts::default(),
        };
        if let Some(p) = self.pinned.get(key) {
            facts.prefetched_host = p.host_until > now_ms;
            facts.prefetched_apex = p.apex_until > now_ms;
        }
        facts
    }

    /// The nameserver addresses learned for the closest enclosing zone apex of `name` (the name
    /// itself or an ancestor, the root included) that has unexpired ones: the apex (lower-cased
    /// wire form) and the addresses, in the order to try them.
    pub fn servers(&self, name: &[u8], now_ms: u64) -> Option<(&[u8], &[SocketAddr])> {
        let key = name::normalize_wire(name)?;
        let key = key.as_bytes();
        // The name itself, its ancestors, then the root: the closest enclosing zone first,
        // the prefetched addresses of an apex before the learned ones.
        std::iter::once(key)
            .chain(name::ancestors(key))
            .chain(std::iter::once(&[0u8][..]))
            .find_map(|suffix| {
                let prefetched = self
                    .prefetched
                    .values()
                    .find(|z| *z.apex == *suffix && z.until > now_ms && !z.servers.is_empty());
                if let Some(z) = prefetched {
                    return Some((&z.apex[..], &z.servers[..]));
                }
                let (apex, e) = self.entries.get_key_value(suffix)?;
                (e.servers_until > now_ms && !e.servers.is_empty())
                    .then_some((&apex[..], &e.servers[..]))
            })
    }

    /// Learns `fact` about `name` (wire form, any case) from a record with `ttl` seconds: kept
    /// for the TTL clamped to LEARN_MIN_TTL ..= LEARN_MAX_TTL. Learning a fact again extends
    /// (never shortens) its expiry. Returns false (and learns nothing) for a malformed name.
    pub fn learn(&mut self, name: &[u8], fact: Fact, ttl: u32, now_ms: u64) -> bool {
        let Some(key) = name::normalize_wire(name) else {
            return false;
        };
        let until = expiry(now_ms, ttl);
        self.update(key.as_bytes(), now_ms, |e| {
            let slot = match fact {
                Fact::NsHost => &mut e.ns_host,
                Fact::CnameTarget => &mut e.cname_target,
                Fact::Ancestor => &mut e.ancestor,
            };
            *slot = (*slot).max(until);
        });
        true
    }

    /// Learns that `apex` (wire form, any case) is served by `servers` (in the order to try
    /// them), from records with `ttl` seconds (clamped like [`Learned::learn`]). Replaces the
    /// addresses learned before; the expiry is extended, never shortened. Returns false (and
    /// learns nothing) for a malformed name or no servers.
    pub fn learn_servers(
        &mut self,
        apex: &[u8],
        servers: &[SocketAddr],
        ttl: u32,
        now_ms: u64,
    ) -> bool {
        let Some(key) = name::normalize_wire(apex) else {
            return false;
        };
        if servers.is_empty() {
            return false;
        }
        let until = expiry(now_ms, ttl);
        self.update(key.as_bytes(), now_ms, |e| {
            e.servers = servers.into();
            e.servers_until = e.servers_until.max(until);
        });
        true
    }

    /// Removes every entry whose facts have all expired, and the expired prefetch results;
    /// returns how many entries went.
    pub fn purge(&mut self, now_ms: u64) -> usize {
        if self.prefetched.values().any(|z| z.until <= now_ms) {
            self.prefetched.retain(|_, z| z.until > now_ms);
            self.reindex_pinned();
        }
        let before = self.entries.len();
        while let Some(Reverse((until, _))) = self.by_expiry.peek() {
            if *until > now_ms {
                break;
            }
            self.pop_oldest();
        }
        before - self.entries.len()
    }

    /// Applies `change` to the entry of `key` (created if missing, making room first) and keeps
    /// the expiry heap and the counters right.
    fn update(&mut self, key: &[u8], now_ms: u64, change: impl FnOnce(&mut Entry)) {
        self.purge(now_ms);
        let existing = self.entries.get_key_value(key).map(|(k, _)| Arc::clone(k));
        let key: Arc<[u8]> = match existing {
            Some(k) => k,
            None => {
                while self.entries.len() >= self.max_entries && self.pop_oldest() {}
                let k: Arc<[u8]> = key.into();
                self.entries.insert(Arc::clone(&k), Entry::default());
                self.filter.add(&k);
                k
            }
        };
        let Some(entry) = self.entries.get_mut(&*key) else {
            return;
        };
        let old_until = entry.until();
        let had_target = entry.cname_target != 0;
        change(entry);
        let new_until = entry.until();
        if !had_target && entry.cname_target != 0 {
            self.cname_targets += 1;
        }
        if new_until != old_until {
            self.by_expiry.push(Reverse((new_until, key)));
        }
        if self.by_expiry.len() > 2 * self.entries.len() + 32 {
            self.by_expiry = self
                .entries
                .iter()
                .map(|(k, e)| Reverse((e.until(), Arc::clone(k))))
                .collect();
        }
    }

    /// Pops the heap's earliest record; removes its entry when the record is current. Returns
    /// false when the heap is empty.
    fn pop_oldest(&mut self) -> bool {
        let Some(Reverse((until, key))) = self.by_expiry.pop() else {
            return false;
        };
        let current = self.entries.get(&*key).is_some_and(|e| e.until() == until);
        if current && let Some(e) = self.entries.remove(&*key) {
            self.filter.remove(&key);
            if e.cname_target != 0 {
                self.cname_targets = self.cname_targets.saturating_sub(1);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u8> {
        crate::testutil::wire_name(s)
    }

    const MIN_MS: u64 = LEARN_MIN_TTL as u64 * 1000;
    const MAX_MS: u64 = LEARN_MAX_TTL as u64 * 1000;

    fn addr(s: &str) -> SocketAddr {
        s.parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    #[test]
    fn empty_state_finds_nothing() {
        let l = Learned::new(16);
        assert!(l.is_empty());
        assert_eq!(l.lookup(&w("a.example"), 0), Facts::default());
        assert_eq!(l.servers(&w("a.example"), 0), None);
        assert!(!Facts::default().forwards(1));
    }

    #[test]
    fn each_fact_forwards_its_types() {
        let mut l = Learned::new(16);
        assert!(l.learn(&w("ns1.example.net"), Fact::NsHost, 300, 0));
        assert!(l.learn(&w("t.auth.example.org"), Fact::CnameTarget, 300, 0));
        assert!(l.learn(&w("example.com"), Fact::Ancestor, 300, 0));
        let ns = l.lookup(&w("NS1.example.NET"), 1);
        assert!(ns.ns_host && !ns.cname_target && !ns.ancestor);
        for (qtype, want) in [
            (1u16, true),
            (28, true),
            (6, false),
            (2, false),
            (16, false),
        ] {
            assert_eq!(ns.forwards(qtype), want, "ns host, type {qtype}");
        }
        let t = l.lookup(&w("t.auth.example.org"), 1);
        for (qtype, want) in [
            (2u16, true),
            (5, true),
            (6, true),
            (16, true),
            (1, false),
            (28, false),
            (255, false),
            (0, false),
            (65535, false),
        ] {
            assert_eq!(t.forwards(qtype), want, "cname target, type {qtype}");
        }
        let a = l.lookup(&w("example.com"), 1);
        for (qtype, want) in [
            (6u16, true),
            (2, true),
            (1, false),
            (28, false),
            (16, false),
        ] {
            assert_eq!(a.forwards(qtype), want, "ancestor, type {qtype}");
        }
        // Exact names only: no fact for a child or a parent.
        assert!(l.lookup(&w("x.ns1.example.net"), 1).is_empty());
        assert!(l.lookup(&w("auth.example.org"), 1).is_empty());
        assert!(l.lookup(&w("www.example.com"), 1).is_empty());
        assert_eq!(l.len(), 3);
        assert_eq!(l.cname_target_len(), 1);
    }

    #[test]
    fn facts_expire_with_the_clock() {
        let mut l = Learned::new(16);
        let t0 = 5_000;
        l.learn(&w("ns.example"), Fact::NsHost, 120, t0);
        assert!(l.lookup(&w("ns.example"), t0 + 119_999).ns_host);
        assert!(!l.lookup(&w("ns.example"), t0 + 120_000).ns_host);
        assert!(!l.lookup(&w("ns.example"), u64::MAX).ns_host);
        // Still counted until purged.
        assert_eq!(l.len(), 1);
        assert_eq!(l.purge(t0 + 119_999), 0);
        assert_eq!(l.purge(t0 + 120_000), 1);
        assert!(l.is_empty());
    }

    #[test]
    fn ttl_clamped_to_min_and_max() {
        let mut l = Learned::new(16);
        for ttl in [0u32, 1, 59] {
            let name = w(&format!("n{ttl}.example"));
            l.learn(&name, Fact::NsHost, ttl, 0);
            assert!(l.lookup(&name, MIN_MS - 1).ns_host, "ttl {ttl}");
            assert!(!l.lookup(&name, MIN_MS).ns_host, "ttl {ttl}");
        }
        for ttl in [LEARN_MAX_TTL + 1, 604_800, u32::MAX] {
            let name = w(&format!("m{ttl}.example"));
            l.learn(&name, Fact::Ancestor, ttl, 0);
            assert!(l.lookup(&name, MAX_MS - 1).ancestor, "ttl {ttl}");
            assert!(!l.lookup(&name, MAX_MS).ancestor, "ttl {ttl}");
        }
        // The clock near its end saturates rather than wrapping.
        l.learn(&w("late.example"), Fact::CnameTarget, 300, u64::MAX - 10);
        assert!(l.lookup(&w("late.example"), u64::MAX - 1).cname_target);
    }

    #[test]
    fn relearning_extends_never_shortens() {
        let mut l = Learned::new(16);
        let n = w("ns.example");
        l.learn(&n, Fact::NsHost, 300, 0);
        // Learned again later with a shorter TTL: the later expiry wins.
        l.learn(&n, Fact::NsHost, 60, 290_000);
        assert!(l.lookup(&n, 349_999).ns_host);
        assert!(!l.lookup(&n, 350_000).ns_host);
        // Learned again with a shorter remaining time: unchanged.
        l.learn(&n, Fact::NsHost, 60, 0);
        assert!(l.lookup(&n, 349_999).ns_host);
        // Another fact on the same name is independent and shares the entry.
        l.learn(&n, Fact::Ancestor, 60, 0);
        assert_eq!(l.len(), 1);
        let f = l.lookup(&n, 100_000);
        assert!(f.ns_host && !f.ancestor);
    }

    #[test]
    fn bound_evicts_expired_first() {
        let mut l = Learned::new(16);
        // 8 short-lived and 8 long-lived entries.
        for i in 0..8 {
            l.learn(&w(&format!("short{i}.example")), Fact::NsHost, 60, 0);
            l.learn(&w(&format!("long{i}.example")), Fact::NsHost, 3600, 0);
        }
        assert_eq!(l.len(), 16);
        // After the short ones expired, a new name takes room from them (all of them purged),
        // and every long-lived one stays.
        l.learn(&w("new.example"), Fact::NsHost, 60, MIN_MS);
        assert_eq!(l.len(), 9);
        for i in 0..8 {
            assert!(l.lookup(&w(&format!("long{i}.example")), MIN_MS).ns_host);
        }
        assert!(l.lookup(&w("new.example"), MIN_MS).ns_host);
    }

    #[test]
    fn bound_evicts_soonest_expiring_when_none_expired() {
        let mut l = Learned::new(16);
        // TTLs 100, 200, ..., 1600 s, learned in a shuffled order.
        let order = [7u32, 2, 15, 0, 9, 4, 12, 1, 14, 3, 8, 11, 5, 13, 6, 10];
        for i in order {
            l.learn(&w(&format!("n{i}.example")), Fact::NsHost, (i + 1) * 100, 0);
        }
        assert_eq!(l.len(), 16);
        // Two more: the two soonest-expiring (n0 at 100 s, n1 at 200 s) go.
        l.learn(&w("x.example"), Fact::NsHost, 3000, 1);
        l.learn(&w("y.example"), Fact::NsHost, 3000, 2);
        assert_eq!(l.len(), 16);
        assert!(l.lookup(&w("n0.example"), 3).is_empty());
        assert!(l.lookup(&w("n1.example"), 3).is_empty());
        for i in 2..16 {
            assert!(l.lookup(&w(&format!("n{i}.example")), 3).ns_host, "n{i}");
        }
        // Re-learning moves an entry's expiry: n2 is no longer the next to go.
        l.learn(&w("n2.example"), Fact::NsHost, 5000, 3);
        l.learn(&w("z.example"), Fact::NsHost, 3000, 4);
        assert!(l.lookup(&w("n2.example"), 5).ns_host);
        assert!(l.lookup(&w("n3.example"), 5).is_empty());
        assert_eq!(l.len(), 16);
    }

    #[test]
    fn bound_holds_under_churn() {
        let mut l = Learned::new(16);
        for i in 0..2000u64 {
            let name = w(&format!("h{}.example", i % 97));
            let fact = match i % 3 {
                0 => Fact::NsHost,
                1 => Fact::CnameTarget,
                _ => Fact::Ancestor,
            };
            l.learn(&name, fact, (i % 500) as u32, i * 700);
            assert!(l.len() <= 16);
            assert!(l.by_expiry.len() <= 2 * l.len() + 33);
            let with_target = l.entries.values().filter(|e| e.cname_target != 0).count();
            assert_eq!(l.cname_target_len(), with_target);
            // The filter stays exact: its words are the bits of the names in the map.
            assert_eq!(l.filter_words(), &rebuilt_filter(&l), "step {i}");
            let earliest = l.entries.values().map(Entry::until).min();
            assert_eq!(l.next_expiry(), earliest, "step {i}");
        }
    }

    /// The prefilter words rebuilt from the map.
    fn rebuilt_filter(l: &Learned) -> [u64; FILTER_WORDS] {
        let mut words = [0u64; FILTER_WORDS];
        for k in l.entries.keys() {
            let bit = filter_bit(k);
            words[bit / 64] |= 1 << (bit % 64);
        }
        words
    }

    #[test]
    fn filter_bit_is_fixed_and_in_range() {
        let names: Vec<Vec<u8>> = (0..2000).map(|i| w(&format!("n{i}.example"))).collect();
        let mut seen = std::collections::HashSet::new();
        for n in &names {
            let bit = filter_bit(n);
            assert!(bit < FILTER_BITS);
            assert_eq!(bit, filter_bit(n), "deterministic");
            seen.insert(bit);
        }
        // Spread: 2000 names over 4096 bits fill well over a thousand distinct bits.
        assert!(seen.len() > 1200, "{} distinct bits", seen.len());
        for n in [&b""[..], b"\x00", &[0xffu8; 255][..]] {
            assert!(filter_bit(n) < FILTER_BITS);
        }
    }

    #[test]
    fn filter_tracks_entries_and_shared_bits() {
        let mut l = Learned::new(16);
        assert_eq!(l.filter_words(), &[0; FILTER_WORDS]);
        assert_eq!(l.next_expiry(), None);
        let a = w("a.example");
        let bit = filter_bit(&a);
        // Another name with the same bit.
        let twin = (0..)
            .map(|i| w(&format!("twin{i}.example")))
            .find(|n| filter_bit(n) == bit)
            .unwrap_or_default();
        let set = |l: &Learned| l.filter_words()[bit / 64] & (1 << (bit % 64)) != 0;
        l.learn(&w("A.Example"), Fact::NsHost, 60, 0);
        l.learn(&twin, Fact::NsHost, 120, 0);
        assert!(set(&l));
        assert_eq!(l.next_expiry(), Some(MIN_MS));
        assert_eq!(l.purge(MIN_MS), 1);
        assert!(set(&l), "the twin keeps the shared bit");
        assert_eq!(l.next_expiry(), Some(120_000));
        assert_eq!(l.purge(120_000), 1);
        assert!(!set(&l));
        assert_eq!(l.filter_words(), &[0; FILTER_WORDS]);
        assert_eq!(l.next_expiry(), None);
    }

    #[test]
    fn next_expiry_skips_stale_records() {
        let mut l = Learned::new(16);
        l.learn(&w("a.example"), Fact::NsHost, 60, 0);
        l.learn(&w("b.example"), Fact::NsHost, 300, 0);
        assert_eq!(l.next_expiry(), Some(MIN_MS));
        // Extended: the record at 60 s is stale now.
        l.learn(&w("a.example"), Fact::Ancestor, 600, 0);
        assert_eq!(l.next_expiry(), Some(300_000));
    }

    #[test]
    fn servers_found_for_closest_enclosing_apex() {
        let mut l = Learned::new(16);
        let a = [addr("192.0.2.1:53"), addr("[2001:db8::1]:53")];
        let b = [addr("192.0.2.2:53")];
        assert!(l.learn_servers(&w("Example.com"), &a, 300, 0));
        assert!(l.learn_servers(&w("sub.example.com"), &b, 100, 0));
        fn found_in(l: &Learned, n: &str, now: u64) -> Option<(Vec<u8>, Vec<SocketAddr>)> {
            l.servers(&w(n), now)
                .map(|(apex, s)| (apex.to_vec(), s.to_vec()))
        }
        let found = |n: &str, now| found_in(&l, n, now);
        assert_eq!(
            found("_acme-challenge.www.example.com", 1),
            Some((w("example.com"), a.to_vec()))
        );
        assert_eq!(
            found("example.com", 1),
            Some((w("example.com"), a.to_vec()))
        );
        assert_eq!(
            found("_acme-challenge.sub.example.com", 1),
            Some((w("sub.example.com"), b.to_vec()))
        );
        assert_eq!(found("example.org", 1), None);
        // sub.example.com's expire first; then the parent zone's are found.
        assert_eq!(
            found("_acme-challenge.sub.example.com", 100_000),
            Some((w("example.com"), a.to_vec()))
        );
        assert_eq!(found("x.example.com", 300_000), None);
        // Re-learning replaces the addresses.
        l.learn_servers(&w("example.com"), &b, 300, 1);
        assert_eq!(
            found_in(&l, "x.example.com", 2),
            Some((w("example.com"), b.to_vec()))
        );
        assert!(!l.learn_servers(&w("example.com"), &[], 300, 1));
        // Another fact on an apex entry does not make servers appear.
        l.learn(&w("example.org"), Fact::Ancestor, 300, 1);
        assert_eq!(found_in(&l, "www.example.org", 2), None);
    }

    #[test]
    fn malformed_names_never_learned() {
        let mut l = Learned::new(16);
        for bad in [&b""[..], b"\x03abc", b"\xc0\x0c", b"\x01a\x00junk"] {
            assert!(!l.learn(bad, Fact::NsHost, 300, 0));
            assert!(!l.learn_servers(bad, &[addr("192.0.2.1:53")], 300, 0));
            assert!(l.lookup(bad, 0).is_empty());
            assert_eq!(l.servers(bad, 0), None);
        }
        assert!(l.is_empty());
    }

    #[test]
    fn zero_bound_means_one() {
        let mut l = Learned::new(0);
        l.learn(&w("a.example"), Fact::NsHost, 60, 0);
        l.learn(&w("b.example"), Fact::NsHost, 60, 0);
        assert_eq!(l.len(), 1);
        assert!(l.lookup(&w("b.example"), 1).ns_host);
    }

    // Any names, TTLs and clocks: nothing panics, and the bound holds.
    use proptest::prelude::*;

    proptest! {
        #[test]
    fn learned_never_panics(
        names in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..20),
        ttls in proptest::collection::vec(any::<u32>(), 1..20),
        nows in proptest::collection::vec(any::<u64>(), 1..20),
    ) {
        let mut l = Learned::new(16);
        for (i, name) in names.iter().enumerate() {
            let ttl = ttls[i % ttls.len()];
            let now = nows[i % nows.len()];
            let fact = [Fact::NsHost, Fact::CnameTarget, Fact::Ancestor][i % 3];
            let _ = l.learn(name, fact, ttl, now);
            let _ = l.learn_servers(name, &["192.0.2.1:53".parse().expect("addr")], ttl, now);
            let _ = l.lookup(name, now);
            let _ = l.servers(name, now);
            prop_assert!(l.len() <= 16);
        }
        let _ = l.purge(u64::MAX);
        prop_assert!(l.is_empty());
    }
    }
}
