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
//! Beside the entries, the state keeps an exact counting filter of their names (a
//! [`Filter`](crate::state::prefilter::Filter) of the prefilter: the bit of each name, each with
//! the number of entries that map to it): [`crate::Engine`] copies its bit words into atomics
//! after every change, so that the hot path can rule out most names without taking the lock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::state::prefilter::{FILTER_WORDS, Filter};
use crate::wire::name;
use crate::wire::{TYPE_CNAME, TYPE_NS, TYPE_SOA, TYPE_TXT};

/// The shortest time a fact is kept, in seconds, whatever the record's TTL: a follow-up lookup
/// right after a TTL-0 answer must still go out.
pub const LEARN_MIN_TTL: u32 = 60;
/// The longest time a fact is kept, in seconds (one day).
pub const LEARN_MAX_TTL: u32 = 86_400;

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
    /// The prefetch found the name as a nameserver host of a listed or delegated zone, and the
    /// internal view knows it: its A and AAAA keep the internal view's answer, and a `hairpin`
    /// wildcard does not take them.
    pub kept_host: bool,
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
            || self.prefetched_apex
            || self.kept_host)
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
    /// The hosts of the apex that the internal view knows, lower-cased wire form: they keep
    /// the internal view's answer (never a hairpin answer).
    pub(crate) kept: Vec<Box<[u8]>>,
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
    kept_until: u64,
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
        for (key, p) in &self.pinned {
            self.filter.remove(key);
            if p.host_until != 0 {
                self.filter.remove_host(key);
            }
        }
        self.pinned.clear();
        for z in self.prefetched.values() {
            let apex = self.pinned.entry(z.apex.clone()).or_default();
            apex.apex_until = apex.apex_until.max(z.until);
            for h in &z.hosts {
                let host = self.pinned.entry(h.clone()).or_default();
                host.host_until = host.host_until.max(z.until);
            }
            for h in &z.kept {
                let host = self.pinned.entry(h.clone()).or_default();
                host.kept_until = host.kept_until.max(z.until);
            }
        }
        for (key, p) in &self.pinned {
            self.filter.add(key);
            if p.host_until != 0 {
                self.filter.add_host(key);
            }
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

    /// The prefilter: bit [`filter_bit`](crate::state::prefilter::filter_bit) of every entry's
    /// name (lower-cased wire form) is set, and no other bit.
    pub(crate) fn filter_words(&self) -> &[u64; FILTER_WORDS] {
        self.filter.name_words()
    }

    /// The last labels of the entries' names (and of the prefetched names), by their
    /// [`filter_bit`](crate::state::prefilter::filter_bit): the learned share of the pass
    /// filter's label bits.
    pub(crate) fn label_words(&self) -> &[u64; FILTER_WORDS] {
        self.filter.label_words()
    }

    /// The first and last labels of the nameserver hosts' names, learned and prefetched, by
    /// their [`pair_bit`](crate::state::prefilter::pair_bit): the pass filter's pair bits.
    pub(crate) fn pair_words(&self) -> &[u64; FILTER_WORDS] {
        self.filter.pair_words()
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
            facts.kept_host = p.kept_until > now_ms;
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
        let was_host = entry.ns_host != 0;
        change(entry);
        let new_until = entry.until();
        if !had_target && entry.cname_target != 0 {
            self.cname_targets += 1;
        }
        if !was_host && entry.ns_host != 0 {
            self.filter.add_host(&key);
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
            if e.ns_host != 0 {
                self.filter.remove_host(&key);
            }
            if e.cname_target != 0 {
                self.cname_targets = self.cname_targets.saturating_sub(1);
            }
        }
        true
    }
}

#[cfg(test)]
#[path = "learned_tests.rs"]
mod tests;
