//! What the shim labels its metrics and logs with: the rule that forwards a question (in its
//! classification), and whether an exchange asks the zone's nameservers.

use crate::*;

use crate::testutil::*;
use afwd_result::*;
use afwd_upstream_mode::*;

/// The rule number the classification of a question carries.
fn rule(e: *const afwd_engine, name: &[u8], qtype: u16) -> u8 {
    let mut c = afwd_classification::none(afwd_verdict::AFWD_VERDICT_ERROR);
    // SAFETY: `e` is live; the name and the out-pointer are valid for the call.
    unsafe {
        afwd_engine_classify(
            e,
            name.as_ptr(),
            name.len(),
            qtype,
            IN,
            NOW,
            AFWD_NO_PASS_FILTER,
            &mut c,
        )
    };
    c.rule
}

#[test]
fn the_classification_names_the_rule_that_forwards() {
    let e = engine();
    assert_eq!(rule(e, QNAME, TXT), AFWD_RULE_CHALLENGE);
    assert_eq!(
        rule(e, b"_ACME-Challenge.Example.COM", A),
        AFWD_RULE_CHALLENGE
    );
    assert_eq!(rule(e, b"www.example.com.", TXT), AFWD_RULE_NONE);
    assert_eq!(rule(e, TARGET, TXT), AFWD_RULE_NONE);

    // A learned CNAME target is forwarded by rule 4, its ancestors' SOA by rule 5.
    let x = exchange(e, 0x0303);
    let reply = reply_with(&sent_query(x), &[(CNAME, 300, wire_name(TARGET))]);
    // SAFETY: a live exchange; the slice is valid for its length.
    unsafe {
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()),
            AFWD_OK
        );
        internal_nxdomain(x, std::ptr::null_mut());
        afwd_exchange_free(x);
    }
    assert_eq!(rule(e, TARGET, TXT), AFWD_RULE_CNAME_TARGET);
    assert_eq!(rule(e, b"auth.example.org.", 6), AFWD_RULE_ANCESTOR);
    // SAFETY: no longer used.
    unsafe { afwd_engine_free(e) };
}

#[test]
fn is_authoritative_follows_the_mode() {
    for (mode, want) in [
        (AFWD_UPSTREAM_RECURSIVE, false),
        (AFWD_UPSTREAM_AUTHORITATIVE, true),
    ] {
        let e = engine_with(mode);
        let x = exchange(e, 0x0404);
        // SAFETY: live handles, no longer used after the frees.
        unsafe {
            assert_eq!(afwd_exchange_is_authoritative(x), want, "{mode:?}");
            afwd_exchange_free(x);
            afwd_engine_free(e);
        }
    }
    // SAFETY: NULL is allowed.
    assert!(!unsafe { afwd_exchange_is_authoritative(std::ptr::null()) });
}
