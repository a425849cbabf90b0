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

// ---- challenge labels -----------------------------------------------------------------------

/// An engine for the whole tree (no zone), with the `labels` given (none: the defaults).
fn engine_with_labels(labels: &[&[u8]]) -> *mut afwd_engine {
    let b = builder();
    let mut c = null_mut();
    let mut e = null_mut();
    // SAFETY: `b` and `c` are live; the slices and the out-pointers are valid for the calls.
    unsafe {
        for l in labels {
            assert_eq!(
                afwd_config_builder_add_label(b, l.as_ptr(), l.len()),
                AFWD_OK
            );
        }
        assert_eq!(
            afwd_config_builder_add_upstream(b, UPSTREAM.as_ptr(), UPSTREAM.len()),
            AFWD_OK
        );
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
        assert_eq!(afwd_engine_new(c, &mut e), AFWD_OK);
        afwd_config_free(c);
    }
    e
}

fn verdict(e: *const afwd_engine, name: &[u8]) -> afwd_verdict {
    // SAFETY: `e` is live; `name` is valid for its length.
    unsafe {
        afwd_engine_classify(
            e,
            name.as_ptr(),
            name.len(),
            TXT,
            IN,
            NOW,
            crate::AFWD_NO_PASS_FILTER,
            std::ptr::null_mut(),
        )
    }
}

#[test]
fn labels_replace_the_defaults() {
    use afwd_verdict::*;
    let persist: &[u8] = b"_validation-persist.www.example.com.";
    let account: &[u8] = b"_UJMMOVF2VN55TGYE._acme-challenge.www.example.com.";
    let custom: &[u8] = b"_custom.www.example.com.";
    let e = engine_with_labels(&[]);
    for (name, want) in [
        (QNAME, AFWD_VERDICT_FORWARD),
        (persist, AFWD_VERDICT_FORWARD),
        (account, AFWD_VERDICT_FORWARD),
        (
            &b"foo._acme-challenge.www.example.com."[..],
            AFWD_VERDICT_PASS,
        ),
        (custom, AFWD_VERDICT_PASS),
    ] {
        assert_eq!(verdict(e, name), want, "{}", String::from_utf8_lossy(name));
    }
    let e2 = engine_with_labels(&[b"_Custom"]);
    for (name, want) in [
        (QNAME, AFWD_VERDICT_PASS),
        (persist, AFWD_VERDICT_PASS),
        (account, AFWD_VERDICT_PASS),
        (custom, AFWD_VERDICT_FORWARD),
    ] {
        assert_eq!(verdict(e2, name), want, "{}", String::from_utf8_lossy(name));
    }
    // SAFETY: both engines are live and freed once.
    unsafe {
        afwd_engine_free(e);
        afwd_engine_free(e2);
    }
}

#[test]
fn labels_are_validated() {
    let b = builder();
    let long = [b"_".as_slice(), &[b'a'; 63]].concat();
    // SAFETY: live builder; the slices are valid for their lengths.
    unsafe {
        for (arg, want) in [
            (&b"_custom"[..], AFWD_OK),
            (b"", AFWD_ERR_LABEL_EMPTY),
            (b"custom", AFWD_ERR_LABEL_NO_UNDERSCORE),
            (&long, AFWD_ERR_LABEL_TOO_LONG),
            (b"_a.example", AFWD_ERR_LABEL_BAD_CHARACTER),
            (b"_CUSTOM", AFWD_ERR_LABEL_DUPLICATE),
        ] {
            assert_eq!(
                afwd_config_builder_add_label(b, arg.as_ptr(), arg.len()),
                want,
                "{}",
                String::from_utf8_lossy(arg)
            );
        }
        for i in 1..16 {
            let l = format!("_l{i}");
            assert_eq!(
                afwd_config_builder_add_label(b, l.as_ptr(), l.len()),
                AFWD_OK
            );
        }
        assert_eq!(
            afwd_config_builder_add_label(b, b"_x".as_ptr(), 2),
            AFWD_ERR_TOO_MANY_LABELS
        );
        afwd_config_builder_free(b);
    }
}

#[test]
fn public_hosts_are_validated() {
    // SAFETY: `b` is a live builder; the slices are valid for the calls.
    unsafe {
        let b = afwd_config_builder_new();
        for (arg, want) in [
            (&b"ns1.example.com"[..], AFWD_OK),
            (b".", AFWD_ERR_PUBLIC_HOST_ROOT),
            (b"ns.svc.cluster.local", AFWD_ERR_PUBLIC_HOST_PROTECTED),
            (b"a..b", AFWD_ERR_NAME_EMPTY_LABEL),
            (b"\xff", AFWD_ERR_INVALID_UTF8),
        ] {
            assert_eq!(
                afwd_config_builder_add_public_host(b, arg.as_ptr(), arg.len()),
                want,
                "{}",
                String::from_utf8_lossy(arg)
            );
        }
        // A protected zone added after it names the conflict.
        let zone = b"example.com";
        assert_eq!(
            afwd_config_builder_add_protected(b, zone.as_ptr(), zone.len()),
            AFWD_ERR_PUBLIC_HOST_PROTECTED
        );
        afwd_config_builder_free(b);
    }
}
