//! The panic boundary: every entry point turns a panic into its error value.

use std::ptr::{self};

use crate::boundary::{ffi_boundary, inject};
use crate::result::PANIC_TEXT;
use crate::*;

use crate::testutil::*;
use afwd_action_kind::*;
use afwd_result::*;
use afwd_upstream_mode::*;
use afwd_verdict::*;

#[test]
fn boundary_catches_real_panics_for_every_return_type() {
    fn code(fail: bool) -> afwd_result {
        ffi_boundary!({
            assert!(!fail, "{}", inject::MESSAGE);
            AFWD_OK
        })
    }
    fn verdict() -> afwd_verdict {
        ffi_boundary!({ std::panic::panic_any(inject::MESSAGE) })
    }
    fn pointer() -> *mut afwd_config {
        ffi_boundary!({ std::panic::panic_any(inject::MESSAGE) })
    }
    fn size() -> usize {
        ffi_boundary!({ std::panic::panic_any(inject::MESSAGE) })
    }
    fn unit() {
        ffi_boundary!({ std::panic::panic_any(inject::MESSAGE) })
    }
    // Installs the hook that keeps these expected panics quiet.
    with_injected_panic(|| code(false));
    assert_eq!(code(false), AFWD_OK);
    assert_eq!(code(true), AFWD_ERR_PANIC);
    assert_eq!(verdict(), AFWD_VERDICT_ERROR);
    assert!(pointer().is_null());
    assert_eq!(size(), 0);
    unit();
}

#[test]
fn every_entry_point_turns_a_panic_into_its_error_value() {
    let c = config();
    let e = engine();
    let x = exchange(e, 0x1234);
    let b = builder();
    let mut buf = [0u8; 512];
    let mut n = 7usize;
    let mut c_out = ptr::dangling_mut::<afwd_config>();
    let mut e_out = ptr::dangling_mut::<afwd_engine>();
    let mut x_out = ptr::dangling_mut::<afwd_exchange>();
    let untouched = afwd_action {
        kind: AFWD_ACTION_ANSWER,
        server_ip: [7; 16],
        server_port: 7,
        tcp: true,
        len: 7,
        fail_reason: AFWD_ERR_PANIC,
        deadline_ms: 0,
    };
    let mut action = untouched;

    let p = with_injected_panic(|| afwd_result_text(AFWD_OK.into()));
    assert_eq!(p, PANIC_TEXT.as_ptr());
    assert!(with_injected_panic(|| afwd_config_builder_new()).is_null());
    // SAFETY: all handles are live and all buffers valid; the injected panic fires before the
    // body touches any of them.
    unsafe {
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_add_zone(b, ZONE.as_ptr(), ZONE.len())),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_add_upstream(
                b,
                UPSTREAM.as_ptr(),
                UPSTREAM.len()
            )),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_add_upstream_tls(
                b,
                UPSTREAM.as_ptr(),
                UPSTREAM.len()
            )),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_set_timeout_ms(b, 100)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_set_max_ttl(b, 10)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_set_discovery(b, false)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_add_delegated(
                b,
                DELEGATED.as_ptr(),
                DELEGATED.len()
            )),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_set_upstream_mode(
                b,
                AFWD_UPSTREAM_AUTHORITATIVE.into()
            )),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_set_max_learned(b, 100)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_add_hairpin(
                b,
                HAIRPIN_IP.as_ptr(),
                HAIRPIN_IP.len()
            )),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_add_label(b, LABEL.as_ptr(), LABEL.len())),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_add_public_host(
                b,
                ZONE.as_ptr(),
                ZONE.len()
            )),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_new(b, &mut c_out)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_upstream(c, 0, buf.as_mut_ptr(), buf.len(), &mut n)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_engine_new(c, &mut e_out)),
            AFWD_ERR_PANIC
        );
        assert_eq!(with_injected_panic(|| afwd_engine_learned_len(e)), 0);
        assert_eq!(
            with_injected_panic(|| afwd_engine_classify(
                e,
                QNAME.as_ptr(),
                QNAME.len(),
                TXT,
                IN,
                NOW,
                crate::AFWD_NO_PASS_FILTER,
                std::ptr::null_mut()
            )),
            AFWD_VERDICT_ERROR
        );
        let q = query(1, QNAME, TXT);
        assert_eq!(
            with_injected_panic(|| afwd_exchange_new(
                e,
                std::ptr::null(),
                q.as_ptr(),
                q.len(),
                false,
                1,
                NOW,
                &mut x_out
            )),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_exchange_poll(x, buf.as_mut_ptr(), buf.len(), &mut action)),
            AFWD_ERR_PANIC
        );
        let reply = reply_to(&sent_query(x));
        assert_eq!(
            with_injected_panic(|| afwd_exchange_reply(
                x,
                reply.as_ptr(),
                reply.len(),
                NOW,
                std::ptr::null_mut()
            )),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_exchange_failed(x, 0)),
            AFWD_ERR_PANIC
        );
        // The free functions return nothing; a panic before the drop leaves the handle alive,
        // so the real free below must still work (valgrind / a double free would show it).
        with_injected_panic(|| afwd_exchange_free(x));
        with_injected_panic(|| afwd_engine_free(e));
        with_injected_panic(|| afwd_config_free(c));
        with_injected_panic(|| afwd_config_builder_free(b));
        // Nothing was written through the out-pointers.
        assert_eq!(c_out, ptr::dangling_mut());
        assert_eq!(e_out, ptr::dangling_mut());
        assert_eq!(x_out, ptr::dangling_mut());
        assert_eq!(n, 7);
        assert_eq!(action, untouched);
        // The handles are intact after the caught panics: the exchange still waits for the
        // reply to its first send; the hairpin line and the label were not added.
        assert_eq!(afwd_config_builder_set_max_ttl(b, 10), AFWD_OK);
        assert_eq!(
            afwd_config_builder_add_hairpin(b, HAIRPIN_IP.as_ptr(), HAIRPIN_IP.len()),
            AFWD_OK
        );
        assert_eq!(
            afwd_config_builder_add_label(b, LABEL.as_ptr(), LABEL.len()),
            AFWD_OK
        );
        assert_eq!(afwd_engine_learned_len(e), 0);
        assert_eq!(
            afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()),
            AFWD_OK
        );
        assert_eq!(poll(x).0.kind, AFWD_ACTION_ANSWER);
        afwd_exchange_free(x);
        afwd_engine_free(e);
        afwd_config_free(c);
        afwd_config_builder_free(b);
    }
}
