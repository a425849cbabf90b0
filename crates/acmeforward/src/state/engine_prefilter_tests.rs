//! The lock-free prefilter of the learned names and the opportunistic expiry of classify.

use super::*;
use crate::config::builder::ConfigBuilder;
use crate::state::learned::LEARN_MIN_TTL;
use crate::testutil::wire_name;

use crate::wire::{TYPE_A as A, TYPE_TXT as TXT};
const MIN_MS: u64 = LEARN_MIN_TTL as u64 * 1000;

fn engine() -> Engine {
    let mut b = ConfigBuilder::new();
    assert!(b.upstream("192.0.2.53").is_ok());
    assert!(b.zone("example.com").is_ok());
    match b.build() {
        Ok(c) => Engine::new(c),
        Err(e) => panic!("config: {e}"),
    }
}

/// The prefilter bit of a presentation-format name.
fn bit(name: &str) -> usize {
    match name::scan(name.as_bytes()) {
        Ok(w) => filter_bit(w.as_bytes()),
        Err(e) => panic!("{name}: {e:?}"),
    }
}

fn in_filter(e: &Engine, name: &str) -> bool {
    match name::scan(name.as_bytes()) {
        Ok(w) => e.filter_may_contain(w.as_bytes()),
        Err(e) => panic!("{name}: {e:?}"),
    }
}

/// The first name `{prefix}{i}.example.net` whose bit `want` says.
/// A name under `.net` whose prefilter bit passes `want` (the same last label as the learned
/// names of the tests that look for a twin, which the pass filter then does not rule out).
fn find(prefix: &str, want: impl Fn(usize) -> bool) -> String {
    (0..100_000)
        .map(|i| format!("{prefix}{i}.example.net."))
        .find(|n| want(bit(n)))
        .unwrap_or_default()
}

/// Classifies and returns the verdict and whether the learned state's lock was taken.
fn classify(e: &Engine, name: &str, qtype: u16, now: u64) -> (Verdict, bool) {
    let before = e.locks_taken();
    let v = e.classify(name.as_bytes(), qtype, 1, now);
    (v, e.locks_taken() != before)
}

#[test]
fn learned_names_pass_the_filter_and_others_take_no_lock() {
    let e = engine();
    assert!(!in_filter(&e, "t.auth.example.org."));
    assert!(e.learn(&wire_name("T.Auth.Example.ORG"), Fact::CnameTarget, 300, 0));
    assert!(e.learn(&wire_name("ns1.example.net"), Fact::NsHost, 300, 0));
    assert!(in_filter(&e, "t.auth.example.org."));
    assert!(in_filter(&e, "T.AUTH.example.org"), "any case");
    assert!(in_filter(&e, "ns1.example.net"));
    assert_eq!(
        classify(&e, "t.auth.example.org.", TXT, 1_000),
        (Verdict::Forward, true)
    );
    assert_eq!(
        classify(&e, "ns1.example.net.", A, 1_000),
        (Verdict::Forward, true)
    );
    // A name whose bit is clear: scanned (a CNAME target is learned) but no lock.
    let learned = [bit("t.auth.example.org."), bit("ns1.example.net.")];
    let other = find("pass", |b| !learned.contains(&b));
    assert!(!in_filter(&e, &other));
    for qtype in [A, TXT, 6, 255] {
        assert_eq!(
            classify(&e, &other, qtype, 1_000),
            (Verdict::Pass, false),
            "{other} {qtype}"
        );
    }
    // Rules 1 and 4 that need no lookup take no lock either.
    assert_eq!(
        classify(&e, "_acme-challenge.example.com.", TXT, 1_000),
        (Verdict::Forward, false)
    );
}

#[test]
fn false_positive_costs_only_a_lookup() {
    let e = engine();
    let learned = "t.acme.example.net.";
    assert!(e.learn(&wire_name(learned), Fact::CnameTarget, 300, 0));
    let twin = find("twin", |b| b == bit(learned));
    assert_ne!(twin, "", "a name sharing the bit");
    assert!(in_filter(&e, &twin));
    assert_eq!(classify(&e, &twin, TXT, 1_000), (Verdict::Pass, true));
    assert_eq!(e.rule(twin.as_bytes(), TXT, 1, 1_000), None);
    assert_eq!(classify(&e, learned, TXT, 1_000), (Verdict::Forward, true));
}

#[test]
fn purge_clears_the_bit_unless_another_name_shares_it() {
    let e = engine();
    let short = "short.example.net.";
    let twin = find("twin", |b| b == bit(short));
    assert_ne!(twin, "", "a name sharing the bit");
    let t0 = 10_000;
    assert!(e.learn(&wire_name(short), Fact::CnameTarget, 60, t0));
    assert!(e.learn(&wire_name(&twin), Fact::CnameTarget, 300, t0));
    assert_eq!(e.learned_len(), 2);
    // The short one expires and is purged: the twin keeps the bit.
    assert_eq!(e.purge(t0 + MIN_MS), 1);
    assert!(in_filter(&e, short));
    assert_eq!(classify(&e, short, TXT, t0 + MIN_MS), (Verdict::Pass, true));
    assert_eq!(
        classify(&e, &twin, TXT, t0 + MIN_MS),
        (Verdict::Forward, true)
    );
    // Both gone: the bit is clear.
    assert_eq!(e.purge(t0 + 300_000), 1);
    assert!(!in_filter(&e, short));
    assert!(!in_filter(&e, &twin));
    assert!(e.filter.iter().all(|w| w.load(Ordering::Relaxed) == 0));
}

#[test]
fn classify_purges_expired_entries_with_a_fake_clock() {
    let e = engine();
    let target = "t.auth.example.org.";
    let t0 = 5_000;
    assert!(e.learn(&wire_name(target), Fact::CnameTarget, 60, t0));
    assert!(e.learn(&wire_name("example.org"), Fact::Ancestor, 60, t0));
    let expiry = t0 + MIN_MS;
    let purge_at = expiry + EXPIRY_GRACE_MS;
    assert_eq!(e.learned_len(), 2);
    assert_eq!(e.next_expiry_ms.load(Ordering::Relaxed), purge_at);
    // The Go shim's 0 (before it reads the clock) never purges.
    assert_eq!(classify(&e, target, TXT, 0), (Verdict::Forward, true));
    assert_eq!(e.learned_len(), 2);
    // Just before the expiry: nothing purged.
    assert_eq!(
        classify(&e, target, TXT, expiry - 1),
        (Verdict::Forward, true)
    );
    // Expired (no longer forwarded) but within the grace: still there, still counted.
    assert_eq!(classify(&e, target, TXT, expiry), (Verdict::Pass, true));
    assert_eq!(
        classify(&e, target, TXT, purge_at - 1),
        (Verdict::Pass, true)
    );
    assert_eq!(e.learned_len(), 2);
    // At expiry + grace, any question (here one that passes anyway) purges: one write
    // lock, taken with try_write.
    let before = e.locks_taken();
    assert_eq!(
        e.classify(b"www.example.net.", A, 1, purge_at),
        Verdict::Pass
    );
    assert_eq!(e.locks_taken(), before + 1, "try_write only");
    assert_eq!(e.learned_len(), 0);
    assert_eq!(e.next_expiry_ms.load(Ordering::Relaxed), u64::MAX);
    assert!(!in_filter(&e, target));
    // Then no lock at all, for the expired name or any other, at any clock.
    for (name, qtype, now) in [
        (target, TXT, purge_at),
        (target, A, purge_at + 1),
        ("example.org.", 6, 0),
        ("x.", 2, u64::MAX - 1),
    ] {
        assert_eq!(
            classify(&e, name, qtype, now),
            (Verdict::Pass, false),
            "{name} {qtype}"
        );
    }
    assert_eq!(e.purge(u64::MAX), 0);
}

#[test]
fn classify_purge_never_waits_for_the_lock() {
    let e = engine();
    assert!(e.learn(&wire_name("t.example.org"), Fact::CnameTarget, 60, 0));
    let purge_at = MIN_MS + EXPIRY_GRACE_MS;
    {
        // Another holder of the lock: classify skips the purge rather than wait.
        let _held = e.learned.read();
        let before = e.locks_taken();
        assert_eq!(
            e.classify(b"www.example.net.", A, 1, purge_at),
            Verdict::Pass
        );
        assert_eq!(e.locks_taken(), before);
        assert_eq!(e.learned_len(), 1);
    }
    // The next classify does it.
    assert_eq!(
        e.classify(b"www.example.net.", A, 1, purge_at + 1),
        Verdict::Pass
    );
    assert_eq!(e.learned_len(), 0);
}

#[test]
fn learning_republishes_the_next_expiry_and_the_filter() {
    let e = engine();
    assert_eq!(e.next_expiry_ms.load(Ordering::Relaxed), u64::MAX);
    let next = |e: &Engine| e.next_expiry_ms.load(Ordering::Relaxed) - EXPIRY_GRACE_MS;
    assert!(e.learn(&wire_name("a.example.org"), Fact::NsHost, 300, 0));
    assert_eq!(next(&e), 300_000);
    assert!(e.learn(&wire_name("b.example.org"), Fact::NsHost, 60, 0));
    assert_eq!(next(&e), MIN_MS);
    // A learn at b's expiry purges it exactly (Learned::learn purges first, no grace) and
    // republishes.
    assert!(e.learn(&wire_name("c.example.org"), Fact::NsHost, 600, MIN_MS));
    assert_eq!(e.learned_len(), 2);
    assert_eq!(next(&e), 300_000);
    assert!(in_filter(&e, "a.example.org") && in_filter(&e, "c.example.org"));
    // The published words are exactly the state's.
    let words = *e.read().filter_words();
    for (w, want) in e.filter.iter().zip(words) {
        assert_eq!(w.load(Ordering::Relaxed), want);
    }
}
