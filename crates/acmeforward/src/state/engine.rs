//! The engine: a [`Config`] plus the [`Learned`] state shared by every query, and the classifier
//! that applies all the forwarding rules.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use crate::config::{Config, Zone};
use crate::rules::classify::{self, Verdict};
use crate::rules::policy::{Refusal, RefusalCounts};
use crate::state::filter::{self, PassFilter};
#[cfg(any(test, feature = "internals"))]
use crate::state::learned::Fact;
use crate::state::learned::{Facts, Learned, is_check_type};
use crate::state::prefilter::{FILTER_WORDS, filter_bit, fx_hash};
use crate::wire::name;
use crate::wire::{CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_NS, TYPE_SOA, TYPE_TXT};

/// Which forwarding rule matched a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Rule 1: a challenge name (`_acme-challenge`, `_validation-persist`, dns-account-01, or
    /// the `labels` given) at or below a configured zone; any type.
    Challenge,
    /// Rule 2: SOA or NS at or below a zone listed explicitly, for an ancestor of a delegated
    /// zone, or for the apex the prefetch found above a listed or delegated zone.
    Discovery,
    /// Rule 3: A or AAAA for a nameserver host, prefetched or learned.
    NsHost,
    /// Rule 4: TXT, CNAME, SOA or NS at or below a delegated zone.
    Delegated,
    /// Rule 4: TXT, CNAME, SOA or NS for a learned CNAME target of a challenge reply.
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

/// A verdict with what the exchange that follows needs of it ([`Engine::classify_question`]):
/// the rule that matched, and a check of the question it was made for.
/// [`Exchange::classified`](crate::Exchange::classified) takes it, so the rules run once per
/// question and no decision changes between the verdict and the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classified {
    /// What to do with the question.
    pub verdict: Verdict,
    /// The forwarding rule that matched ([`Verdict::Forward`] only).
    pub rule: Option<Rule>,
    /// A hash of the question (lower-cased wire name and type; never 0) for
    /// [`Verdict::Forward`] and [`Verdict::Hairpin`]; 0 for [`Verdict::Pass`].
    pub check: u32,
}

impl Classified {
    /// Not a question of ours.
    pub const PASS: Classified = Classified {
        verdict: Verdict::Pass,
        rule: None,
        check: 0,
    };
}

/// [`Classified::check`] of a question of class IN: a fixed hash of its lower-cased wire name
/// and type, never 0.
pub(crate) fn question_check(wire: &[u8], qtype: u16) -> u32 {
    let h = fx_hash(wire, 0, wire.len(), |w| w) ^ u64::from(qtype).rotate_left(32);
    ((h ^ (h >> 32)) as u32) | 1
}

/// A [`Config`] plus the learned state (behind an `RwLock`). `Send + Sync`: one per server block,
/// shared by every query.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    learned: RwLock<Learned>,
    /// `learned.len()`, readable without the lock.
    learned_len: AtomicUsize,
    /// `learned.pinned_len()` (the prefetched names), readable without the lock.
    pinned_len: AtomicUsize,
    /// Facts refused by the rules on public data, shared with the exchanges.
    refused: Arc<RefusalCounts>,
    /// `learned.cname_target_len()`, readable without the lock.
    cname_targets: AtomicUsize,
    /// `learned.filter_words()`, readable without the lock: the prefilter of the learned names
    /// (bit `filter_bit(name)` set for every entry's lower-cased wire name, and only those).
    /// A clear bit means "not learned"; a set bit means "look it up".
    filter: [AtomicU64; FILTER_WORDS],
    /// The pass filter's part that the configuration fixes: its types, and the last labels of
    /// the zones, delegated zones and hairpin names.
    pass_base: PassFilter,
    /// `pass_base.labels | learned.label_words()`, readable without the lock.
    pass_labels: [AtomicU64; FILTER_WORDS],
    /// `learned.pair_words()`, readable without the lock.
    pass_pairs: [AtomicU64; FILTER_WORDS],
    /// Bumped after every change of `pass_labels` or `pass_pairs`.
    pass_generation: AtomicU64,
    /// `learned.next_expiry()` plus [`EXPIRY_GRACE_MS`], readable without the lock: when the
    /// earliest entry may be purged (`u64::MAX` with no entries). A classify at or after it
    /// purges (if the lock is free).
    next_expiry_ms: AtomicU64,
    /// How many times the learned state's lock was taken (read, write or `try_write` won).
    #[cfg(test)]
    locks_taken: AtomicUsize,
}

/// How long past its expiry an entry is kept before [`Engine::classify`] purges it, in `now_ms`
/// milliseconds. Callers on other threads may have read their clock a little earlier than the
/// one purging; with this margin, a purge never removes an entry that is still unexpired at any
/// clock less than a second behind. (Learning and [`Engine::purge`] purge exactly.)
pub(crate) const EXPIRY_GRACE_MS: u64 = 1_000;

/// The pass filter's part that the configuration fixes. Types: TXT, CNAME, SOA and NS (learned
/// CNAME targets and ancestors, delegated zones, discovery), plus A and AAAA with discovery
/// (nameserver hosts) or hairpin lines. Labels: those of the zones listed for discovery, the
/// delegated zones and their ancestors, and the hairpin names; the learned and prefetched names
/// add theirs as they come.
fn pass_base(config: &Config) -> PassFilter {
    let mut f = PassFilter {
        types: [0; 4],
        labels: [0; FILTER_WORDS],
        hairpin_labels: [0; FILTER_WORDS],
        pairs: [0; FILTER_WORDS],
    };
    for t in [TYPE_TXT, TYPE_CNAME, TYPE_SOA, TYPE_NS] {
        f.add_type(t);
    }
    if config.discovery() || !config.hairpin().is_empty() {
        f.add_type(TYPE_A);
        f.add_type(TYPE_AAAA);
    }
    let zones = config
        .discovery_zones()
        .iter()
        .chain(config.delegated())
        .chain(config.delegated_ancestors());
    for z in zones {
        f.add_name(z.wire());
    }
    for top in config.hairpin().top_labels() {
        f.add_hairpin_label(top);
    }
    f
}

/// The pass filter's bits as the engine holds them: the static hairpin labels, the rest in
/// atomics (one word loaded per question).
impl filter::Bits for Engine {
    fn label(&self, bit: usize) -> bool {
        atomic_bit(&self.pass_labels, bit)
    }
    fn hairpin_label(&self, bit: usize) -> bool {
        self.pass_base.hairpin_label(bit)
    }
    fn pair(&self, bit: usize) -> bool {
        atomic_bit(&self.pass_pairs, bit)
    }
}

fn atomic_bit(words: &[AtomicU64], bit: usize) -> bool {
    words
        .get(bit / 64)
        .is_some_and(|w| w.load(Ordering::Acquire) & (1 << (bit % 64)) != 0)
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
        let pass_base = pass_base(&config);
        Engine {
            pass_labels: pass_base.labels.map(AtomicU64::new),
            pass_pairs: [const { AtomicU64::new(0) }; FILTER_WORDS],
            pass_generation: AtomicU64::new(0),
            pass_base,
            config,
            learned: RwLock::new(learned),
            learned_len: AtomicUsize::new(0),
            pinned_len: AtomicUsize::new(0),
            refused: Arc::default(),
            cname_targets: AtomicUsize::new(0),
            filter: [const { AtomicU64::new(0) }; FILTER_WORDS],
            next_expiry_ms: AtomicU64::new(u64::MAX),
            #[cfg(test)]
            locks_taken: AtomicUsize::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The per-query hot path: no allocation. `qname` is in presentation format (as miekg/dns
    /// gives it: trailing dot optional, `\.` and `\DDD` escapes). [`Verdict::Forward`] when one
    /// of the forwarding rules matches (see [`Engine::rule`]); else [`Verdict::Hairpin`] for an
    /// A or AAAA question (class IN) for a `hairpin` name; else [`Verdict::Pass`].
    ///
    /// The learned state's read lock is taken only when something was learned, and then only
    /// for A/AAAA/SOA/NS questions or when a CNAME target was learned, and only when the name's
    /// bit is set in the lock-free prefilter of the learned names (a false positive costs just
    /// the lookup).
    ///
    /// Opportunistic expiry: when `now_ms` has reached the earliest expiry in the learned state
    /// plus [`EXPIRY_GRACE_MS`], classify purges the entries expired that long first, but only
    /// if the write lock is free at once (`try_write`; it never waits). `now_ms` 0 (the Go
    /// shim's value until it has learned something) never purges: every expiry is at least
    /// `LEARN_MIN_TTL` after the (real) clock the entry was learned with. [`Engine::rule`]
    /// itself never purges.
    pub fn classify(&self, qname: &[u8], qtype: u16, qclass: u16, now_ms: u64) -> Verdict {
        self.classify_question(qname, qtype, qclass, now_ms, false)
            .verdict
    }

    /// [`Engine::classify`] with the rule behind the verdict, for
    /// [`Exchange::classified`](crate::Exchange::classified). `filter_applied` says that the
    /// caller applied the current pass filter ([`Engine::pass_filter_generation`] unchanged since
    /// its copy) and it did not rule the question out: the filter is then not applied again (it
    /// never changes a verdict, it only spares the rules' work).
    #[inline]
    pub fn classify_question(
        &self,
        qname: &[u8],
        qtype: u16,
        qclass: u16,
        now_ms: u64,
        filter_applied: bool,
    ) -> Classified {
        self.expire(now_ms);
        if !filter_applied && self.pass_filter_passes(qname, qtype, qclass) {
            return Classified::PASS;
        }
        self.classify_rules(qname, qtype, qclass, now_ms)
    }

    /// [`Engine::classify_question`] past the pass filter: the rules and the hairpin table. Out
    /// of line, so that the filter's path saves no registers for it.
    #[inline(never)]
    fn classify_rules(&self, qname: &[u8], qtype: u16, qclass: u16, now_ms: u64) -> Classified {
        if qclass != CLASS_IN {
            return Classified::PASS;
        }
        // Hairpin: A/AAAA only, when a table is configured and may hold the name.
        let hairpin = matches!(qtype, TYPE_A | TYPE_AAAA)
            && !self.config.hairpin().is_empty()
            && self.config.hairpin().may_match_text(qname);
        if !hairpin && !self.rule_may_match(qname, qtype) {
            return Classified::PASS;
        }
        match name::scan(qname) {
            Ok(wire) => self.classify_wire(wire.as_bytes(), qtype, now_ms, hairpin),
            Err(_) => Classified::PASS,
        }
    }

    /// The verdict for a lower-cased wire-form name of class IN: every forwarding rule first
    /// ([`Verdict::Forward`]), then, when `hairpin` (an A or AAAA question), the table
    /// ([`Verdict::Hairpin`]) for a name that is not protected, nor a prefetched nameserver
    /// host kept internal. No allocation.
    pub(crate) fn classify_wire(
        &self,
        wire: &[u8],
        qtype: u16,
        now_ms: u64,
        hairpin: bool,
    ) -> Classified {
        let rule = self.rule_wire(wire, qtype, now_ms);
        let verdict = if rule.is_some() {
            Verdict::Forward
        } else if hairpin
            && self.config.hairpin().target(wire, qtype).is_some()
            // A wildcard above a protected zone (`*.local`) answers none of its names.
            && !self.config.is_protected(wire)
            // Nor a wildcard over a listed zone's nameserver host that keeps its internal
            // answer: the ACME checks ask that host.
            && !self.is_kept_host(wire, now_ms)
        {
            Verdict::Hairpin
        } else {
            return Classified::PASS;
        };
        Classified {
            verdict,
            rule,
            check: question_check(wire, qtype),
        }
    }

    /// Which rule forwards the question, if any (class IN only; malformed names never match).
    /// Rules 1 and 4 are checked first, then 2, 3 and 5. No allocation.
    pub fn rule(&self, qname: &[u8], qtype: u16, qclass: u16, now_ms: u64) -> Option<Rule> {
        if qclass != CLASS_IN || !self.rule_may_match(qname, qtype) {
            return None;
        }
        let wire = name::scan(qname).ok()?;
        self.rule_wire(wire.as_bytes(), qtype, now_ms)
    }

    /// Whether some rule may take a question of this name and type, from checks that need no
    /// scan of the name: false means none does.
    fn rule_may_match(&self, qname: &[u8], qtype: u16) -> bool {
        let c = &self.config;
        let maybe_challenge = c.challenge_labels().may_match(qname);
        let soa_ns = matches!(qtype, TYPE_SOA | TYPE_NS);
        let static_discovery = c.discovery()
            && soa_ns
            && !(c.discovery_zones().is_empty() && c.delegated_ancestors().is_empty());
        let delegated = !c.delegated().is_empty() && is_check_type(qtype);
        maybe_challenge || static_discovery || delegated || self.learned_may_match(qtype)
    }

    /// The pass filter as of now (see [`PassFilter`]): a question it rules out gets
    /// [`Verdict::Pass`] from [`Engine::classify`] whatever happens until the engine next learns
    /// or prefetches something (a reply handed to an [`crate::Exchange`], a
    /// [`crate::Prefetch::poll`] that ends a round). No lock, no allocation.
    pub fn pass_filter(&self) -> PassFilter {
        let load = |w: &AtomicU64| w.load(Ordering::Acquire);
        PassFilter {
            labels: self.pass_labels.each_ref().map(load),
            pairs: self.pass_pairs.each_ref().map(load),
            ..self.pass_base
        }
    }

    /// A number that changes after every change of the pass filter: a copy taken when it was
    /// `g` is current as long as this is still `g`. Read it before the filter.
    pub fn pass_filter_generation(&self) -> u64 {
        self.pass_generation.load(Ordering::Acquire)
    }

    /// [`PassFilter::passes`] on the current filter, reading only the one label word it needs.
    #[inline]
    fn pass_filter_passes(&self, qname: &[u8], qtype: u16, qclass: u16) -> bool {
        filter::passes(&self.pass_base.types, self, qname, qtype, qclass)
    }

    /// Purges the entries expired at least [`EXPIRY_GRACE_MS`] ago when there are any, if the
    /// write lock can be had without waiting. One atomic load otherwise. No allocation.
    #[inline]
    fn expire(&self, now_ms: u64) {
        if now_ms >= self.next_expiry_ms.load(Ordering::Acquire) {
            self.try_purge(now_ms);
        }
    }

    /// [`Engine::expire`]'s slow path: `try_write`, purge, republish.
    #[cold]
    #[inline(never)]
    fn try_purge(&self, now_ms: u64) {
        let mut guard = match self.learned.try_write() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            // Someone else holds the lock: a later call purges.
            Err(TryLockError::WouldBlock) => return,
        };
        self.note_lock();
        guard.purge(now_ms.saturating_sub(EXPIRY_GRACE_MS));
        self.publish(&mut guard);
    }

    /// Whether the prefilter has the bit of `wire` (lower-cased wire form): false means no
    /// entry has that name. No lock.
    #[inline]
    fn filter_may_contain(&self, wire: &[u8]) -> bool {
        let bit = filter_bit(wire);
        self.filter
            .get(bit / 64)
            .is_some_and(|w| w.load(Ordering::Acquire) & (1 << (bit % 64)) != 0)
    }

    /// Whether the learned or prefetched state can match a question of this type (no lock
    /// taken).
    fn learned_may_match(&self, qtype: u16) -> bool {
        let discovery_type =
            self.config.discovery() && matches!(qtype, TYPE_A | TYPE_AAAA | TYPE_SOA | TYPE_NS);
        (self.learned_len.load(Ordering::Acquire) > 0
            && (discovery_type
                || (is_check_type(qtype) && self.cname_targets.load(Ordering::Acquire) > 0)))
            || (discovery_type && self.pinned_len.load(Ordering::Acquire) > 0)
    }

    /// [`Engine::rule`] for a lower-cased wire-form name of class IN.
    pub(crate) fn rule_wire(&self, wire: &[u8], qtype: u16, now_ms: u64) -> Option<Rule> {
        let c = &self.config;
        // The cluster's own names never get an answer from outside.
        if c.is_protected(wire) {
            return None;
        }
        if classify::is_challenge_in(c.challenge_labels(), wire, c.zones()) {
            return Some(Rule::Challenge);
        }
        let check_type = is_check_type(qtype);
        if check_type && in_any(wire, c.delegated()) {
            return Some(Rule::Delegated);
        }
        let soa_ns = matches!(qtype, TYPE_SOA | TYPE_NS);
        let facts = if self.learned_may_match(qtype) && self.filter_may_contain(wire) {
            self.read().lookup_normalized(wire, now_ms)
        } else {
            Facts::default()
        };
        if facts.cname_target && check_type {
            return Some(Rule::CnameTarget);
        }
        if !c.discovery() {
            return None;
        }
        if soa_ns
            && (in_any(wire, c.discovery_zones())
                || is_exactly(wire, c.delegated_ancestors())
                || facts.prefetched_apex)
        {
            return Some(Rule::Discovery);
        }
        if (facts.ns_host || facts.prefetched_host) && matches!(qtype, TYPE_A | TYPE_AAAA) {
            return Some(Rule::NsHost);
        }
        if facts.ancestor && soa_ns {
            return Some(Rule::Ancestor);
        }
        None
    }

    /// Whether `wire` is a prefetched nameserver host that the internal view knows.
    fn is_kept_host(&self, wire: &[u8], now_ms: u64) -> bool {
        self.pinned_len.load(Ordering::Acquire) > 0
            && self.filter_may_contain(wire)
            && self.read().lookup_normalized(wire, now_ms).kept_host
    }

    /// Counts a fact refused by the rules on public data.
    pub(crate) fn refuse(&self, why: Refusal) {
        self.refused.count(why);
    }

    /// The counters of refused facts, for an exchange to share.
    pub(crate) fn refusal_counts(&self) -> Arc<RefusalCounts> {
        Arc::clone(&self.refused)
    }

    /// How many facts were refused for `why` so far (by the rules on public data: see
    /// [`Refusal`]).
    pub fn refused(&self, why: Refusal) -> u64 {
        self.refused.get(why)
    }

    /// The number of entries (names) in the learned state, no lock. Several facts (and
    /// nameserver addresses) about one name are one entry. It counts every name with at least
    /// one unexpired fact or unexpired addresses, plus the names whose facts have all expired
    /// but that were not removed yet. Those go when a learn or an [`Engine::purge`] sees a clock
    /// at or past their expiry, or a [`Engine::classify`] sees one at or past their expiry plus
    /// [`EXPIRY_GRACE_MS`] (and gets the write lock without waiting; else the next classify
    /// does it). So with queries flowing, it counts the live entries plus those expired less
    /// than about a second ago.
    pub fn learned_len(&self) -> usize {
        self.learned_len.load(Ordering::Acquire)
    }

    /// The unexpired facts learned about `name` (wire form, any case).
    #[cfg(any(test, feature = "internals"))]
    pub fn learned_facts(&self, name: &[u8], now_ms: u64) -> Facts {
        if self.learned_len() == 0 {
            return Facts::default();
        }
        self.read().lookup(name, now_ms)
    }

    /// The nameserver addresses, prefetched or learned, of the closest enclosing zone of `name`
    /// (wire form, any case): the apex (lower-cased wire form) and the addresses.
    pub(crate) fn learned_servers(
        &self,
        name: &[u8],
        now_ms: u64,
    ) -> Option<(Vec<u8>, Vec<SocketAddr>)> {
        if self.learned_len() == 0 && self.pinned_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.read()
            .servers(name, now_ms)
            .map(|(apex, servers)| (apex.to_vec(), servers.to_vec()))
    }

    /// Learns `fact` about `name` (wire form, any case) as a forwarded reply would (see
    /// [`Learned::learn`]). Exchanges do this themselves; this is for tests, benchmarks and the
    /// fuzz targets. Returns false for a malformed name.
    #[cfg(any(test, feature = "internals"))]
    pub fn learn(&self, name: &[u8], fact: Fact, ttl: u32, now_ms: u64) -> bool {
        self.update(|l| l.learn(name, fact, ttl, now_ms))
    }

    /// A copy of the learned state.
    #[cfg(any(test, feature = "internals"))]
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
        self.note_lock();
        let r = f(&mut guard);
        self.publish(&mut guard);
        r
    }

    /// Republishes what the hot path reads without the lock: the counters, the prefilter and
    /// the next expiry. Called with the write lock held (so updates publish in lock order).
    fn publish(&self, learned: &mut Learned) {
        self.cname_targets
            .store(learned.cname_target_len(), Ordering::Release);
        self.learned_len.store(learned.len(), Ordering::Release);
        self.pinned_len
            .store(learned.pinned_len(), Ordering::Release);
        for (word, &bits) in self.filter.iter().zip(learned.filter_words()) {
            if word.load(Ordering::Relaxed) != bits {
                word.store(bits, Ordering::Release);
            }
        }
        let mut changed = false;
        let labels = self.pass_base.labels.iter().zip(learned.label_words());
        for (word, (&base, &bits)) in self.pass_labels.iter().zip(labels) {
            if word.load(Ordering::Relaxed) != base | bits {
                word.store(base | bits, Ordering::Release);
                changed = true;
            }
        }
        for (word, &bits) in self.pass_pairs.iter().zip(learned.pair_words()) {
            if word.load(Ordering::Relaxed) != bits {
                word.store(bits, Ordering::Release);
                changed = true;
            }
        }
        if changed {
            self.pass_generation.fetch_add(1, Ordering::Release);
        }
        let next = learned.next_expiry();
        self.next_expiry_ms.store(
            next.map_or(u64::MAX, |t| t.saturating_add(EXPIRY_GRACE_MS)),
            Ordering::Release,
        );
    }

    fn read(&self) -> RwLockReadGuard<'_, Learned> {
        let guard = self.learned.read().unwrap_or_else(PoisonError::into_inner);
        self.note_lock();
        guard
    }

    /// Counts a lock acquisition (tests only).
    #[inline]
    fn note_lock(&self) {
        #[cfg(test)]
        self.locks_taken.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times the learned state's lock was taken so far (tests only).
    #[cfg(test)]
    pub(crate) fn locks_taken(&self) -> usize {
        self.locks_taken.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

/// The lock-free prefilter and the opportunistic expiry (lock acquisitions observed through
/// the test-only counter).
#[cfg(test)]
#[path = "engine_prefilter_tests.rs"]
mod prefilter_tests;
