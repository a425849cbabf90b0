//! The hot path: classify allocates nothing, and learned entries expire with the clock.

use crate::*;

use crate::testutil::*;
use afwd_action_kind::*;
use afwd_result::*;
use afwd_verdict::*;

const HOT_NAMES: [&[u8]; 8] = [
    QNAME,
    b"_ACME-Challenge.Example.COM",
    br"\095acme-challenge.example.com.",
    b"www.example.com.",
    b"_acme-challenge.example.org.",
    TARGET,
    b"X.Auth.Example.Org",
    b"",
];

#[test]
fn classify_does_not_allocate() {
    let e = engine();
    // Nothing learned: only the three challenge spellings.
    assert_eq!(classify_without_allocating(e, &HOT_NAMES), 3);

    // Learn a CNAME target from a forwarded challenge reply; then it is forwarded too, still
    // without an allocation.
    let x = exchange(e, 0x0101);
    let reply = reply_with(
        &sent_query(x),
        &[
            (CNAME, 300, wire_name(TARGET)),
            // (no TXT at the target: the client follows the CNAME itself)
        ],
    );
    // SAFETY: live handles; the slice is valid for its length.
    unsafe {
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()),
            AFWD_OK
        );
        internal_nxdomain(x, std::ptr::null_mut());
        assert_eq!(poll(x).0.kind, AFWD_ACTION_ANSWER);
        afwd_exchange_free(x);
        assert!(
            afwd_engine_learned_len(e) > 0,
            "the CNAME target was not learned"
        );
    }
    assert_eq!(classify_without_allocating(e, &HOT_NAMES), 5);
    // SAFETY: no longer used.
    unsafe { afwd_engine_free(e) };
}

#[test]
fn learned_entries_expire_with_the_clock() {
    let e = engine();
    let x = exchange(e, 0x0202);
    let reply = reply_with(&sent_query(x), &[(CNAME, 0, wire_name(TARGET))]);
    // SAFETY: live handles; the slices are valid for their lengths.
    unsafe {
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()),
            AFWD_OK
        );
        internal_nxdomain(x, std::ptr::null_mut());
        afwd_exchange_free(x);
        let classify = |now| {
            afwd_engine_classify(
                e,
                TARGET.as_ptr(),
                TARGET.len(),
                TXT,
                IN,
                now,
                crate::AFWD_NO_PASS_FILTER,
                std::ptr::null_mut(),
            )
        };
        // A TTL of 0 is learned for at least 60 s, and not for a day.
        assert_eq!(classify(NOW), AFWD_VERDICT_FORWARD);
        assert_eq!(classify(NOW + 59_000), AFWD_VERDICT_FORWARD);
        assert_eq!(classify(NOW + 86_400_000 + 1), AFWD_VERDICT_PASS);
        afwd_engine_free(e);
    }
}
