//! The exchange's poll protocol: outputs into short buffers, failover, answers, and the
//! engine shared by threads.

use std::mem::MaybeUninit;
use std::ptr::null_mut;

use crate::*;

use crate::testutil::*;
use afwd_action_kind::*;
use afwd_result::*;
use afwd_verdict::*;

#[test]
fn poll_outputs_handle_short_buffers() {
    let e = engine();
    let x = exchange(e, 0xbeef);
    let (send, query) = poll(x);
    assert_eq!(send.kind, AFWD_ACTION_SEND);
    assert_eq!(send.len, query.len());
    check_out_buffer(&query, poll_into(x, send));
    let reply = reply_to(&query);
    // SAFETY: live handles; the slice is valid for its length.
    unsafe {
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()),
            AFWD_OK
        );
    }
    let (answer, out) = poll(x);
    assert_eq!(answer.kind, AFWD_ACTION_ANSWER);
    assert_eq!(&out[..2], &0xbeefu16.to_be_bytes(), "the client's ID");
    check_out_buffer(&out, poll_into(x, answer));
    // SAFETY: no longer used.
    unsafe {
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

// ---- the poll protocol ----------------------------------------------------------------------

#[test]
fn exchange_sends_fails_over_and_answers() {
    let e = engine();
    let x = exchange(e, 0x5151);
    // SAFETY: live handles; all slices are valid for their lengths.
    unsafe {
        // First upstream, UDP, RD set.
        let (a, q1) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_SEND);
        assert_eq!(a.server_ip, ipv4_mapped([127, 0, 0, 1]));
        assert_eq!(a.server_port, 5353);
        assert!(!a.tcp);
        assert_eq!(a.fail_reason, AFWD_OK);
        assert_ne!(q1[2] & 0x01, 0, "RD");
        // Polling again gives the same action.
        assert_eq!(poll(x), (a, q1.clone()));
        // A timeout: the second upstream.
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_OK);
        let (a, q2) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_SEND);
        assert_eq!(a.server_ip, ipv4_mapped([127, 0, 0, 2]));
        assert_eq!(a.server_port, 53);
        // A truncated UDP reply: the same upstream again, over TCP.
        let mut tc = reply_to(&q2);
        tc[2] |= 0x02;
        assert_eq!(
            afwd_exchange_reply(x, tc.as_ptr(), tc.len(), NOW, std::ptr::null_mut()),
            AFWD_TRUNCATED
        );
        let (a, q3) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_SEND);
        assert_eq!(a.server_ip, ipv4_mapped([127, 0, 0, 2]));
        assert!(a.tcp);
        let reply = reply_to(&q3);
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()),
            AFWD_OK
        );
        let (a, out) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_ANSWER);
        assert_eq!(a.len, out.len());
        assert_eq!(&out[..2], &0x5151u16.to_be_bytes());
        // Done: no more replies or failures are taken.
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()),
            AFWD_ERR_EXCHANGE_DONE
        );
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_ERR_EXCHANGE_DONE);
        assert_eq!(poll(x).0.kind, AFWD_ACTION_ANSWER);
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

#[test]
fn exchange_fails_after_the_last_upstream() {
    let e = engine();
    let x = exchange(e, 0x6161);
    // SAFETY: live handles; all slices are valid for their lengths.
    unsafe {
        // Another ID over UDP: dropped, the same try keeps waiting.
        let first = sent_query(x);
        let mut bad = reply_to(&first);
        bad[0] ^= 0xff;
        assert_eq!(
            afwd_exchange_reply(x, bad.as_ptr(), bad.len(), NOW, std::ptr::null_mut()),
            AFWD_ERR_REPLY_ID_MISMATCH
        );
        assert_eq!(sent_query(x), first);
        assert_eq!(afwd_exchange_failed(x, NOW), AFWD_OK);
        let mut servfail = reply_to(&sent_query(x));
        servfail[3] = (servfail[3] & 0xf0) | 2;
        assert_eq!(
            afwd_exchange_reply(
                x,
                servfail.as_ptr(),
                servfail.len(),
                NOW,
                std::ptr::null_mut()
            ),
            AFWD_ERR_REPLY_UPSTREAM_FAILURE
        );
        let (a, bytes) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_FAIL);
        assert_eq!(a.len, 0);
        assert!(bytes.is_empty());
        assert_eq!(a.fail_reason, AFWD_ERR_REPLY_UPSTREAM_FAILURE);
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_ERR_EXCHANGE_DONE);
        assert_eq!(
            afwd_exchange_reply(
                x,
                servfail.as_ptr(),
                servfail.len(),
                NOW,
                std::ptr::null_mut()
            ),
            AFWD_ERR_EXCHANGE_DONE
        );
        // FAIL writes nothing, so even a NULL buffer is fine.
        let mut action = MaybeUninit::<afwd_action>::uninit();
        assert_eq!(
            afwd_exchange_poll(x, null_mut(), 0, action.as_mut_ptr()),
            AFWD_OK
        );
        assert_eq!(action.assume_init().kind, AFWD_ACTION_FAIL);
        afwd_exchange_free(x);

        // Only timeouts: the reason is that no reply came.
        let x = exchange(e, 0x6262);
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_OK);
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_OK);
        let (a, _) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_FAIL);
        assert_eq!(a.fail_reason, AFWD_ERR_NO_REPLY);
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

#[test]
fn an_exchange_outlives_its_engine_until_the_reply() {
    let e = engine();
    let x = exchange(e, 0x7171);
    let q = sent_query(x);
    // SAFETY: the exchange owns nothing of the engine; the reply goes through another engine.
    unsafe {
        afwd_engine_free(e);
        let e2 = engine();
        let reply = reply_to(&q);
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()),
            AFWD_OK
        );
        assert_eq!(poll(x).0.kind, AFWD_ACTION_ANSWER);
        afwd_exchange_free(x);
        afwd_engine_free(e2);
    }
}

// ---- threads --------------------------------------------------------------------------------

#[test]
fn an_engine_is_shared_by_threads() {
    struct Shared(*const afwd_engine);
    // SAFETY: afwd_engine is documented (and asserted at compile time) to be Send + Sync.
    unsafe impl Sync for Shared {}
    let e = engine();
    let shared = Shared(e);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let shared = &shared;
                for i in 0..1000 {
                    // SAFETY: the engine is live until after the scope.
                    let v = unsafe {
                        afwd_engine_classify(
                            shared.0,
                            QNAME.as_ptr(),
                            QNAME.len(),
                            TXT,
                            IN,
                            i,
                            crate::AFWD_NO_PASS_FILTER,
                            std::ptr::null_mut(),
                        )
                    };
                    assert_eq!(v, AFWD_VERDICT_FORWARD);
                }
            });
        }
    });
    // SAFETY: no thread uses it any more.
    unsafe { afwd_engine_free(e) };
}

#[test]
fn tls_upstream_sends_say_tcp_for_a_udp_client() {
    let b = builder();
    let mut c = null_mut();
    let mut e = null_mut();
    let tls = b"[::1]:853";
    // SAFETY: live handles; all slices and out-pointers are valid for the calls.
    unsafe {
        assert_eq!(
            afwd_config_builder_add_zone(b, ZONE.as_ptr(), ZONE.len()),
            AFWD_OK
        );
        assert_eq!(
            afwd_config_builder_add_upstream_tls(b, tls.as_ptr(), tls.len()),
            AFWD_OK
        );
        assert_eq!(
            afwd_config_builder_add_upstream(b, UPSTREAM.as_ptr(), UPSTREAM.len()),
            AFWD_OK
        );
        let bad = b"tls://127.0.0.1";
        assert_eq!(
            afwd_config_builder_add_upstream_tls(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_ADDRESS_INVALID
        );
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
        assert_eq!(afwd_engine_new(c, &mut e), AFWD_OK);
        afwd_config_free(c);
        let x = exchange(e, 0x7171);
        let (a, _) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_SEND);
        let mut loopback6 = [0u8; 16];
        loopback6[15] = 1;
        assert_eq!((a.server_ip, a.server_port, a.tcp), (loopback6, 853, true));
        // The plain upstream after it: the client's UDP.
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_OK);
        let (a, _) = poll(x);
        assert_eq!(
            (a.server_ip, a.server_port, a.tcp),
            (ipv4_mapped([127, 0, 0, 1]), 5353, false)
        );
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

// ---- a query the core refuses -----------------------------------------------------------

#[test]
fn malformed_query_is_refused_then_answered_formerr() {
    let e = engine();
    // Two OPT records (RFC 6891 §6.1.1: FORMERR).
    let mut q = query(0x4a7d, b"_acme-challenge.www.example.com", TXT);
    q[11] = 2;
    for _ in 0..2 {
        q.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    let mut x = null_mut();
    // SAFETY: live engine; the slices are valid for their lengths; the outputs are writable.
    unsafe {
        let r = afwd_exchange_new(
            e,
            std::ptr::null(),
            q.as_ptr(),
            q.len(),
            false,
            1,
            NOW,
            &mut x,
        );
        assert_eq!(r, AFWD_ERR_QUERY_MALFORMED);
        assert!(x.is_null());
        let mut want = vec![0x4a, 0x7d, 0x81, 0x01, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(&q[12..question_end(&q)]);
        check_out_buffer(&want, |buf, len, n| {
            afwd_query_formerr(q.as_ptr(), q.len(), buf, len, n)
        });
        // No reply to a message that is no query, or whose question is cut.
        let mut n = 7;
        let mut buf = [0u8; 512];
        let mut response = q.clone();
        response[2] |= 0x80;
        for (bad, want) in [
            (&response[..], AFWD_ERR_QUERY_NOT_A_QUERY),
            (&q[..20], AFWD_ERR_QUERY_MALFORMED),
        ] {
            let r =
                afwd_query_formerr(bad.as_ptr(), bad.len(), buf.as_mut_ptr(), buf.len(), &mut n);
            assert_eq!((r, n), (want, 0));
        }
        // NULL arguments, and a panic.
        let (qp, ql, bp, bl) = (q.as_ptr(), q.len(), buf.as_mut_ptr(), buf.len());
        assert_eq!(
            afwd_query_formerr(qp, ql, bp, bl, null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_query_formerr(std::ptr::null(), ql, bp, bl, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_query_formerr(qp, ql, null_mut(), bl, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        n = 7;
        assert_eq!(
            with_injected_panic(|| afwd_query_formerr(qp, ql, bp, bl, &mut n)),
            AFWD_ERR_PANIC
        );
        assert_eq!(n, 7, "nothing written on a panic");
        afwd_engine_free(e);
    }
}
