//! What the unit tests of the C ABI share: they call the `extern "C"` functions as C would, on
//! hand-made queries and replies. The tests are split by concern (`*_tests.rs`); the DNS
//! behaviour itself is the core's (tested there and, end to end through the header, by
//! the C test in ffi/tests/).

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::ptr::{null, null_mut};

use crate::boundary::inject;
use crate::*;

use afwd_action_kind::*;
use afwd_result::*;
use afwd_upstream_mode::*;
use afwd_verdict::*;

pub(crate) const ZONE: &[u8] = b"example.com.";
pub(crate) const DELEGATED: &[u8] = b"auth.example.net.";
pub(crate) const UPSTREAM: &[u8] = b"127.0.0.1:5353";
pub(crate) const UPSTREAM2: &[u8] = b"127.0.0.2";
pub(crate) const QNAME: &[u8] = b"_acme-challenge.www.example.com.";
pub(crate) const TARGET: &[u8] = b"x.auth.example.org.";
pub(crate) const LABEL: &[u8] = b"_validation-persist";
pub(crate) const HAIRPIN_IP: &[u8] = b"www.example.com *.apps.example.com 10.96.0.80 fd00::80";
pub(crate) const HAIRPIN_NAME: &[u8] =
    b"svc.example.com ingress-nginx-controller.ingress-nginx.svc.cluster.local";
pub(crate) const INGRESS: &[u8] = b"ingress-nginx-controller.ingress-nginx.svc.cluster.local.";
pub(crate) const AAAA: u16 = 28;
pub(crate) const A: u16 = 1;
pub(crate) const CNAME: u16 = 5;
pub(crate) const TXT: u16 = 16;
pub(crate) const IN: u16 = 1;
pub(crate) const NOW: u64 = 1_000_000;

/// A DNS name in wire form (presentation form in, no escapes).
pub(crate) fn wire_name(name: &[u8]) -> Vec<u8> {
    let mut w = Vec::new();
    for label in name.split(|&b| b == b'.').filter(|l| !l.is_empty()) {
        w.push(u8::try_from(label.len()).unwrap());
        w.extend_from_slice(label);
    }
    w.push(0);
    w
}

/// A DNS query for `name`, RD set, no EDNS.
pub(crate) fn query(id: u16, name: &[u8], qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(&wire_name(name));
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&IN.to_be_bytes());
    q
}

/// The end of the question section of `msg`.
pub(crate) fn question_end(msg: &[u8]) -> usize {
    let mut end = 12;
    while msg[end] != 0 {
        end += 1 + usize::from(msg[end]);
    }
    end + 1 + 4
}

/// The upstream's reply to `upstream_query`: QR, RA and AA set, `answers` (owner: a compression
/// pointer to the question name; type; TTL; RDATA) inserted after the question; anything after
/// the question (the OPT record) is kept.
pub(crate) fn reply_with(upstream_query: &[u8], answers: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
    let end = question_end(upstream_query);
    let mut r = upstream_query[..end].to_vec();
    r[2] |= 0x80 | 0x04;
    r[3] |= 0x80;
    r[6..8].copy_from_slice(&u16::try_from(answers.len()).unwrap().to_be_bytes());
    for (rtype, ttl, rdata) in answers {
        r.extend_from_slice(&[0xc0, 12]);
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&IN.to_be_bytes());
        r.extend_from_slice(&ttl.to_be_bytes());
        r.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
        r.extend_from_slice(rdata);
    }
    r.extend_from_slice(&upstream_query[end..]);
    r
}

/// A reply with one TXT "token" answer on the question name.
pub(crate) fn reply_to(upstream_query: &[u8]) -> Vec<u8> {
    reply_with(upstream_query, &[(TXT, 3600, b"\x05token".to_vec())])
}

pub(crate) fn builder() -> *mut afwd_config_builder {
    let b = afwd_config_builder_new();
    assert!(!b.is_null());
    b
}

/// An engine with ZONE, UPSTREAM and UPSTREAM2, and the given upstream mode.
pub(crate) fn engine_with(mode: afwd_upstream_mode) -> *mut afwd_engine {
    let b = builder();
    let mut c = null_mut();
    let mut e = null_mut();
    // SAFETY: `b` and `c` are live; the slices and the out-pointers are valid for the calls.
    unsafe {
        assert_eq!(
            afwd_config_builder_add_zone(b, ZONE.as_ptr(), ZONE.len()),
            AFWD_OK
        );
        for u in [UPSTREAM, UPSTREAM2] {
            assert_eq!(
                afwd_config_builder_add_upstream(b, u.as_ptr(), u.len()),
                AFWD_OK
            );
        }
        assert_eq!(
            afwd_config_builder_set_upstream_mode(b, mode.into()),
            AFWD_OK
        );
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
        assert!(!c.is_null());
        assert_eq!(afwd_engine_new(c, &mut e), AFWD_OK);
        // The engine keeps its own copy.
        afwd_config_free(c);
    }
    assert!(!e.is_null());
    e
}

pub(crate) fn engine() -> *mut afwd_engine {
    engine_with(AFWD_UPSTREAM_RECURSIVE)
}

/// A config with ZONE and UPSTREAM.
pub(crate) fn config() -> *mut afwd_config {
    let b = builder();
    let mut c = null_mut();
    // SAFETY: `b` is live; the slices and the out-pointer are valid for the calls.
    unsafe {
        assert_eq!(
            afwd_config_builder_add_zone(b, ZONE.as_ptr(), ZONE.len()),
            AFWD_OK
        );
        assert_eq!(
            afwd_config_builder_add_upstream(b, UPSTREAM.as_ptr(), UPSTREAM.len()),
            AFWD_OK
        );
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
    }
    assert!(!c.is_null());
    c
}

/// An exchange for a `qtype` query on `name` with client ID `id`, over UDP: with the
/// classification of the question when the engine forwards it or answers it as a hairpin (as a
/// caller does), else without one (the exchange classifies it itself).
pub(crate) fn exchange_for(
    e: *const afwd_engine,
    id: u16,
    name: &[u8],
    qtype: u16,
) -> *mut afwd_exchange {
    let q = query(id, name, qtype);
    let mut x = null_mut();
    let mut c = afwd_classification::none(afwd_verdict::AFWD_VERDICT_PASS);
    // SAFETY: `e` is live; the name and the out-pointer are valid for the call.
    let verdict = unsafe {
        afwd_engine_classify(
            e,
            name.as_ptr(),
            name.len(),
            qtype,
            1,
            NOW,
            AFWD_NO_PASS_FILTER,
            &mut c,
        )
    };
    let classification: *const afwd_classification = match verdict {
        afwd_verdict::AFWD_VERDICT_FORWARD | afwd_verdict::AFWD_VERDICT_HAIRPIN => &c,
        _ => std::ptr::null(),
    };
    // SAFETY: `e` is live; the classification, the slice and the out-pointer are valid for the
    // call.
    let r = unsafe {
        afwd_exchange_new(
            e,
            classification,
            q.as_ptr(),
            q.len(),
            false,
            0x0123_4567_89ab_cdef,
            NOW,
            &mut x,
        )
    };
    assert_eq!(r, AFWD_OK);
    assert!(!x.is_null());
    x
}

/// An exchange for a TXT query on QNAME with client ID `id`.
pub(crate) fn exchange(e: *const afwd_engine, id: u16) -> *mut afwd_exchange {
    exchange_for(e, id, QNAME, TXT)
}

/// Answers the pending INTERNAL (the question about a CNAME target) NXDOMAIN: the internal view
/// does not know the name, so the target is learned. `state_out` as for `afwd_exchange_reply`.
pub(crate) fn internal_nxdomain(x: *mut afwd_exchange, state_out: *mut afwd_engine_state) {
    let (action, q) = poll(x);
    assert_eq!(action.kind, afwd_action_kind::AFWD_ACTION_INTERNAL);
    let mut r = reply_with(&q, &[]);
    r[3] |= 3;
    // SAFETY: a live exchange; the slice is valid for its length, `state_out` NULL or writable.
    unsafe {
        assert_eq!(
            afwd_exchange_reply(x, r.as_ptr(), r.len(), NOW, state_out),
            afwd_result::AFWD_OK
        )
    };
}

/// Polls `x` with a big buffer: the action and its bytes.
pub(crate) fn poll(x: *const afwd_exchange) -> (afwd_action, Vec<u8>) {
    let mut buf = vec![0u8; 65535];
    let mut action = MaybeUninit::<afwd_action>::uninit();
    // SAFETY: `x` is live; `buf` has `buf.len()` writable bytes; `action` is writable storage.
    let r = unsafe { afwd_exchange_poll(x, buf.as_mut_ptr(), buf.len(), action.as_mut_ptr()) };
    assert_eq!(r, AFWD_OK);
    // SAFETY: on AFWD_OK the action was written.
    let action = unsafe { action.assume_init() };
    buf.truncate(action.len);
    (action, buf)
}

/// The query of the exchange's current SEND.
pub(crate) fn sent_query(x: *const afwd_exchange) -> Vec<u8> {
    let (action, bytes) = poll(x);
    assert_eq!(action.kind, AFWD_ACTION_SEND);
    bytes
}

pub(crate) fn ipv4_mapped(ip: [u8; 4]) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[10] = 0xff;
    m[11] = 0xff;
    m[12..].copy_from_slice(&ip);
    m
}

pub(crate) fn text(r: ResultCode) -> &'static str {
    let p = afwd_result_text(r);
    assert!(!p.is_null());
    // SAFETY: afwd_result_text returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap()
}

// ---- panic boundary -------------------------------------------------------------------------

/// Runs `call` with a panic armed for the first boundary it enters, and checks that it did
/// enter one (so the injected panic really went through that function's boundary).
pub(crate) fn with_injected_panic<T>(call: impl FnOnce() -> T) -> T {
    inject::arm();
    let out = call();
    assert!(!inject::armed(), "the call did not enter an ffi_boundary");
    out
}

// ---- output buffers -------------------------------------------------------------------------

/// Checks the short-buffer protocol of one output function: `call(buf, buf_len, out_n)` must
/// want exactly `expected.len()` bytes, write nothing when short, and write `expected` when the
/// buffer is exactly long enough.
pub(crate) fn check_out_buffer(
    expected: &[u8],
    call: impl Fn(*mut u8, usize, *mut usize) -> afwd_result,
) {
    assert!(!expected.is_empty());
    let need = expected.len();
    let mut n = usize::MAX;
    // NULL with length 0 asks for the length.
    assert_eq!(call(null_mut(), 0, &mut n), AFWD_ERR_BUFFER_TOO_SHORT);
    assert_eq!(n, need);
    // One byte short: nothing written.
    let mut buf = vec![0xAA; need + 8];
    n = 0;
    assert_eq!(
        call(buf.as_mut_ptr(), need - 1, &mut n),
        AFWD_ERR_BUFFER_TOO_SHORT
    );
    assert_eq!(n, need);
    assert!(
        buf.iter().all(|&b| b == 0xAA),
        "a short buffer was written to"
    );
    // Exactly long enough: written, and not a byte more.
    n = 0;
    assert_eq!(call(buf.as_mut_ptr(), need, &mut n), AFWD_OK);
    assert_eq!(n, need);
    assert_eq!(&buf[..need], expected);
    assert!(
        buf[need..].iter().all(|&b| b == 0xAA),
        "written past *out_n"
    );
}

/// `afwd_exchange_poll` through the `check_out_buffer` protocol: `*out_n` is `action.len`, and
/// the rest of the action is `want` whatever the buffer.
pub(crate) fn poll_into(
    x: *const afwd_exchange,
    want: afwd_action,
) -> impl Fn(*mut u8, usize, *mut usize) -> afwd_result {
    move |buf, len, n| {
        let mut action = MaybeUninit::<afwd_action>::uninit();
        // SAFETY: `x` is live; `buf` is NULL with 0 or valid for `len`; `n` is writable.
        unsafe {
            let r = afwd_exchange_poll(x, buf, len, action.as_mut_ptr());
            let action = action.assume_init();
            *n = action.len;
            assert_eq!(
                afwd_action {
                    len: want.len,
                    ..action
                },
                want
            );
            r
        }
    }
}

// ---- the hot path ---------------------------------------------------------------------------

/// Counts the allocations made on each thread (the test binary's global allocator).
pub(crate) mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    }

    struct Counting;

    // SAFETY: every operation is the system allocator's; the counting is on the side.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // try_with: the thread-local may already be gone while a thread shuts down.
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            // SAFETY: forwarded from the caller.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded from the caller.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            // SAFETY: forwarded from the caller.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// Allocations made on this thread so far.
    pub(crate) fn on_this_thread() -> u64 {
        ALLOCATIONS.with(Cell::get)
    }
}

/// Classifies `names` (TXT, IN) on `e` and checks that no call allocated; returns how many
/// were forwarded.
pub(crate) fn classify_without_allocating(e: *const afwd_engine, names: &[&[u8]]) -> usize {
    // The counter itself sees allocations.
    let before = alloc_count::on_this_thread();
    drop(std::hint::black_box(vec![1u8; 16]));
    assert_eq!(alloc_count::on_this_thread(), before + 1);

    let before = alloc_count::on_this_thread();
    let mut forwarded = 0;
    // SAFETY: `e` is live and every name valid for its length; the NULL pointers go with
    // length 0, or test the error paths.
    unsafe {
        for name in names {
            for qtype in [TXT, A] {
                let v = afwd_engine_classify(
                    e,
                    name.as_ptr(),
                    name.len(),
                    qtype,
                    IN,
                    NOW,
                    crate::AFWD_NO_PASS_FILTER,
                    std::ptr::null_mut(),
                );
                if qtype == TXT && v == AFWD_VERDICT_FORWARD {
                    forwarded += 1;
                }
            }
        }
        assert_eq!(
            afwd_engine_classify(
                e,
                null(),
                0,
                TXT,
                IN,
                NOW,
                crate::AFWD_NO_PASS_FILTER,
                std::ptr::null_mut()
            ),
            AFWD_VERDICT_PASS
        );
        assert_eq!(
            afwd_engine_classify(
                null(),
                QNAME.as_ptr(),
                QNAME.len(),
                TXT,
                IN,
                NOW,
                crate::AFWD_NO_PASS_FILTER,
                std::ptr::null_mut()
            ),
            AFWD_VERDICT_ERROR
        );
        assert_eq!(
            afwd_engine_classify(
                e,
                null(),
                9,
                TXT,
                IN,
                NOW,
                crate::AFWD_NO_PASS_FILTER,
                std::ptr::null_mut()
            ),
            AFWD_VERDICT_ERROR
        );
        std::hint::black_box(afwd_engine_learned_len(e));
    }
    assert_eq!(
        alloc_count::on_this_thread(),
        before,
        "afwd_engine_classify allocated"
    );
    forwarded
}
