//! What the shim labels its metrics and logs with: the rule that forwards a question, and
//! whether an exchange asks the zone's nameservers.

use crate::*;

use crate::testutil::*;
use afwd_action_kind::*;
use afwd_result::*;
use afwd_upstream_mode::*;

/// Answers the pending INTERNAL (the question about a CNAME target) NXDOMAIN: the internal view
/// does not know the name, so the target is learned.
fn internal_nxdomain(x: *mut afwd_exchange, e: *const afwd_engine) {
    let (action, q) = poll(x);
    assert_eq!(action.kind, AFWD_ACTION_INTERNAL);
    let mut r = reply_with(&q, &[]);
    r[3] |= 3;
    // SAFETY: live handles; the slice is valid for its length.
    unsafe { assert_eq!(afwd_exchange_reply(x, e, r.as_ptr(), r.len(), NOW), AFWD_OK) };
}

#[test]
fn rule_names_the_rule_that_forwards() {
    use afwd_rule::*;
    let e = engine();
    let rule = |name: &[u8], qtype| {
        // SAFETY: `e` is live; the slice is valid for its length.
        unsafe { afwd_engine_rule(e, name.as_ptr(), name.len(), qtype, IN, NOW) }
    };
    assert_eq!(rule(QNAME, TXT), AFWD_RULE_CHALLENGE);
    assert_eq!(rule(b"_ACME-Challenge.Example.COM", A), AFWD_RULE_CHALLENGE);
    assert_eq!(rule(b"www.example.com.", TXT), AFWD_RULE_NONE);
    assert_eq!(rule(TARGET, TXT), AFWD_RULE_NONE);
    // SAFETY: a NULL engine, and a NULL name with a non-zero length, are refused.
    unsafe {
        assert_eq!(
            afwd_engine_rule(std::ptr::null(), QNAME.as_ptr(), QNAME.len(), TXT, IN, NOW),
            AFWD_RULE_NONE
        );
        assert_eq!(
            afwd_engine_rule(e, std::ptr::null(), 3, TXT, IN, NOW),
            AFWD_RULE_NONE
        );
    }

    // A learned CNAME target is forwarded by rule 4, its ancestors' SOA by rule 5.
    let x = exchange(e, 0x0303);
    let reply = reply_with(&sent_query(x), &[(CNAME, 300, wire_name(TARGET))]);
    // SAFETY: live handles; the slice is valid for its length.
    unsafe {
        assert_eq!(
            afwd_exchange_reply(x, e, reply.as_ptr(), reply.len(), NOW),
            AFWD_OK
        );
        internal_nxdomain(x, e);
        afwd_exchange_free(x);
    }
    assert_eq!(rule(TARGET, TXT), AFWD_RULE_CNAME_TARGET);
    assert_eq!(rule(b"auth.example.org.", 6), AFWD_RULE_ANCESTOR);
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
