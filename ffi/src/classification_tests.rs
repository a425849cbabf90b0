//! Classify once: the classification starts the exchange (and nothing else does), the pass
//! filter the caller applied is not applied again, the exchange co-owns its engine, and the
//! reply call reports the engine's state.

use std::ptr::{null, null_mut};

use crate::*;

use crate::testutil::*;
use afwd_action_kind::*;
use afwd_result::*;
use afwd_verdict::*;

/// `afwd_engine_classify` with its classification.
fn classify(
    e: *const afwd_engine,
    name: &[u8],
    qtype: u16,
    generation: u64,
) -> afwd_classification {
    let mut c = afwd_classification {
        rule: 9,
        check: 9,
        hairpin_ready: true,
        addr_count: 9,
        ttl: 9,
        ..afwd_classification::none(AFWD_VERDICT_ERROR)
    };
    // SAFETY: the name and the out-pointer are valid for the call; `e` is NULL or live.
    let v = unsafe {
        afwd_engine_classify(
            e,
            name.as_ptr(),
            name.len(),
            qtype,
            IN,
            NOW,
            generation,
            &mut c,
        )
    };
    assert_eq!(v, c.verdict);
    c
}

/// `afwd_exchange_new` for `name`/`qtype` with `c`: the result, and the exchange freed.
fn start(e: *const afwd_engine, c: &afwd_classification, name: &[u8], qtype: u16) -> afwd_result {
    let q = query(7, name, qtype);
    let mut x = null_mut();
    // SAFETY: live engine; the classification, slice and out-pointer are valid for the call.
    let r = unsafe { afwd_exchange_new(e, c, q.as_ptr(), q.len(), false, 1, NOW, &mut x) };
    assert_eq!(r == AFWD_OK, !x.is_null());
    // SAFETY: NULL or an exchange of ours.
    unsafe { afwd_exchange_free(x) };
    r
}

#[test]
fn the_classification_starts_its_own_question_only() {
    let e = engine();
    let c = classify(e, QNAME, TXT, AFWD_NO_PASS_FILTER);
    assert_eq!((c.verdict, c.rule), (AFWD_VERDICT_FORWARD, 1));
    assert_ne!(c.check, 0);
    assert_eq!(start(e, &c, QNAME, TXT), AFWD_OK);
    assert_eq!(
        start(e, &c, b"_ACME-Challenge.WWW.example.com", TXT),
        AFWD_OK
    );
    for (name, qtype) in [(QNAME, A), (&b"_acme-challenge.example.com."[..], TXT)] {
        assert_eq!(start(e, &c, name, qtype), AFWD_ERR_QUERY_NOT_CLASSIFIED);
    }
    let pass = classify(e, b"www.example.com.", TXT, AFWD_NO_PASS_FILTER);
    assert_eq!(
        (pass.verdict, pass.rule, pass.check),
        (AFWD_VERDICT_PASS, 0, 0)
    );
    assert_eq!(
        start(e, &pass, b"www.example.com.", TXT),
        AFWD_ERR_QUERY_NOT_CLASSIFIED
    );
    // A rule code the core never gives.
    let odd = afwd_classification { rule: 7, ..c };
    assert_eq!(start(e, &odd, QNAME, TXT), AFWD_ERR_QUERY_NOT_CLASSIFIED);
    // NULL: the exchange classifies for itself.
    let q = query(7, QNAME, TXT);
    let mut x = null_mut();
    // SAFETY: live engine; the slice and out-pointer are valid for the call.
    unsafe {
        assert_eq!(
            afwd_exchange_new(e, null(), q.as_ptr(), q.len(), false, 1, NOW, &mut x),
            AFWD_OK
        );
        afwd_exchange_free(x);
    }
    // A NULL engine: ERROR in the classification too.
    let none = classify(null(), QNAME, TXT, AFWD_NO_PASS_FILTER);
    assert_eq!(
        (none.verdict, none.rule, none.check),
        (AFWD_VERDICT_ERROR, 0, 0)
    );
    // SAFETY: no longer used.
    unsafe { afwd_engine_free(e) };
}

#[test]
fn the_current_filter_generation_skips_only_work() {
    let e = engine();
    // SAFETY: live engine.
    let current = unsafe { afwd_engine_pass_filter_generation(e) };
    for name in [
        QNAME,
        b"www.example.com.",
        b"a.svc.cluster.local.",
        b"example.com",
        b".",
    ] {
        for qtype in [A, AAAA, TXT, CNAME, 2, 6, 15] {
            let filtered = classify(e, name, qtype, AFWD_NO_PASS_FILTER);
            assert_eq!(
                classify(e, name, qtype, current),
                filtered,
                "{name:?} {qtype}"
            );
            assert_eq!(
                classify(e, name, qtype, current + 1),
                filtered,
                "{name:?} {qtype}"
            );
        }
    }
    // SAFETY: no longer used.
    unsafe { afwd_engine_free(e) };
}

#[test]
fn an_exchange_outlives_its_engines_handle_and_reports_its_state() {
    let e = engine();
    // SAFETY: live engine.
    let (generation, learned) = unsafe {
        (
            afwd_engine_pass_filter_generation(e),
            afwd_engine_learned_len(e),
        )
    };
    let x = exchange(e, 0x0303);
    // A reload frees the handle while the exchange waits for its reply.
    // SAFETY: no longer used through this handle.
    unsafe { afwd_engine_free(e) };
    let reply = reply_with(&sent_query(x), &[(CNAME, 300, wire_name(TARGET))]);
    let mut state = afwd_engine_state {
        pass_filter_generation: generation,
        learned_len: 99,
    };
    // SAFETY: a live exchange; the slice and the out-pointer are valid for the call.
    unsafe {
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, &mut state),
            AFWD_OK
        );
    }
    assert_eq!(
        state.learned_len, learned,
        "nothing learned before the probe"
    );
    // The internal view does not know the CNAME target: it is learned.
    internal_nxdomain(x, &mut state);
    assert!(state.learned_len > learned, "the CNAME target was learned");
    assert_ne!(
        state.pass_filter_generation, generation,
        "the filter changed"
    );
    assert_eq!(poll(x).0.kind, AFWD_ACTION_ANSWER);
    // Done: the state is still reported.
    // SAFETY: as above.
    unsafe {
        let before = state;
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, &mut state),
            AFWD_ERR_EXCHANGE_DONE
        );
        assert_eq!(state, before);
        afwd_exchange_free(x);
    }
}

#[test]
fn a_hairpin_with_ip_targets_comes_with_its_answer() {
    let b = builder();
    // SAFETY: a live builder; the slices and out-pointers are valid for the calls.
    let e = unsafe {
        for line in [
            HAIRPIN_IP,
            HAIRPIN_NAME,
            &b"many.example.com 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5"[..],
        ] {
            assert_eq!(
                afwd_config_builder_add_hairpin(b, line.as_ptr(), line.len()),
                AFWD_OK
            );
        }
        assert_eq!(
            afwd_config_builder_add_upstream(b, UPSTREAM.as_ptr(), UPSTREAM.len()),
            AFWD_OK
        );
        assert_eq!(afwd_config_builder_set_max_ttl(b, 30), AFWD_OK);
        let mut c = null_mut();
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
        let mut e = null_mut();
        assert_eq!(afwd_engine_new(c, &mut e), AFWD_OK);
        afwd_config_free(c);
        e
    };
    let v4 = classify(e, b"WWW.example.com.", A, AFWD_NO_PASS_FILTER);
    assert_eq!(v4.verdict, AFWD_VERDICT_HAIRPIN);
    assert!(v4.hairpin_ready);
    assert_eq!((v4.addr_count, v4.ttl), (1, 30));
    assert_eq!(v4.addrs[0], ipv4_mapped([10, 96, 0, 80]));
    let v6 = classify(e, b"x.apps.example.com", AAAA, AFWD_NO_PASS_FILTER);
    assert!(v6.hairpin_ready);
    assert_eq!(v6.addr_count, 1);
    let mut fd00_80 = [0u8; 16];
    fd00_80[0] = 0xfd;
    fd00_80[15] = 0x80;
    assert_eq!(v6.addrs[0], fd00_80);
    // Four fit; five do not, and a name target needs its lookup: an exchange answers those.
    for (name, ready) in [
        (&b"many.example.com."[..], false),
        (b"svc.example.com.", false),
    ] {
        let c = classify(e, name, A, AFWD_NO_PASS_FILTER);
        assert_eq!(
            (c.verdict, c.hairpin_ready, c.addr_count),
            (AFWD_VERDICT_HAIRPIN, ready, 0)
        );
        assert_eq!(start(e, &c, name, A), AFWD_OK);
    }
    // Not a hairpin: nothing ready.
    let other = classify(e, b"other.example.com.", A, AFWD_NO_PASS_FILTER);
    assert_eq!(
        (other.verdict, other.hairpin_ready),
        (AFWD_VERDICT_PASS, false)
    );
    // SAFETY: no longer used.
    unsafe { afwd_engine_free(e) };
}
