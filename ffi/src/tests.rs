//! Unit tests of the C ABI, calling the `extern "C"` functions as C would: the panic boundary,
//! NULL arguments, short buffers, result texts. The DNS behaviour itself is the core's (tested
//! there and, end to end through the header, by ffi/tests/ffi_test.c).

use std::ffi::{CStr, c_uint};
use std::ptr::{self, null, null_mut};

use acmeforward::{ConfigError, QueryError, ReplyError};

use crate::boundary::{ffi_boundary, inject};
use crate::result::{ALL_RESULTS, PANIC_TEXT, UNKNOWN_TEXT};
use crate::*;

use afwd_result::*;
use afwd_verdict::*;

const ZONE: &[u8] = b"example.com.";
const UPSTREAM: &[u8] = b"127.0.0.1:5353";
const QNAME: &[u8] = b"_acme-challenge.www.example.com.";
const TXT: u16 = 16;
const IN: u16 = 1;

/// A DNS query for `name` (presentation form, no escapes), RD set, no EDNS.
fn query(id: u16, name: &[u8], qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split(|&b| b == b'.').filter(|l| !l.is_empty()) {
        q.push(u8::try_from(label.len()).unwrap());
        q.extend_from_slice(label);
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&IN.to_be_bytes());
    q
}

/// The upstream's reply to `upstream_query`: QR and RA set, one TXT answer on the question name
/// (a compression pointer to it) inserted after the question; anything after the question (the
/// OPT record) is kept.
fn reply_to(upstream_query: &[u8]) -> Vec<u8> {
    let mut end = 12;
    while upstream_query[end] != 0 {
        end += 1 + usize::from(upstream_query[end]);
    }
    end += 1 + 4;
    let mut r = upstream_query[..end].to_vec();
    r[2] |= 0x80;
    r[3] |= 0x80;
    r[6..8].copy_from_slice(&1u16.to_be_bytes());
    r.extend_from_slice(&[0xc0, 12]);
    r.extend_from_slice(&TXT.to_be_bytes());
    r.extend_from_slice(&IN.to_be_bytes());
    r.extend_from_slice(&3600u32.to_be_bytes());
    r.extend_from_slice(&[0, 6, 5]);
    r.extend_from_slice(b"token");
    r.extend_from_slice(&upstream_query[end..]);
    r
}

fn builder() -> *mut afwd_config_builder {
    let b = afwd_config_builder_new();
    assert!(!b.is_null());
    b
}

/// A config with ZONE and UPSTREAM.
fn config() -> *mut afwd_config {
    let b = builder();
    let mut c = null_mut();
    // SAFETY: `b` is live; the slices and the out-pointer are valid for the calls.
    unsafe {
        assert_eq!(
            afwd_config_builder_add_zone(b, ZONE.as_ptr(), ZONE.len()),
            AFWD_OK
        );
        assert_eq!(
            afwd_config_builder_add_upstream(b, UPSTREAM.as_ptr(), UPSTREAM.len()),
            AFWD_OK
        );
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
    }
    assert!(!c.is_null());
    c
}

/// An exchange for a TXT query on QNAME with client ID `id`.
fn exchange(c: *const afwd_config, id: u16) -> *mut afwd_exchange {
    let q = query(id, QNAME, TXT);
    let mut e = null_mut();
    // SAFETY: `c` is live; the slice and the out-pointer are valid for the call.
    let r = unsafe { afwd_exchange_new(c, q.as_ptr(), q.len(), 0x0123_4567_89ab_cdef, &mut e) };
    assert_eq!(r, AFWD_OK);
    assert!(!e.is_null());
    e
}

fn upstream_query(e: *const afwd_exchange) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    // SAFETY: `e` is live; `buf` has `buf.len()` writable bytes.
    let r = unsafe { afwd_exchange_upstream_query(e, buf.as_mut_ptr(), buf.len(), &mut n) };
    assert_eq!(r, AFWD_OK);
    buf.truncate(n);
    buf
}

fn text(r: ResultCode) -> &'static str {
    let p = afwd_result_text(r);
    assert!(!p.is_null());
    // SAFETY: afwd_result_text returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap()
}

// ---- panic boundary -------------------------------------------------------------------------

/// Runs `call` with a panic armed for the first boundary it enters, and checks that it did
/// enter one (so the injected panic really went through that function's boundary).
fn with_injected_panic<T>(call: impl FnOnce() -> T) -> T {
    inject::arm();
    let out = call();
    assert!(!inject::armed(), "the call did not enter an ffi_boundary");
    out
}

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
    fn unit() {
        ffi_boundary!({ std::panic::panic_any(inject::MESSAGE) })
    }
    // Installs the hook that keeps these expected panics quiet.
    with_injected_panic(|| code(false));
    assert_eq!(code(false), AFWD_OK);
    assert_eq!(code(true), AFWD_ERR_PANIC);
    assert_eq!(verdict(), AFWD_VERDICT_ERROR);
    assert!(pointer().is_null());
    unit();
}

#[test]
fn every_entry_point_turns_a_panic_into_its_error_value() {
    let c = config();
    let e = exchange(c, 0x1234);
    let b = builder();
    let mut buf = [0u8; 512];
    let mut n = 7usize;
    let mut c_out = ptr::dangling_mut::<afwd_config>();
    let mut e_out = ptr::dangling_mut::<afwd_exchange>();

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
            with_injected_panic(|| afwd_config_builder_set_timeout_ms(b, 100)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_config_builder_set_max_ttl(b, 10)),
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
            with_injected_panic(|| afwd_config_classify(c, QNAME.as_ptr(), QNAME.len(), TXT, IN)),
            AFWD_VERDICT_ERROR
        );
        let q = query(1, QNAME, TXT);
        assert_eq!(
            with_injected_panic(|| afwd_exchange_new(c, q.as_ptr(), q.len(), 1, &mut e_out)),
            AFWD_ERR_PANIC
        );
        assert_eq!(
            with_injected_panic(|| afwd_exchange_upstream_query(
                e,
                buf.as_mut_ptr(),
                buf.len(),
                &mut n
            )),
            AFWD_ERR_PANIC
        );
        let reply = reply_to(&upstream_query(e));
        assert_eq!(
            with_injected_panic(|| afwd_exchange_finish(
                e,
                reply.as_ptr(),
                reply.len(),
                false,
                buf.as_mut_ptr(),
                buf.len(),
                &mut n
            )),
            AFWD_ERR_PANIC
        );
        // The free functions return nothing; a panic before the drop leaves the handle alive,
        // so the real free below must still work (valgrind / a double free would show it).
        with_injected_panic(|| afwd_exchange_free(e));
        with_injected_panic(|| afwd_config_free(c));
        with_injected_panic(|| afwd_config_builder_free(b));
        // Nothing was written through the out-pointers.
        assert_eq!(c_out, ptr::dangling_mut());
        assert_eq!(e_out, ptr::dangling_mut());
        assert_eq!(n, 7);
        // The handles are intact after the caught panics.
        assert_eq!(afwd_config_builder_set_max_ttl(b, 10), AFWD_OK);
        assert_eq!(
            afwd_exchange_upstream_query(e, buf.as_mut_ptr(), buf.len(), &mut n),
            AFWD_OK
        );
        afwd_exchange_free(e);
        afwd_config_free(c);
        afwd_config_builder_free(b);
    }
}

// ---- result codes and texts -----------------------------------------------------------------

#[test]
fn result_codes_are_the_contract_values() {
    let expected: [(afwd_result, c_uint); 29] = [
        (AFWD_OK, 0),
        (AFWD_TRUNCATED, 1),
        (AFWD_ERR_NULL_ARGUMENT, 100),
        (AFWD_ERR_BUFFER_TOO_SHORT, 101),
        (AFWD_ERR_PANIC, 102),
        (AFWD_ERR_INVALID_UTF8, 103),
        (AFWD_ERR_INDEX_OUT_OF_RANGE, 104),
        (AFWD_ERR_NAME_EMPTY, 200),
        (AFWD_ERR_NAME_EMPTY_LABEL, 201),
        (AFWD_ERR_NAME_LABEL_TOO_LONG, 202),
        (AFWD_ERR_NAME_TOO_LONG, 203),
        (AFWD_ERR_NAME_BAD_ESCAPE, 204),
        (AFWD_ERR_ADDRESS_INVALID, 205),
        (AFWD_ERR_PORT_INVALID, 206),
        (AFWD_ERR_TIMEOUT_OUT_OF_RANGE, 207),
        (AFWD_ERR_MAX_TTL_OUT_OF_RANGE, 208),
        (AFWD_ERR_NO_UPSTREAM, 209),
        (AFWD_ERR_CONFIG_INVALID, 299),
        (AFWD_ERR_QUERY_MALFORMED, 300),
        (AFWD_ERR_QUERY_NOT_A_QUERY, 301),
        (AFWD_ERR_QUERY_UNSUPPORTED_OPCODE, 302),
        (AFWD_ERR_QUERY_QUESTION_COUNT, 303),
        (AFWD_ERR_REPLY_MALFORMED, 400),
        (AFWD_ERR_REPLY_NOT_A_RESPONSE, 401),
        (AFWD_ERR_REPLY_ID_MISMATCH, 402),
        (AFWD_ERR_REPLY_OPCODE_MISMATCH, 403),
        (AFWD_ERR_REPLY_QUESTION_MISMATCH, 404),
        (AFWD_ERR_REPLY_FOREIGN_RECORD, 405),
        (AFWD_ERR_REPLY_UPSTREAM_FAILURE, 406),
    ];
    for ((code, value), listed) in expected.iter().zip(ALL_RESULTS) {
        assert_eq!(*code as c_uint, *value);
        assert_eq!(*code, listed, "ALL_RESULTS out of order");
    }
    assert_eq!(AFWD_VERDICT_PASS as c_uint, 0);
    assert_eq!(AFWD_VERDICT_FORWARD as c_uint, 1);
    assert_eq!(AFWD_VERDICT_ERROR as c_uint, 2);
    assert_eq!(size_of::<afwd_result>(), size_of::<c_uint>());
    assert_eq!(size_of::<ResultCode>(), size_of::<c_uint>());
}

#[test]
fn every_code_has_a_distinct_nonempty_text() {
    let mut seen = std::collections::HashSet::new();
    for code in ALL_RESULTS {
        let t = text(code.into());
        assert!(!t.is_empty(), "{code:?}");
        assert_eq!(t, code.message());
        assert!(seen.insert(t), "{code:?} shares its text {t:?}");
        // Static: the same pointer every time.
        assert_eq!(afwd_result_text(code.into()), afwd_result_text(code.into()));
    }
    for unknown in [2, 99, 105, 210, 298, 304, 407, c_uint::MAX] {
        assert_eq!(afwd_result_text(ResultCode(unknown)), UNKNOWN_TEXT.as_ptr());
    }
}

#[test]
fn core_errors_map_to_their_own_codes_and_messages() {
    let config = [
        (ConfigError::NameEmpty, AFWD_ERR_NAME_EMPTY),
        (ConfigError::NameEmptyLabel, AFWD_ERR_NAME_EMPTY_LABEL),
        (ConfigError::NameLabelTooLong, AFWD_ERR_NAME_LABEL_TOO_LONG),
        (ConfigError::NameTooLong, AFWD_ERR_NAME_TOO_LONG),
        (ConfigError::NameBadEscape, AFWD_ERR_NAME_BAD_ESCAPE),
        (ConfigError::AddressInvalid, AFWD_ERR_ADDRESS_INVALID),
        (ConfigError::PortInvalid, AFWD_ERR_PORT_INVALID),
        (
            ConfigError::TimeoutOutOfRange,
            AFWD_ERR_TIMEOUT_OUT_OF_RANGE,
        ),
        (ConfigError::MaxTtlOutOfRange, AFWD_ERR_MAX_TTL_OUT_OF_RANGE),
        (ConfigError::NoUpstream, AFWD_ERR_NO_UPSTREAM),
    ];
    for (e, code) in config {
        assert_eq!(afwd_result::from(e), code);
        assert_eq!(text(code.into()), e.as_str());
    }
    let query = [
        (QueryError::Malformed, AFWD_ERR_QUERY_MALFORMED),
        (QueryError::NotAQuery, AFWD_ERR_QUERY_NOT_A_QUERY),
        (
            QueryError::UnsupportedOpcode,
            AFWD_ERR_QUERY_UNSUPPORTED_OPCODE,
        ),
        (QueryError::QuestionCount, AFWD_ERR_QUERY_QUESTION_COUNT),
    ];
    for (e, code) in query {
        assert_eq!(afwd_result::from(e), code);
        assert_eq!(text(code.into()), e.as_str());
    }
    let reply = [
        (ReplyError::Truncated, AFWD_TRUNCATED),
        (ReplyError::Malformed, AFWD_ERR_REPLY_MALFORMED),
        (ReplyError::NotAResponse, AFWD_ERR_REPLY_NOT_A_RESPONSE),
        (ReplyError::IdMismatch, AFWD_ERR_REPLY_ID_MISMATCH),
        (ReplyError::OpcodeMismatch, AFWD_ERR_REPLY_OPCODE_MISMATCH),
        (
            ReplyError::QuestionMismatch,
            AFWD_ERR_REPLY_QUESTION_MISMATCH,
        ),
        (ReplyError::ForeignRecord, AFWD_ERR_REPLY_FOREIGN_RECORD),
        (ReplyError::UpstreamFailure, AFWD_ERR_REPLY_UPSTREAM_FAILURE),
    ];
    for (e, code) in reply {
        assert_eq!(afwd_result::from(e), code);
        assert_eq!(text(code.into()), e.as_str());
    }
}

// ---- NULL arguments -------------------------------------------------------------------------

#[test]
fn null_handles_and_pointers_are_rejected() {
    let c = config();
    let e = exchange(c, 0x4242);
    let b = builder();
    let mut buf = [0u8; 512];
    let mut n = 99usize;
    let mut c_out = ptr::dangling_mut();
    let mut e_out = ptr::dangling_mut();
    let q = query(1, QNAME, TXT);
    let reply = reply_to(&upstream_query(e));
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
            afwd_config_builder_set_timeout_ms(null_mut(), 100),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_config_builder_set_max_ttl(null_mut(), 10),
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
        assert_eq!(
            afwd_config_classify(null(), QNAME.as_ptr(), QNAME.len(), TXT, IN),
            AFWD_VERDICT_ERROR
        );
        assert_eq!(
            afwd_config_classify(c, null(), 5, TXT, IN),
            AFWD_VERDICT_ERROR
        );
        // Exchange.
        assert_eq!(
            afwd_exchange_new(null(), q.as_ptr(), q.len(), 1, &mut e_out),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert!(e_out.is_null(), "exchange_out is cleared on error");
        assert_eq!(
            afwd_exchange_new(c, null(), 12, 1, &mut e_out),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_new(c, q.as_ptr(), q.len(), 1, null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_upstream_query(null(), buf.as_mut_ptr(), buf.len(), &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_upstream_query(e, null_mut(), 16, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_upstream_query(e, buf.as_mut_ptr(), buf.len(), null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        let finish = |e, reply: *const u8, reply_len, buf: *mut u8, buf_len, n| {
            afwd_exchange_finish(e, reply, reply_len, false, buf, buf_len, n)
        };
        let (r, rl, bp, bl) = (reply.as_ptr(), reply.len(), buf.as_mut_ptr(), buf.len());
        assert_eq!(
            finish(null(), r, rl, bp, bl, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            finish(e, null(), rl, bp, bl, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            finish(e, r, rl, null_mut(), bl, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(finish(e, r, rl, bp, bl, null_mut()), AFWD_ERR_NULL_ARGUMENT);
        // free(NULL) is a no-op.
        afwd_config_builder_free(null_mut());
        afwd_config_free(null_mut());
        afwd_exchange_free(null_mut());
        // The handles are still good.
        assert_eq!(finish(e, r, rl, bp, bl, &mut n), AFWD_OK);
        assert!(n > 0);
        afwd_exchange_free(e);
        afwd_config_free(c);
        afwd_config_builder_free(b);
    }
}

#[test]
fn null_with_zero_length_is_an_empty_input() {
    let c = config();
    let b = builder();
    let mut e = ptr::dangling_mut();
    let e0 = exchange(c, 7);
    let mut buf = [0u8; 64];
    let mut n = 0;
    // SAFETY: live handles; NULL data pointers only with length 0.
    unsafe {
        // An empty name / address / message reaches the core, which rejects it for what it is.
        assert_eq!(
            afwd_config_builder_add_zone(b, null(), 0),
            AFWD_ERR_NAME_EMPTY
        );
        assert_eq!(
            afwd_config_builder_add_upstream(b, null(), 0),
            AFWD_ERR_ADDRESS_INVALID
        );
        assert_eq!(
            afwd_config_classify(c, null(), 0, TXT, IN),
            AFWD_VERDICT_PASS
        );
        assert_eq!(
            afwd_exchange_new(c, null(), 0, 1, &mut e),
            AFWD_ERR_QUERY_MALFORMED
        );
        assert!(e.is_null());
        assert_eq!(
            afwd_exchange_finish(e0, null(), 0, false, buf.as_mut_ptr(), buf.len(), &mut n),
            AFWD_ERR_REPLY_MALFORMED
        );
        assert_eq!(n, 0);
        afwd_exchange_free(e0);
        afwd_config_free(c);
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
            afwd_config_builder_add_upstream(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_INVALID_UTF8
        );
        afwd_config_builder_free(b);
    }
}

// ---- output buffers -------------------------------------------------------------------------

/// Checks the short-buffer protocol of one output function: `call(buf, buf_len, out_n)` must
/// want exactly `expected.len()` bytes, write nothing when short, and write `expected` when the
/// buffer is exactly long enough.
fn check_out_buffer(expected: &[u8], call: impl Fn(*mut u8, usize, *mut usize) -> afwd_result) {
    assert!(!expected.is_empty());
    let need = expected.len();
    let mut n = usize::MAX;
    // NULL with length 0 asks for the length.
    assert_eq!(call(null_mut(), 0, &mut n), AFWD_ERR_BUFFER_TOO_SHORT);
    assert_eq!(n, need);
    // One byte short: nothing written.
    let mut buf = vec![0xAA; need + 8];
    n = 0;
    assert_eq!(
        call(buf.as_mut_ptr(), need - 1, &mut n),
        AFWD_ERR_BUFFER_TOO_SHORT
    );
    assert_eq!(n, need);
    assert!(
        buf.iter().all(|&b| b == 0xAA),
        "a short buffer was written to"
    );
    // Exactly long enough: written, and not a byte more.
    n = 0;
    assert_eq!(call(buf.as_mut_ptr(), need, &mut n), AFWD_OK);
    assert_eq!(n, need);
    assert_eq!(&buf[..need], expected);
    assert!(
        buf[need..].iter().all(|&b| b == 0xAA),
        "written past *out_n"
    );
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

#[test]
fn exchange_outputs_handle_short_buffers() {
    let c = config();
    let e = exchange(c, 0xbeef);
    let uq = upstream_query(e);
    let reply = reply_to(&uq);
    // SAFETY: live handles; all slices and buffers are valid for their lengths.
    unsafe {
        check_out_buffer(&uq, |buf, len, n| {
            afwd_exchange_upstream_query(e, buf, len, n)
        });
        let mut full = vec![0u8; 65535];
        let mut n = 0;
        let r = afwd_exchange_finish(
            e,
            reply.as_ptr(),
            reply.len(),
            true,
            full.as_mut_ptr(),
            full.len(),
            &mut n,
        );
        assert_eq!(r, AFWD_OK);
        full.truncate(n);
        assert_eq!(&full[..2], &0xbeefu16.to_be_bytes(), "the client's ID");
        check_out_buffer(&full, |buf, len, n| {
            afwd_exchange_finish(e, reply.as_ptr(), reply.len(), true, buf, len, n)
        });
        afwd_exchange_free(e);
        afwd_config_free(c);
    }
}

// ---- threads --------------------------------------------------------------------------------

#[test]
fn a_config_is_shared_by_threads() {
    struct Shared(*const afwd_config);
    // SAFETY: afwd_config is documented (and asserted at compile time) to be Send + Sync.
    unsafe impl Sync for Shared {}
    let c = config();
    let shared = Shared(c);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let shared = &shared;
                for _ in 0..1000 {
                    // SAFETY: the config is live until after the scope.
                    let v = unsafe {
                        afwd_config_classify(shared.0, QNAME.as_ptr(), QNAME.len(), TXT, IN)
                    };
                    assert_eq!(v, AFWD_VERDICT_FORWARD);
                }
            });
        }
    });
    // SAFETY: no thread uses it any more.
    unsafe { afwd_config_free(c) };
}

// ---- the hot path ---------------------------------------------------------------------------

/// Counts the allocations made on each thread (the test binary's global allocator).
mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    }

    struct Counting;

    // SAFETY: every operation is the system allocator's; the counting is on the side.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // try_with: the thread-local may already be gone while a thread shuts down.
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            // SAFETY: forwarded from the caller.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded from the caller.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            // SAFETY: forwarded from the caller.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// Allocations made on this thread so far.
    pub(super) fn on_this_thread() -> u64 {
        ALLOCATIONS.with(Cell::get)
    }
}

#[test]
fn classify_does_not_allocate() {
    let c = config();
    let names: [&[u8]; 6] = [
        QNAME,
        b"_ACME-Challenge.Example.COM",
        br"\095acme-challenge.example.com.",
        b"www.example.com.",
        b"_acme-challenge.example.org.",
        b"",
    ];
    // The counter itself sees allocations.
    let before = alloc_count::on_this_thread();
    drop(std::hint::black_box(vec![1u8; 16]));
    assert_eq!(alloc_count::on_this_thread(), before + 1);

    let before = alloc_count::on_this_thread();
    let mut forwarded = 0;
    // SAFETY: `c` is live and every name valid for its length; the NULL pointers go with
    // length 0, or test the error paths.
    unsafe {
        for name in names {
            if afwd_config_classify(c, name.as_ptr(), name.len(), TXT, IN) == AFWD_VERDICT_FORWARD {
                forwarded += 1;
            }
        }
        assert_eq!(
            afwd_config_classify(c, null(), 0, TXT, IN),
            AFWD_VERDICT_PASS
        );
        assert_eq!(
            afwd_config_classify(null(), QNAME.as_ptr(), QNAME.len(), TXT, IN),
            AFWD_VERDICT_ERROR
        );
        assert_eq!(
            afwd_config_classify(c, null(), 9, TXT, IN),
            AFWD_VERDICT_ERROR
        );
    }
    assert_eq!(
        alloc_count::on_this_thread(),
        before,
        "afwd_config_classify allocated"
    );
    assert_eq!(forwarded, 3);
    // SAFETY: no longer used.
    unsafe { afwd_config_free(c) };
}
