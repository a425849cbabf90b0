//! Unit tests of the C ABI's rules on public data and the prefetch, called as C would: the
//! `protect` and `allow_ns` setters, the refusal counters, and a prefetch driven to completion.

use std::ffi::CStr;
use std::ptr::{self, null, null_mut};

use crate::testutil::{AAAA, builder, query, question_end, wire_name, with_injected_panic};
use crate::*;

use afwd_prefetch_action_kind::*;
use afwd_result::*;
use afwd_verdict::*;

const A: u16 = 1;
const NS: u16 = 2;
const IN: u16 = 1;

/// An engine for `zone` (recursive mode, upstream 127.0.0.1:5353) with `protect` zones.
fn engine(zone: &[u8], protect: &[&[u8]]) -> *mut afwd_engine {
    let b = builder();
    let mut c = null_mut();
    let mut e = null_mut();
    let up = b"127.0.0.1:5353";
    // SAFETY: `b` and `c` are live; the slices and out-pointers are valid for the calls.
    unsafe {
        assert_eq!(
            afwd_config_builder_add_zone(b, zone.as_ptr(), zone.len()),
            AFWD_OK
        );
        assert_eq!(
            afwd_config_builder_add_upstream(b, up.as_ptr(), up.len()),
            AFWD_OK
        );
        for p in protect {
            assert_eq!(
                afwd_config_builder_add_protected(b, p.as_ptr(), p.len()),
                AFWD_OK
            );
        }
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
        assert_eq!(afwd_engine_new(c, &mut e), AFWD_OK);
        afwd_config_free(c);
    }
    assert!(!e.is_null());
    e
}

/// An action to be overwritten by a poll.
fn blank() -> afwd_prefetch_action {
    afwd_prefetch_action {
        kind: AFWD_PREFETCH_SEND,
        server_ip: [9; 16],
        server_port: 9,
        tcp: true,
        len: 9,
        until_ms: 9,
    }
}

fn label(reason: usize) -> &'static str {
    // SAFETY: afwd_refusal_label returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(afwd_refusal_label(reason)) }
        .to_str()
        .unwrap_or_default()
}

#[test]
fn protect_and_allow_ns_are_validated() {
    let b = builder();
    // SAFETY: `b` is live; the slices are valid for the calls.
    unsafe {
        for (arg, want) in [
            (&b"corp.internal"[..], AFWD_OK),
            (b".", AFWD_ERR_PROTECTED_ROOT),
            (b"a..b", AFWD_ERR_NAME_EMPTY_LABEL),
        ] {
            assert_eq!(
                afwd_config_builder_add_protected(b, arg.as_ptr(), arg.len()),
                want
            );
        }
        for (arg, want) in [
            (&b"127.0.0.0/8"[..], AFWD_OK),
            (b"fd00::/8", AFWD_OK),
            (b"192.0.2.1", AFWD_OK),
            (b"10.0.0.0/33", AFWD_ERR_NET_INVALID),
            (b"ns1.example.com", AFWD_ERR_NET_INVALID),
            (b"", AFWD_ERR_NET_INVALID),
        ] {
            assert_eq!(
                afwd_config_builder_add_allow_ns(b, arg.as_ptr(), arg.len()),
                want
            );
        }
        assert_eq!(
            afwd_config_builder_add_protected(null_mut(), b"x".as_ptr(), 1),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_allow_ns(b, null(), 3),
            AFWD_ERR_NULL_ARGUMENT
        );
        // A listed or delegated zone inside a protected one is refused.
        let z = b"db.corp.internal";
        assert_eq!(
            afwd_config_builder_add_zone(b, z.as_ptr(), z.len()),
            AFWD_ERR_ZONE_PROTECTED
        );
        assert_eq!(
            afwd_config_builder_add_delegated(b, z.as_ptr(), z.len()),
            AFWD_ERR_DELEGATED_PROTECTED
        );
        let up = b"192.0.2.53";
        assert_eq!(
            afwd_config_builder_add_upstream(b, up.as_ptr(), up.len()),
            AFWD_OK
        );
        let mut c = null_mut();
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_free(c);
        afwd_config_builder_free(b);
    }
}

#[test]
fn protected_names_pass_and_refusals_are_counted() {
    let e = engine(b".", &[b"corp.internal"]);
    // SAFETY: `e` is live; the names are valid for the calls.
    unsafe {
        for name in [
            &b"_acme-challenge.svc.cluster.local."[..],
            b"_acme-challenge.db.corp.internal.",
        ] {
            assert_eq!(
                afwd_engine_classify(
                    e,
                    name.as_ptr(),
                    name.len(),
                    16,
                    IN,
                    0,
                    crate::AFWD_NO_PASS_FILTER,
                    std::ptr::null_mut()
                ),
                AFWD_VERDICT_PASS
            );
        }
        // A forwarded challenge whose reply names a protected CNAME target.
        let q = query(0x4242, b"_acme-challenge.attacker.net.", 16);
        let mut x = null_mut();
        assert_eq!(
            afwd_exchange_new(
                e,
                std::ptr::null(),
                q.as_ptr(),
                q.len(),
                false,
                9,
                0,
                &mut x
            ),
            AFWD_OK
        );
        let mut buf = vec![0u8; 65535];
        let mut action = afwd_action {
            kind: afwd_action_kind::AFWD_ACTION_FAIL,
            server_ip: [0; 16],
            server_port: 0,
            tcp: false,
            len: 0,
            fail_reason: AFWD_OK,
            deadline_ms: 0,
        };
        assert_eq!(
            afwd_exchange_poll(x, buf.as_mut_ptr(), buf.len(), &mut action),
            AFWD_OK
        );
        let sent = buf[..action.len].to_vec();
        let end = question_end(&sent);
        let mut r = sent[..end].to_vec();
        r[2] |= 0x80;
        r[3] |= 0x80;
        r[6..8].copy_from_slice(&1u16.to_be_bytes());
        // The upstream query's OPT record is not echoed.
        r[10..12].copy_from_slice(&0u16.to_be_bytes());
        let target = wire_name(b"ingress.svc.cluster.local.");
        r.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 0]);
        r.extend_from_slice(&u16::try_from(target.len()).unwrap_or(0).to_be_bytes());
        r.extend_from_slice(&target);
        assert_eq!(
            afwd_exchange_reply(x, r.as_ptr(), r.len(), 0, std::ptr::null_mut()),
            AFWD_OK
        );
        assert_eq!(
            afwd_exchange_poll(x, buf.as_mut_ptr(), buf.len(), &mut action),
            AFWD_OK
        );
        assert_eq!(action.kind, afwd_action_kind::AFWD_ACTION_ANSWER);
        afwd_exchange_free(x);
        let protected = afwd_refusal::AFWD_REFUSAL_PROTECTED as usize;
        assert_eq!(afwd_engine_refused(e, protected), 1);
        for reason in 0..AFWD_REFUSAL_COUNT {
            if reason != protected {
                assert_eq!(afwd_engine_refused(e, reason), 0, "{}", label(reason));
            }
        }
        assert_eq!(afwd_engine_refused(e, AFWD_REFUSAL_COUNT), 0);
        assert_eq!(afwd_engine_refused(null(), protected), 0);
        afwd_engine_free(e);
    }
    let labels: Vec<&str> = (0..=AFWD_REFUSAL_COUNT).map(label).collect();
    assert_eq!(
        labels,
        [
            "protected",
            "out_of_bailiwick",
            "internal_name",
            "internal_lookup_failed",
            "address_policy",
            "limit",
            "unknown"
        ]
    );
}

#[test]
fn prefetch_runs_to_a_sleep_and_makes_the_hosts_forwardable() {
    let e = engine(b"example.com.", &[]);
    let mut p = ptr::dangling_mut::<afwd_prefetch>();
    // SAFETY: `e` and `p` are live; the buffers are valid for the calls.
    unsafe {
        assert_eq!(afwd_prefetch_new(e, 7, &mut p), AFWD_OK);
        assert!(!p.is_null());
        assert!(!afwd_prefetch_ready(p));
        let mut action = blank();
        // Asking for the length first, then the query.
        assert_eq!(
            afwd_prefetch_poll(p, e, 100, null_mut(), 0, &mut action),
            AFWD_ERR_BUFFER_TOO_SHORT
        );
        let mut buf = vec![0u8; action.len];
        assert_eq!(
            afwd_prefetch_poll(p, e, 100, buf.as_mut_ptr(), buf.len(), &mut action),
            AFWD_OK
        );
        assert_eq!(action.kind, AFWD_PREFETCH_SEND);
        assert_eq!(action.server_port, 5353);
        assert!(!action.tcp);
        assert_eq!(action.until_ms, 100 + 2_000, "the deadline is the core's");
        let sent = buf[..action.len].to_vec();
        let end = question_end(&sent);
        assert_eq!(&sent[end - 4..end - 2], &NS.to_be_bytes());
        // NS example.com: ns1.example.com.
        let mut r = sent[..end].to_vec();
        r[2] |= 0x80;
        r[3] |= 0x80;
        r[6..8].copy_from_slice(&1u16.to_be_bytes());
        // The upstream query's OPT record is not echoed.
        r[10..12].copy_from_slice(&0u16.to_be_bytes());
        let host = wire_name(b"ns1.example.com.");
        r.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 0x0e, 0x10]);
        r.extend_from_slice(&u16::try_from(host.len()).unwrap_or(0).to_be_bytes());
        r.extend_from_slice(&host);
        assert_eq!(afwd_prefetch_reply(p, e, r.as_ptr(), r.len(), 150), AFWD_OK);
        // The internal view is asked the host's A, then its AAAA; it knows neither.
        let mut buf = vec![0u8; 512];
        let mut asked = Vec::new();
        loop {
            assert_eq!(
                afwd_prefetch_poll(p, e, 150, buf.as_mut_ptr(), buf.len(), &mut action),
                AFWD_OK
            );
            if action.kind != AFWD_PREFETCH_INTERNAL {
                break;
            }
            assert_eq!(action.until_ms, 150 + 2_000);
            let q = buf[..action.len].to_vec();
            let end = question_end(&q);
            asked.push(u16::from_be_bytes([q[end - 4], q[end - 3]]));
            let mut nx = q[..end].to_vec();
            nx[2] |= 0x80;
            nx[3] = (nx[3] & 0xf0) | 0x80 | 3;
            nx[10..12].copy_from_slice(&0u16.to_be_bytes());
            assert_eq!(
                afwd_prefetch_reply(p, e, nx.as_ptr(), nx.len(), 150),
                AFWD_OK
            );
        }
        assert_eq!(asked, [A, AAAA]);
        assert_eq!(action.kind, AFWD_PREFETCH_SLEEP);
        assert!(action.until_ms > 150 && action.until_ms < u64::MAX);
        assert!(afwd_prefetch_ready(p));
        let name = b"ns1.example.com.";
        assert_eq!(
            afwd_engine_classify(
                e,
                name.as_ptr(),
                name.len(),
                A,
                IN,
                200,
                crate::AFWD_NO_PASS_FILTER,
                std::ptr::null_mut()
            ),
            AFWD_VERDICT_FORWARD
        );
        // A reply when none is awaited, a failure, NULLs.
        assert_eq!(
            afwd_prefetch_reply(p, e, r.as_ptr(), r.len(), 150),
            AFWD_ERR_EXCHANGE_DONE
        );
        assert_eq!(afwd_prefetch_failed(p, 0), AFWD_OK);
        assert_eq!(afwd_prefetch_failed(null_mut(), 0), AFWD_ERR_NULL_ARGUMENT);
        assert_eq!(
            afwd_prefetch_poll(p, null(), 0, null_mut(), 0, &mut action),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_prefetch_reply(p, e, null(), 5, 0),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert!(!afwd_prefetch_ready(null()));
        afwd_prefetch_free(p);
        afwd_prefetch_free(null_mut());
        // Nothing to prefetch: sleeps forever, ready at once.
        let none = engine(b".", &[]);
        let mut p = null_mut();
        assert_eq!(afwd_prefetch_new(none, 1, &mut p), AFWD_OK);
        assert_eq!(
            afwd_prefetch_poll(p, none, 0, null_mut(), 0, &mut action),
            AFWD_OK
        );
        assert_eq!(
            (action.kind, action.until_ms),
            (AFWD_PREFETCH_SLEEP, u64::MAX)
        );
        assert!(afwd_prefetch_ready(p));
        afwd_prefetch_free(p);
        afwd_engine_free(none);
        let mut out = ptr::dangling_mut::<afwd_prefetch>();
        assert_eq!(
            afwd_prefetch_new(null(), 1, &mut out),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert!(out.is_null());
        afwd_engine_free(e);
    }
}

#[test]
fn new_entry_points_turn_a_panic_into_their_error_value() {
    let e = engine(b"example.com.", &[]);
    let b = builder();
    let mut p = null_mut();
    // SAFETY: all handles are live and all buffers valid; the injected panic fires before the
    // body touches any of them.
    unsafe {
        assert_eq!(afwd_prefetch_new(e, 1, &mut p), AFWD_OK);
        let z = b"corp.internal";
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_add_protected(b, z.as_ptr(), z.len())),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_add_allow_ns(b, z.as_ptr(), z.len())),
            AFWD_ERR_PANIC
        );
        assert_eq!(with_injected_panic(|| afwd_engine_refused(e, 0)), 0);
        assert_eq!(
            with_injected_panic(|| afwd_refusal_label(0)),
            crate::result::PANIC_TEXT.as_ptr()
        );
        let mut out = ptr::dangling_mut::<afwd_prefetch>();
        assert_eq!(
            with_injected_panic(|| afwd_prefetch_new(e, 1, &mut out)),
            AFWD_ERR_PANIC
        );
        assert_eq!(out, ptr::dangling_mut());
        let mut action = blank();
        assert_eq!(
            with_injected_panic(|| afwd_prefetch_poll(p, e, 0, null_mut(), 0, &mut action)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_prefetch_reply(p, e, null(), 0, 0)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_prefetch_failed(p, 0)),
            AFWD_ERR_PANIC
        );
        assert!(!with_injected_panic(|| afwd_prefetch_ready(p)));
        with_injected_panic(|| afwd_prefetch_free(null_mut()));
        // Intact afterwards.
        assert!(!afwd_prefetch_ready(p));
        assert_eq!(
            afwd_prefetch_poll(p, e, 0, null_mut(), 0, &mut action),
            AFWD_ERR_BUFFER_TOO_SHORT
        );
        afwd_prefetch_free(p);
        afwd_config_builder_free(b);
        afwd_engine_free(e);
    }
}
