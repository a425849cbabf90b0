//! Hairpin through the C ABI: line validation, classify, static and internal answers.

use std::ptr::null_mut;

use crate::*;

use crate::testutil::*;
use afwd_action_kind::*;
use afwd_result::*;
use afwd_verdict::*;

// ---- hairpin --------------------------------------------------------------------------------

/// An engine with ZONE, UPSTREAM, HAIRPIN_IP and HAIRPIN_NAME, and the given max_ttl.
fn hairpin_engine(max_ttl: u32) -> *mut afwd_engine {
    let b = builder();
    let mut c = null_mut();
    let mut e = null_mut();
    // SAFETY: `b` and `c` are live; the slices and the out-pointers are valid for the calls.
    unsafe {
        for (r, what) in [
            (
                afwd_config_builder_add_zone(b, ZONE.as_ptr(), ZONE.len()),
                "zone",
            ),
            (
                afwd_config_builder_add_upstream(b, UPSTREAM.as_ptr(), UPSTREAM.len()),
                "upstream",
            ),
            (afwd_config_builder_set_max_ttl(b, max_ttl), "max_ttl"),
            (
                afwd_config_builder_add_hairpin(b, HAIRPIN_IP.as_ptr(), HAIRPIN_IP.len()),
                "hairpin ip",
            ),
            (
                afwd_config_builder_add_hairpin(b, HAIRPIN_NAME.as_ptr(), HAIRPIN_NAME.len()),
                "hairpin name",
            ),
        ] {
            assert_eq!(r, AFWD_OK, "{what}");
        }
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
        assert_eq!(afwd_engine_new(c, &mut e), AFWD_OK);
        afwd_config_free(c);
    }
    assert!(!e.is_null());
    e
}

/// The A answers of a client reply: (TTL, address).
fn a_answers(reply: &[u8]) -> Vec<(u32, [u8; 4])> {
    let mut at = question_end(reply);
    let count = u16::from_be_bytes([reply[6], reply[7]]);
    let mut out = Vec::new();
    for _ in 0..count {
        // Owner: the compression pointer to the client's question name.
        assert_eq!(&reply[at..at + 2], &[0xc0, 12]);
        assert_eq!(&reply[at + 2..at + 4], &A.to_be_bytes());
        let ttl = u32::from_be_bytes(reply[at + 6..at + 10].try_into().unwrap());
        assert_eq!(&reply[at + 10..at + 12], &[0, 4]);
        out.push((ttl, reply[at + 12..at + 16].try_into().unwrap()));
        at += 16;
    }
    out
}

#[test]
fn hairpin_lines_are_validated() {
    let b = builder();
    let cases: [(&[u8], afwd_result); 14] = [
        (HAIRPIN_IP, AFWD_OK),
        (HAIRPIN_NAME, AFWD_OK),
        (b"", AFWD_ERR_HAIRPIN_MISSING_TARGET),
        (b"only.example.com", AFWD_ERR_HAIRPIN_MISSING_TARGET),
        (b"10.0.0.1 10.0.0.2", AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS),
        (b"foo.*.example.com 10.0.0.1", AFWD_ERR_HAIRPIN_BAD_WILDCARD),
        (
            b"new.example.com bad..target",
            AFWD_ERR_HAIRPIN_TARGET_INVALID,
        ),
        (
            b"WWW.Example.COM. 10.0.0.2",
            AFWD_ERR_HAIRPIN_DUPLICATE_NAME,
        ),
        (b"a..example.com 10.0.0.1", AFWD_ERR_NAME_EMPTY_LABEL),
        (
            b"new.example.com 10.1.2.3:443",
            AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME,
        ),
        (
            b"new.example.com 010.001.002.003",
            AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME,
        ),
        (
            b"new.example.com [2001:db8::5] 10.0.0.1",
            AFWD_ERR_HAIRPIN_NAME_NOT_HOST_NAME,
        ),
        (
            b"api.svc.cluster.local 10.0.0.1",
            AFWD_ERR_HAIRPIN_PROTECTED,
        ),
        // A hairpin NAME and a protected zone: refused by whichever call comes second.
        (b"db.corp.example 10.0.0.1", AFWD_OK),
    ];
    // SAFETY: live builder; the slices are valid for their lengths.
    unsafe {
        for (line, want) in cases {
            assert_eq!(
                afwd_config_builder_add_hairpin(b, line.as_ptr(), line.len()),
                want,
                "{}",
                String::from_utf8_lossy(line)
            );
            if want != AFWD_OK {
                assert_eq!(text(want.into()), want.message());
            }
        }
        let zone = b"corp.example";
        assert_eq!(
            afwd_config_builder_add_protected(b, zone.as_ptr(), zone.len()),
            AFWD_ERR_HAIRPIN_PROTECTED
        );
        afwd_config_builder_free(b);
    }
}

#[test]
fn hairpin_classify_and_static_answer() {
    let e = hairpin_engine(30);
    // SAFETY: live handles; all slices and buffers are valid for their lengths.
    unsafe {
        let classify = |name: &[u8], qtype| {
            afwd_engine_classify(
                e,
                name.as_ptr(),
                name.len(),
                qtype,
                IN,
                NOW,
                crate::AFWD_NO_PASS_FILTER,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(classify(b"WWW.example.com.", A), AFWD_VERDICT_HAIRPIN);
        assert_eq!(classify(b"x.apps.example.com", AAAA), AFWD_VERDICT_HAIRPIN);
        assert_eq!(classify(b"svc.example.com", A), AFWD_VERDICT_HAIRPIN);
        assert_eq!(classify(b"www.example.com", TXT), AFWD_VERDICT_PASS);
        assert_eq!(classify(b"apps.example.com", A), AFWD_VERDICT_PASS);
        assert_eq!(classify(QNAME, A), AFWD_VERDICT_FORWARD, "challenges first");

        // An IP target: the first poll is the answer, TTL max_ttl.
        let x = exchange_for(e, 0x7a7a, b"WwW.Example.com", A);
        let (a, out) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_ANSWER);
        assert_eq!(a.fail_reason, AFWD_OK);
        assert_eq!(&out[..4], &[0x7a, 0x7a, 0x81, 0x80], "ID, QR RD RA");
        assert_eq!(&out[12..12 + 17], &wire_name(b"WwW.Example.com")[..]);
        assert_eq!(a_answers(&out), vec![(30, [10, 96, 0, 80])]);
        check_out_buffer(&out, poll_into(x, a));
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_ERR_EXCHANGE_DONE);
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

#[test]
fn hairpin_name_target_internal_lookup() {
    let e = hairpin_engine(60);
    // SAFETY: live handles; all slices and buffers are valid for their lengths.
    unsafe {
        let x = exchange_for(e, 0x3c3c, b"Svc.Example.COM", A);
        let (a, q) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_INTERNAL);
        assert_eq!(a.server_ip, [0; 16]);
        assert_eq!(a.server_port, 0);
        assert!(!a.tcp);
        assert_eq!(a.fail_reason, AFWD_OK);
        assert_eq!(a.len, q.len());
        // The target's A, lower case, RD.
        assert_ne!(q[2] & 0x01, 0);
        let name_end = 12 + INGRESS.len() + 1;
        assert_eq!(&q[12..name_end], &wire_name(INGRESS)[..]);
        assert_eq!(&q[name_end..name_end + 4], &[0, 1, 0, 1]);
        check_out_buffer(&q, poll_into(x, a));
        // The chain's answer: TTLs 300 (capped to 60) and 5.
        let reply = reply_with(
            &q,
            &[(A, 300, vec![10, 96, 0, 10]), (A, 5, vec![10, 96, 0, 11])],
        );
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()),
            AFWD_OK
        );
        let (a, out) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_ANSWER);
        assert_eq!(&out[..2], &0x3c3cu16.to_be_bytes());
        assert_eq!(&out[12..12 + 17], &wire_name(b"Svc.Example.COM")[..]);
        assert_eq!(
            a_answers(&out),
            vec![(60, [10, 96, 0, 10]), (5, [10, 96, 0, 11])]
        );
        assert_eq!(afwd_engine_learned_len(e), 0, "nothing learned");
        afwd_exchange_free(x);

        // No reply from the chain: FAIL.
        let x = exchange_for(e, 1, b"svc.example.com", AAAA);
        assert_eq!(poll(x).0.kind, AFWD_ACTION_INTERNAL);
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_OK);
        let (a, _) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_FAIL);
        assert_eq!(a.fail_reason, AFWD_ERR_HAIRPIN_TARGET_FAILED);
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_ERR_EXCHANGE_DONE);
        afwd_exchange_free(x);

        // NXDOMAIN: a valid reply, but FAIL (never a negative answer for the public name).
        let x = exchange_for(e, 2, b"svc.example.com", A);
        let mut nx = reply_with(&sent_internal(x), &[]);
        nx[3] |= 3;
        assert_eq!(
            afwd_exchange_reply(x, nx.as_ptr(), nx.len(), NOW, std::ptr::null_mut()),
            AFWD_OK
        );
        let (a, _) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_FAIL);
        assert_eq!(a.fail_reason, AFWD_ERR_HAIRPIN_TARGET_FAILED);
        afwd_exchange_free(x);

        // SERVFAIL: rejected, FAIL.
        let x = exchange_for(e, 3, b"svc.example.com", A);
        let mut sf = reply_with(&sent_internal(x), &[]);
        sf[3] |= 2;
        assert_eq!(
            afwd_exchange_reply(x, sf.as_ptr(), sf.len(), NOW, std::ptr::null_mut()),
            AFWD_ERR_REPLY_UPSTREAM_FAILURE
        );
        let (a, _) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_FAIL);
        assert_eq!(a.fail_reason, AFWD_ERR_HAIRPIN_TARGET_FAILED);
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

/// The query of the exchange's current INTERNAL.
fn sent_internal(x: *const afwd_exchange) -> Vec<u8> {
    let (action, bytes) = poll(x);
    assert_eq!(action.kind, AFWD_ACTION_INTERNAL);
    bytes
}

#[test]
fn hairpin_classify_does_not_allocate() {
    let e = hairpin_engine(30);
    let names: [&[u8]; 5] = [
        b"www.example.com",
        b"a.apps.example.com.",
        b"svc.example.com",
        b"other.example.com",
        QNAME,
    ];
    let before = alloc_count::on_this_thread();
    let mut hairpin = 0;
    // SAFETY: live engine; the names are valid for their lengths.
    unsafe {
        for name in names {
            for qtype in [A, AAAA, TXT] {
                if afwd_engine_classify(
                    e,
                    name.as_ptr(),
                    name.len(),
                    qtype,
                    IN,
                    NOW,
                    crate::AFWD_NO_PASS_FILTER,
                    std::ptr::null_mut(),
                ) == AFWD_VERDICT_HAIRPIN
                {
                    hairpin += 1;
                }
            }
        }
    }
    assert_eq!(
        alloc_count::on_this_thread(),
        before,
        "afwd_engine_classify allocated"
    );
    assert_eq!(hairpin, 6, "three names, A and AAAA");
    // SAFETY: no longer used.
    unsafe { afwd_engine_free(e) };
}
