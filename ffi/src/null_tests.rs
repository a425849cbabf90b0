//! NULL arguments and empty or non-UTF-8 inputs.

use std::mem::MaybeUninit;
use std::ptr::{self, null, null_mut};

use crate::*;

use crate::testutil::*;
use afwd_action_kind::*;
use afwd_result::*;
use afwd_upstream_mode::*;
use afwd_verdict::*;

// ---- NULL arguments -------------------------------------------------------------------------

#[test]
fn null_handles_and_pointers_are_rejected() {
    let c = config();
    let e = engine();
    let x = exchange(e, 0x4242);
    let b = builder();
    let mut buf = [0u8; 512];
    let mut n = 99usize;
    let mut c_out = ptr::dangling_mut();
    let mut e_out = ptr::dangling_mut();
    let mut x_out = ptr::dangling_mut();
    let mut action = MaybeUninit::<afwd_action>::uninit();
    let q = query(1, QNAME, TXT);
    let reply = reply_to(&sent_query(x));
    // SAFETY: every non-null pointer passed is live / valid for its length; the functions must
    // not touch the NULL ones.
    unsafe {
        // Builder.
        assert_eq!(
            afwd_config_builder_add_zone(null_mut(), ZONE.as_ptr(), ZONE.len()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_zone(b, null(), 3),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_upstream(null_mut(), UPSTREAM.as_ptr(), UPSTREAM.len()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_upstream(b, null(), 3),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_upstream_tls(null_mut(), UPSTREAM.as_ptr(), UPSTREAM.len()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_upstream_tls(b, null(), 3),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_set_timeout_ms(null_mut(), 100),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_set_max_ttl(null_mut(), 10),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_set_discovery(null_mut(), true),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_delegated(null_mut(), DELEGATED.as_ptr(), DELEGATED.len()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_delegated(b, null(), 3),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_set_upstream_mode(null_mut(), AFWD_UPSTREAM_RECURSIVE.into()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_set_max_learned(null_mut(), 100),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_hairpin(null_mut(), HAIRPIN_IP.as_ptr(), HAIRPIN_IP.len()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_hairpin(b, null(), 3),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_label(null_mut(), LABEL.as_ptr(), LABEL.len()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_label(b, null(), 3),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_public_host(null_mut(), ZONE.as_ptr(), ZONE.len()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_add_public_host(b, null(), 3),
            AFWD_ERR_NULL_ARGUMENT
        );
        // Config.
        assert_eq!(afwd_config_new(null(), &mut c_out), AFWD_ERR_NULL_ARGUMENT);
        assert!(c_out.is_null(), "config_out is cleared on error");
        assert_eq!(afwd_config_new(b, null_mut()), AFWD_ERR_NULL_ARGUMENT);
        assert_eq!(
            afwd_config_upstream(null(), 0, buf.as_mut_ptr(), buf.len(), &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(n, 0);
        assert_eq!(
            afwd_config_upstream(c, 0, null_mut(), 16, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_upstream(c, 0, buf.as_mut_ptr(), buf.len(), null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        // Engine.
        assert_eq!(afwd_engine_new(null(), &mut e_out), AFWD_ERR_NULL_ARGUMENT);
        assert!(e_out.is_null(), "engine_out is cleared on error");
        assert_eq!(afwd_engine_new(c, null_mut()), AFWD_ERR_NULL_ARGUMENT);
        assert_eq!(afwd_engine_learned_len(null()), 0);
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
                5,
                TXT,
                IN,
                NOW,
                crate::AFWD_NO_PASS_FILTER,
                std::ptr::null_mut()
            ),
            AFWD_VERDICT_ERROR
        );
        // Exchange.
        let new = |e, q: *const u8, ql, out| {
            afwd_exchange_new(e, std::ptr::null(), q, ql, false, 1, NOW, out)
        };
        assert_eq!(
            new(null(), q.as_ptr(), q.len(), &mut x_out),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert!(x_out.is_null(), "exchange_out is cleared on error");
        assert_eq!(new(e, null(), 12, &mut x_out), AFWD_ERR_NULL_ARGUMENT);
        assert_eq!(
            new(e, q.as_ptr(), q.len(), null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_poll(x, buf.as_mut_ptr(), buf.len(), null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        // A NULL exchange or buffer: the action says FAIL with that error.
        for (xp, bp, bl) in [
            (null(), buf.as_mut_ptr(), buf.len()),
            (x.cast_const(), null_mut(), 16),
        ] {
            assert_eq!(
                afwd_exchange_poll(xp, bp, bl, action.as_mut_ptr()),
                AFWD_ERR_NULL_ARGUMENT
            );
            let a = action.assume_init_ref();
            assert_eq!(a.kind, AFWD_ACTION_FAIL);
            assert_eq!(a.fail_reason, AFWD_ERR_NULL_ARGUMENT);
            assert_eq!(a.len, 0);
        }
        let (r, rl) = (reply.as_ptr(), reply.len());
        assert_eq!(
            afwd_exchange_reply(null_mut(), r, rl, NOW, std::ptr::null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_reply(x, null(), rl, NOW, std::ptr::null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(afwd_exchange_failed(null_mut(), 0), AFWD_ERR_NULL_ARGUMENT);
        // free(NULL) is a no-op.
        afwd_config_builder_free(null_mut());
        afwd_config_free(null_mut());
        afwd_engine_free(null_mut());
        afwd_exchange_free(null_mut());
        // The handles are still good: the exchange still waits for its first reply.
        assert_eq!(
            afwd_exchange_reply(x, r, rl, NOW, std::ptr::null_mut()),
            AFWD_OK
        );
        let (a, bytes) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_ANSWER);
        assert_eq!(&bytes[..2], &0x4242u16.to_be_bytes());
        afwd_exchange_free(x);
        afwd_engine_free(e);
        afwd_config_free(c);
        afwd_config_builder_free(b);
    }
}

#[test]
fn null_with_zero_length_is_an_empty_input() {
    let e = engine();
    let b = builder();
    let mut x = ptr::dangling_mut();
    let x0 = exchange(e, 7);
    // SAFETY: live handles; NULL data pointers only with length 0.
    unsafe {
        // An empty name / address / message reaches the core, which rejects it for what it is.
        assert_eq!(
            afwd_config_builder_add_zone(b, null(), 0),
            AFWD_ERR_NAME_EMPTY
        );
        assert_eq!(
            afwd_config_builder_add_delegated(b, null(), 0),
            AFWD_ERR_NAME_EMPTY
        );
        assert_eq!(
            afwd_config_builder_add_upstream(b, null(), 0),
            AFWD_ERR_ADDRESS_INVALID
        );
        assert_eq!(
            afwd_config_builder_add_upstream_tls(b, null(), 0),
            AFWD_ERR_ADDRESS_INVALID
        );
        assert_eq!(
            afwd_config_builder_add_hairpin(b, null(), 0),
            AFWD_ERR_HAIRPIN_MISSING_TARGET
        );
        assert_eq!(
            afwd_config_builder_add_label(b, null(), 0),
            AFWD_ERR_LABEL_EMPTY
        );
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
            afwd_exchange_new(e, std::ptr::null(), null(), 0, false, 1, NOW, &mut x),
            AFWD_ERR_QUERY_MALFORMED
        );
        assert!(x.is_null());
        assert_eq!(
            afwd_exchange_reply(x0, null(), 0, NOW, std::ptr::null_mut()),
            AFWD_ERR_REPLY_NOT_A_RESPONSE
        );
        afwd_exchange_free(x0);
        afwd_engine_free(e);
        afwd_config_builder_free(b);
    }
}

#[test]
fn text_arguments_must_be_utf8() {
    let b = builder();
    let bad = b"exa\xffmple.com";
    // SAFETY: live builder; `bad` is valid for its length.
    unsafe {
        assert_eq!(
            afwd_config_builder_add_zone(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_INVALID_UTF8
        );
        assert_eq!(
            afwd_config_builder_add_delegated(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_INVALID_UTF8
        );
        assert_eq!(
            afwd_config_builder_add_upstream(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_INVALID_UTF8
        );
        assert_eq!(
            afwd_config_builder_add_upstream_tls(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_INVALID_UTF8
        );
        let bad_label = b"_acme\xff";
        assert_eq!(
            afwd_config_builder_add_label(b, bad_label.as_ptr(), bad_label.len()),
            AFWD_ERR_INVALID_UTF8
        );
        let bad = b"www.example.com 10.0.0.\xff";
        assert_eq!(
            afwd_config_builder_add_hairpin(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_INVALID_UTF8
        );
        afwd_config_builder_free(b);
    }
}
