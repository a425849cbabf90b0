//! `Config::classify` is the per-query hot path: it must not allocate, for names that pass and for
//! names that are forwarded alike. A counting global allocator proves it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use acmeforward::{ConfigBuilder, Verdict};

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

#[test]
fn classify_allocates_nothing() {
    let mut builder = ConfigBuilder::new();
    builder
        .zone("example.com")
        .and_then(|b| b.zone("example.net"))
        .and_then(|b| b.zone(r"odd\.zone.example.org"))
        .and_then(|b| b.upstream("192.0.2.53"))
        .expect("builder");
    let config = builder.build().expect("config");

    let forward: [&[u8]; 5] = [
        b"_acme-challenge.example.com.",
        b"_ACME-Challenge.www.Example.NET",
        br"\095acme-challenge.a.b.example.com.",
        br"_acme-challenge.odd\.zone.example.org.",
        br"\_acme\-challenge.example.com",
    ];
    let pass: [&[u8]; 9] = [
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
    let mut verdicts = Vec::with_capacity(forward.len() + pass.len() + 1);
    let n = allocations_during(|| {
        for name in forward.iter().chain(pass.iter()) {
            verdicts.push(config.classify(std::hint::black_box(name), 16, 1));
        }
        // Wrong class takes the earliest exit.
        verdicts.push(config.classify(b"_acme-challenge.example.com.", 16, 3));
    });
    assert_eq!(n, 0, "classify allocated");
    let forwarded = verdicts.iter().filter(|v| **v == Verdict::Forward).count();
    assert_eq!(forwarded, forward.len());
    assert!(
        verdicts[..forward.len()]
            .iter()
            .all(|v| *v == Verdict::Forward)
    );
}
