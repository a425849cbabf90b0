//! The learned state: facts, expiry, eviction, the counting filters and the prefetched zones.

use super::*;
use crate::state::prefilter::filter_bit;

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

/// Only nameserver hosts have a pair bit (the only learned names whose A and AAAA are
/// forwarded), from the moment one is learned until its entry goes.
#[test]
fn pair_bits_count_the_nameserver_hosts_only() {
    let pair = |name: &str| {
        let key = w(name);
        Filter::pair_bit(&key).unwrap_or(usize::MAX)
    };
    let has = |l: &Learned, bit: usize| l.pair_words()[bit / 64] & (1 << (bit % 64)) != 0;
    let mut l = Learned::new(16);
    l.learn(&w("x.auth.example.org"), Fact::CnameTarget, 60, 0);
    l.learn(&w("auth.example.org"), Fact::Ancestor, 60, 0);
    assert_eq!(l.pair_words(), &[0; FILTER_WORDS], "no host yet");
    // A name that is a CNAME target first and a nameserver host later gets its pair bit then.
    l.learn(&w("x.auth.example.org"), Fact::NsHost, 120, 0);
    l.learn(&w("ns1.example.com"), Fact::NsHost, 60, 0);
    assert!(has(&l, pair("x.auth.example.org")) && has(&l, pair("ns1.example.com")));
    let set: u32 = l.pair_words().iter().map(|w| w.count_ones()).sum();
    assert!(set <= 2, "{set} pair bits for two hosts");
    l.purge(MIN_MS);
    assert!(
        !has(&l, pair("ns1.example.com")) || pair("ns1.example.com") == pair("x.auth.example.org")
    );
    assert!(has(&l, pair("x.auth.example.org")));
    l.purge(2 * MAX_MS);
    assert_eq!(l.pair_words(), &[0; FILTER_WORDS], "every host went");
}
