//! `Engine::classify` (and `Config::classify`, its rule-1 part) is the per-query hot path: it must
//! not allocate, for names that pass and for names that are forwarded alike, with nothing learned
//! and with a learned state that every lookup has to consult. A counting global allocator proves
//! it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use acmeforward::{Config, ConfigBuilder, Engine, Exchange, Transport, Verdict};
use common::{CLASS_IN, QNAME_PTR, TYPE_TXT, message, query, question, rr, wire_from_labels};

struct Counting;

thread_local! {
    // Counting is per thread, so the test harness's own threads do not disturb the count.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: thread-local storage may already be gone while a thread shuts down.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is passed straight to the system allocator; counting touches only
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations_during(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|n| n.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    ALLOCATIONS.with(|n| n.get())
}

#[test]
fn counter_sees_allocations() {
    // The instrument works: a Vec allocation is counted.
    let n = allocations_during(|| {
        let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
        std::hint::black_box(&v);
    });
    assert_eq!(n, 1);
}

fn config() -> Config {
    let mut builder = ConfigBuilder::new();
    builder
        .zone("example.com")
        .and_then(|b| b.zone("example.net"))
        .and_then(|b| b.zone(r"odd\.zone.example.org"))
        .and_then(|b| b.delegated("auth.example.io"))
        .and_then(|b| b.upstream("192.0.2.53"))
        .expect("builder");
    builder.build().expect("config")
}

const FORWARD: [&[u8]; 5] = [
    b"_acme-challenge.example.com.",
    b"_ACME-Challenge.www.Example.NET",
    br"\095acme-challenge.a.b.example.com.",
    br"_acme-challenge.odd\.zone.example.org.",
    br"\_acme\-challenge.example.com",
];

const PASS: [&[u8]; 9] = [
    b"www.example.com.",
    b"kubernetes.default.svc.cluster.local.",
    b"_acme-challenge.example.org.",
    br"_acme-challenge.foo\.example.com.",
    b"x._acme-challenge.example.com.",
    br"\255\000.example.com.",
    br"_acme-challenge.bad\escape\9",
    b"",
    b".",
];

fn labels(s: &str) -> Vec<Vec<u8>> {
    s.split('.')
        .filter(|l| !l.is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

/// Teaches the engine a CNAME target (so every question needs a lookup), NS hosts and
/// ancestors, through a real exchange.
fn learn_something(engine: &Engine) {
    let q = question(
        &wire_from_labels(&labels("_acme-challenge.www.example.com")),
        TYPE_TXT,
        CLASS_IN,
    );
    let mut ex = Exchange::new(engine, &query(1, &q, None), Transport::Udp, 9, 0).expect("query");
    let target = wire_from_labels(&labels("t.acme.example.io"));
    let mut reply = message(
        ex.upstream_id(),
        0x8180,
        ex.question(),
        &[rr(&QNAME_PTR, 5, CLASS_IN, 300, &target)],
        &[],
    );
    reply[9] = 1; // NSCOUNT: the NS record below
    reply.extend(rr(
        &wire_from_labels(&labels("example.com")),
        2,
        CLASS_IN,
        300,
        &wire_from_labels(&labels("ns1.example.com")),
    ));
    ex.on_reply(engine, &reply, 0).expect("reply accepted");
    assert!(engine.learned_len() >= 5, "target, NS host, ancestors");
}

#[test]
fn classify_allocates_nothing() {
    let config = config();
    let mut verdicts = Vec::with_capacity(FORWARD.len() + PASS.len() + 1);
    let n = allocations_during(|| {
        for name in FORWARD.iter().chain(PASS.iter()) {
            verdicts.push(config.classify(std::hint::black_box(name), 16, 1));
        }
        // Wrong class takes the earliest exit.
        verdicts.push(config.classify(b"_acme-challenge.example.com.", 16, 3));
    });
    assert_eq!(n, 0, "classify allocated");
    let forwarded = verdicts.iter().filter(|v| **v == Verdict::Forward).count();
    assert_eq!(forwarded, FORWARD.len());
    assert!(
        verdicts[..FORWARD.len()]
            .iter()
            .all(|v| *v == Verdict::Forward)
    );
}

/// Every name of FORWARD and PASS and the extra ones, with several types: the verdicts.
fn engine_verdicts(engine: &Engine, extra: &[&[u8]]) -> (u64, Vec<Verdict>) {
    let mut verdicts = Vec::with_capacity(512);
    let n = allocations_during(|| {
        for name in FORWARD.iter().chain(PASS.iter()).chain(extra) {
            for qtype in [1u16, 2, 6, 16, 28, 255] {
                verdicts.push(engine.classify(std::hint::black_box(name), qtype, 1, 1_000));
            }
        }
        verdicts.push(engine.classify(b"_acme-challenge.example.com.", 16, 3, 1_000));
    });
    (n, verdicts)
}

const EXTRA: [&[u8]; 6] = [
    b"example.com.",       // rule 2 for SOA/NS
    b"x.auth.example.io",  // rule 4 (delegated)
    b"example.io",         // rule 2 (ancestor of a delegated zone)
    b"t.acme.example.io.", // learned CNAME target
    b"ns1.example.com",    // learned NS host
    b"www.example.com",    // learned ancestor
];

#[test]
fn engine_classify_allocates_nothing_with_nothing_learned() {
    let engine = Engine::new(config());
    assert_eq!(engine.learned_len(), 0);
    let (n, verdicts) = engine_verdicts(&engine, &EXTRA);
    assert_eq!(n, 0, "Engine::classify allocated");
    assert!(verdicts.contains(&Verdict::Forward));
    assert!(verdicts.contains(&Verdict::Pass));
}

#[test]
fn engine_classify_allocates_nothing_with_a_learned_state() {
    let engine = Engine::new(config());
    learn_something(&engine);
    let (n, verdicts) = engine_verdicts(&engine, &EXTRA);
    assert_eq!(n, 0, "Engine::classify allocated");
    // The learned names are forwarded now (checked outside the counted section).
    let per_name = 6;
    let at = |i: usize, t: usize| verdicts[(FORWARD.len() + PASS.len() + i) * per_name + t];
    assert_eq!(at(3, 3), Verdict::Forward, "CNAME target TXT");
    assert_eq!(at(4, 0), Verdict::Forward, "NS host A");
    assert_eq!(at(5, 2), Verdict::Forward, "ancestor SOA");
    assert_eq!(at(5, 0), Verdict::Pass, "ancestor A");
}
