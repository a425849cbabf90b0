//! The configuration builder's setters, and reading an upstream back into a caller's buffer.

use std::ffi::c_uint;
use std::ptr::null_mut;

use crate::*;

use crate::testutil::*;
use afwd_result::*;
use afwd_upstream_mode::*;

// ---- builder setters ------------------------------------------------------------------------

#[test]
fn new_builder_setters_validate() {
    let b = builder();
    // SAFETY: live builder; the slices are valid for their lengths.
    unsafe {
        assert_eq!(afwd_config_builder_set_discovery(b, false), AFWD_OK);
        assert_eq!(afwd_config_builder_set_discovery(b, true), AFWD_OK);
        assert_eq!(
            afwd_config_builder_add_delegated(b, DELEGATED.as_ptr(), DELEGATED.len()),
            AFWD_OK
        );
        let bad = b"a..b";
        assert_eq!(
            afwd_config_builder_add_delegated(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_NAME_EMPTY_LABEL
        );
        for mode in [AFWD_UPSTREAM_AUTHORITATIVE, AFWD_UPSTREAM_RECURSIVE] {
            assert_eq!(
                afwd_config_builder_set_upstream_mode(b, mode.into()),
                AFWD_OK
            );
        }
        for bad in [2, 3, 100, c_uint::MAX] {
            assert_eq!(
                afwd_config_builder_set_upstream_mode(b, UpstreamModeCode(bad)),
                AFWD_ERR_UPSTREAM_MODE_INVALID
            );
        }
        for ok in [16, 4096, 1_048_576] {
            assert_eq!(afwd_config_builder_set_max_learned(b, ok), AFWD_OK);
        }
        for bad in [0, 15, 1_048_577, usize::MAX] {
            assert_eq!(
                afwd_config_builder_set_max_learned(b, bad),
                AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE
            );
        }
        afwd_config_builder_free(b);
    }
}

#[test]
fn upstream_getter_normalises_and_handles_short_buffers() {
    let b = builder();
    let mut c = null_mut();
    let addrs: [&[u8]; 3] = [
        b"192.0.2.1",
        b"[2001:db8::1]:5353",
        b"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
    ];
    let want: [&[u8]; 3] = [
        b"192.0.2.1:53",
        b"[2001:db8::1]:5353",
        b"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
    ];
    // SAFETY: live handles; all slices and buffers are valid for their lengths.
    unsafe {
        for a in addrs {
            assert_eq!(
                afwd_config_builder_add_upstream(b, a.as_ptr(), a.len()),
                AFWD_OK
            );
        }
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
        for (i, w) in want.iter().enumerate() {
            assert!(w.len() <= 64, "the documented 64-byte bound");
            check_out_buffer(w, |buf, len, n| afwd_config_upstream(c, i, buf, len, n));
        }
        let mut buf = [0u8; 64];
        let mut n = 5;
        for index in [3, 4, usize::MAX] {
            assert_eq!(
                afwd_config_upstream(c, index, buf.as_mut_ptr(), buf.len(), &mut n),
                AFWD_ERR_INDEX_OUT_OF_RANGE
            );
            assert_eq!(n, 0);
        }
        afwd_config_free(c);
    }
}
