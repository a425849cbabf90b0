//! Unit tests of the C ABI, calling the `extern "C"` functions as C would: the panic boundary,
//! NULL arguments, short buffers, result texts, the poll protocol, the allocation-free hot path.
//! The DNS behaviour itself is the core's (tested there and, end to end through the header, by
//! ffi/tests/ffi_test.c).

use std::ffi::{CStr, c_uint};
use std::mem::MaybeUninit;
use std::ptr::{self, null, null_mut};

use acmeforward::{ConfigError, FailReason, QueryError, ReplyError, ShareError};

use crate::boundary::{ffi_boundary, inject};
use crate::result::{ALL_RESULTS, PANIC_TEXT, UNKNOWN_TEXT};
use crate::*;

use afwd_action_kind::*;
use afwd_result::*;
use afwd_upstream_mode::*;
use afwd_verdict::*;

const ZONE: &[u8] = b"example.com.";
const DELEGATED: &[u8] = b"auth.example.net.";
const UPSTREAM: &[u8] = b"127.0.0.1:5353";
const UPSTREAM2: &[u8] = b"127.0.0.2";
pub(crate) const QNAME: &[u8] = b"_acme-challenge.www.example.com.";
const TARGET: &[u8] = b"x.auth.example.org.";
const HAIRPIN_IP: &[u8] = b"www.example.com *.apps.example.com 10.96.0.80 fd00::80";
const HAIRPIN_NAME: &[u8] =
    b"svc.example.com ingress-nginx-controller.ingress-nginx.svc.cluster.local";
const INGRESS: &[u8] = b"ingress-nginx-controller.ingress-nginx.svc.cluster.local.";
const AAAA: u16 = 28;
const A: u16 = 1;
const CNAME: u16 = 5;
pub(crate) const TXT: u16 = 16;
const IN: u16 = 1;
pub(crate) const NOW: u64 = 1_000_000;

/// A DNS name in wire form (presentation form in, no escapes).
pub(crate) fn wire_name(name: &[u8]) -> Vec<u8> {
    let mut w = Vec::new();
    for label in name.split(|&b| b == b'.').filter(|l| !l.is_empty()) {
        w.push(u8::try_from(label.len()).unwrap());
        w.extend_from_slice(label);
    }
    w.push(0);
    w
}

/// A DNS query for `name`, RD set, no EDNS.
pub(crate) fn query(id: u16, name: &[u8], qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(&wire_name(name));
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&IN.to_be_bytes());
    q
}

/// The end of the question section of `msg`.
pub(crate) fn question_end(msg: &[u8]) -> usize {
    let mut end = 12;
    while msg[end] != 0 {
        end += 1 + usize::from(msg[end]);
    }
    end + 1 + 4
}

/// The upstream's reply to `upstream_query`: QR, RA and AA set, `answers` (owner: a compression
/// pointer to the question name; type; TTL; RDATA) inserted after the question; anything after
/// the question (the OPT record) is kept.
fn reply_with(upstream_query: &[u8], answers: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
    let end = question_end(upstream_query);
    let mut r = upstream_query[..end].to_vec();
    r[2] |= 0x80 | 0x04;
    r[3] |= 0x80;
    r[6..8].copy_from_slice(&u16::try_from(answers.len()).unwrap().to_be_bytes());
    for (rtype, ttl, rdata) in answers {
        r.extend_from_slice(&[0xc0, 12]);
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&IN.to_be_bytes());
        r.extend_from_slice(&ttl.to_be_bytes());
        r.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
        r.extend_from_slice(rdata);
    }
    r.extend_from_slice(&upstream_query[end..]);
    r
}

/// A reply with one TXT "token" answer on the question name.
pub(crate) fn reply_to(upstream_query: &[u8]) -> Vec<u8> {
    reply_with(upstream_query, &[(TXT, 3600, b"\x05token".to_vec())])
}

pub(crate) fn builder() -> *mut afwd_config_builder {
    let b = afwd_config_builder_new();
    assert!(!b.is_null());
    b
}

/// An engine with ZONE, UPSTREAM and UPSTREAM2, and the given upstream mode.
fn engine_with(mode: afwd_upstream_mode) -> *mut afwd_engine {
    let b = builder();
    let mut c = null_mut();
    let mut e = null_mut();
    // SAFETY: `b` and `c` are live; the slices and the out-pointers are valid for the calls.
    unsafe {
        assert_eq!(
            afwd_config_builder_add_zone(b, ZONE.as_ptr(), ZONE.len()),
            AFWD_OK
        );
        for u in [UPSTREAM, UPSTREAM2] {
            assert_eq!(
                afwd_config_builder_add_upstream(b, u.as_ptr(), u.len()),
                AFWD_OK
            );
        }
        assert_eq!(
            afwd_config_builder_set_upstream_mode(b, mode.into()),
            AFWD_OK
        );
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
        assert!(!c.is_null());
        assert_eq!(afwd_engine_new(c, &mut e), AFWD_OK);
        // The engine keeps its own copy.
        afwd_config_free(c);
    }
    assert!(!e.is_null());
    e
}

pub(crate) fn engine() -> *mut afwd_engine {
    engine_with(AFWD_UPSTREAM_RECURSIVE)
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

/// An exchange for a `qtype` query on `name` with client ID `id`, over UDP.
fn exchange_for(e: *const afwd_engine, id: u16, name: &[u8], qtype: u16) -> *mut afwd_exchange {
    let q = query(id, name, qtype);
    let mut x = null_mut();
    // SAFETY: `e` is live; the slice and the out-pointer are valid for the call.
    let r = unsafe {
        afwd_exchange_new(
            e,
            q.as_ptr(),
            q.len(),
            false,
            0x0123_4567_89ab_cdef,
            NOW,
            &mut x,
        )
    };
    assert_eq!(r, AFWD_OK);
    assert!(!x.is_null());
    x
}

/// An exchange for a TXT query on QNAME with client ID `id`.
pub(crate) fn exchange(e: *const afwd_engine, id: u16) -> *mut afwd_exchange {
    exchange_for(e, id, QNAME, TXT)
}

/// Polls `x` with a big buffer: the action and its bytes.
pub(crate) fn poll(x: *const afwd_exchange) -> (afwd_action, Vec<u8>) {
    let mut buf = vec![0u8; 65535];
    let mut action = MaybeUninit::<afwd_action>::uninit();
    // SAFETY: `x` is live; `buf` has `buf.len()` writable bytes; `action` is writable storage.
    let r = unsafe { afwd_exchange_poll(x, buf.as_mut_ptr(), buf.len(), action.as_mut_ptr()) };
    assert_eq!(r, AFWD_OK);
    // SAFETY: on AFWD_OK the action was written.
    let action = unsafe { action.assume_init() };
    buf.truncate(action.len);
    (action, buf)
}

/// The query of the exchange's current SEND.
pub(crate) fn sent_query(x: *const afwd_exchange) -> Vec<u8> {
    let (action, bytes) = poll(x);
    assert_eq!(action.kind, AFWD_ACTION_SEND);
    bytes
}

fn ipv4_mapped(ip: [u8; 4]) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[10] = 0xff;
    m[11] = 0xff;
    m[12..].copy_from_slice(&ip);
    m
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
pub(crate) fn with_injected_panic<T>(call: impl FnOnce() -> T) -> T {
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
                NOW
            )),
            AFWD_VERDICT_ERROR
        );
        let q = query(1, QNAME, TXT);
        assert_eq!(
            with_injected_panic(|| afwd_exchange_new(
                e,
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
            with_injected_panic(|| afwd_exchange_reply(x, e, reply.as_ptr(), reply.len(), NOW)),
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
        // reply to its first send; the hairpin line was not added.
        assert_eq!(afwd_config_builder_set_max_ttl(b, 10), AFWD_OK);
        assert_eq!(
            afwd_config_builder_add_hairpin(b, HAIRPIN_IP.as_ptr(), HAIRPIN_IP.len()),
            AFWD_OK
        );
        assert_eq!(afwd_engine_learned_len(e), 0);
        assert_eq!(
            afwd_exchange_reply(x, e, reply.as_ptr(), reply.len(), NOW),
            AFWD_OK
        );
        assert_eq!(poll(x).0.kind, AFWD_ACTION_ANSWER);
        afwd_exchange_free(x);
        afwd_engine_free(e);
        afwd_config_free(c);
        afwd_config_builder_free(b);
    }
}

// ---- result codes and texts -----------------------------------------------------------------

#[test]
fn result_codes_are_the_contract_values() {
    let expected: [(afwd_result, c_uint); ALL_RESULTS.len()] = [
        (AFWD_OK, 0),
        (AFWD_TRUNCATED, 1),
        (AFWD_ERR_NULL_ARGUMENT, 100),
        (AFWD_ERR_BUFFER_TOO_SHORT, 101),
        (AFWD_ERR_PANIC, 102),
        (AFWD_ERR_INVALID_UTF8, 103),
        (AFWD_ERR_INDEX_OUT_OF_RANGE, 104),
        (AFWD_ERR_EXCHANGE_DONE, 105),
        (AFWD_ERR_EXCHANGE_NOT_ANSWERED, 106),
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
        (AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE, 210),
        (AFWD_ERR_UPSTREAM_MODE_INVALID, 211),
        (AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS, 212),
        (AFWD_ERR_HAIRPIN_MISSING_TARGET, 213),
        (AFWD_ERR_HAIRPIN_BAD_WILDCARD, 214),
        (AFWD_ERR_HAIRPIN_TARGET_INVALID, 215),
        (AFWD_ERR_HAIRPIN_DUPLICATE_NAME, 216),
        (AFWD_ERR_DELEGATED_ROOT, 217),
        (AFWD_ERR_PROTECTED_ROOT, 218),
        (AFWD_ERR_ZONE_PROTECTED, 219),
        (AFWD_ERR_DELEGATED_PROTECTED, 220),
        (AFWD_ERR_NET_INVALID, 221),
        (AFWD_ERR_MAX_TIME_OUT_OF_RANGE, 222),
        (AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE, 223),
        (AFWD_ERR_HAIRPIN_ROOT_NAME, 224),
        (AFWD_ERR_CONFIG_INVALID, 299),
        (AFWD_ERR_QUERY_MALFORMED, 300),
        (AFWD_ERR_QUERY_NOT_A_QUERY, 301),
        (AFWD_ERR_QUERY_UNSUPPORTED_OPCODE, 302),
        (AFWD_ERR_QUERY_QUESTION_COUNT, 303),
        (AFWD_ERR_QUERY_OTHER_QUESTION, 304),
        (AFWD_ERR_REPLY_MALFORMED, 400),
        (AFWD_ERR_REPLY_NOT_A_RESPONSE, 401),
        (AFWD_ERR_REPLY_ID_MISMATCH, 402),
        (AFWD_ERR_REPLY_OPCODE_MISMATCH, 403),
        (AFWD_ERR_REPLY_QUESTION_MISMATCH, 404),
        (AFWD_ERR_REPLY_FOREIGN_RECORD, 405),
        (AFWD_ERR_REPLY_UPSTREAM_FAILURE, 406),
        (AFWD_ERR_REPLY_NOT_AUTHORITATIVE, 407),
        (AFWD_ERR_REPLY_LATE, 408),
        (AFWD_ERR_NO_REPLY, 500),
        (AFWD_ERR_SEND_LIMIT, 501),
        (AFWD_ERR_NO_NAMESERVERS, 502),
        (AFWD_ERR_HAIRPIN_TARGET_FAILED, 503),
        (AFWD_ERR_TIME_LIMIT, 504),
        (AFWD_ERR_EXCHANGE_FAILED, 599),
    ];
    for ((code, value), listed) in expected.iter().zip(ALL_RESULTS) {
        assert_eq!(*code as c_uint, *value);
        assert_eq!(*code, listed, "ALL_RESULTS out of order");
    }
    assert_eq!(AFWD_VERDICT_PASS as c_uint, 0);
    assert_eq!(AFWD_VERDICT_FORWARD as c_uint, 1);
    assert_eq!(AFWD_VERDICT_ERROR as c_uint, 2);
    assert_eq!(AFWD_VERDICT_HAIRPIN as c_uint, 3);
    assert_eq!(AFWD_ACTION_SEND as c_uint, 1);
    assert_eq!(AFWD_ACTION_ANSWER as c_uint, 2);
    assert_eq!(AFWD_ACTION_FAIL as c_uint, 3);
    assert_eq!(AFWD_ACTION_INTERNAL as c_uint, 4);
    assert_eq!(AFWD_UPSTREAM_RECURSIVE as c_uint, 0);
    assert_eq!(AFWD_UPSTREAM_AUTHORITATIVE as c_uint, 1);
    assert_eq!(size_of::<afwd_result>(), size_of::<c_uint>());
    assert_eq!(size_of::<ResultCode>(), size_of::<c_uint>());
    assert_eq!(size_of::<afwd_upstream_mode>(), size_of::<c_uint>());
    assert_eq!(size_of::<UpstreamModeCode>(), size_of::<c_uint>());
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
    for unknown in [2, 99, 107, 225, 298, 305, 409, 505, 598, 600, c_uint::MAX] {
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
        (
            ConfigError::MaxLearnedOutOfRange,
            AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE,
        ),
        (
            ConfigError::HairpinNameIsAddress,
            AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS,
        ),
        (
            ConfigError::HairpinMissingTarget,
            AFWD_ERR_HAIRPIN_MISSING_TARGET,
        ),
        (
            ConfigError::HairpinBadWildcard,
            AFWD_ERR_HAIRPIN_BAD_WILDCARD,
        ),
        (
            ConfigError::HairpinTargetInvalid,
            AFWD_ERR_HAIRPIN_TARGET_INVALID,
        ),
        (
            ConfigError::HairpinDuplicateName,
            AFWD_ERR_HAIRPIN_DUPLICATE_NAME,
        ),
        (ConfigError::DelegatedRoot, AFWD_ERR_DELEGATED_ROOT),
        (ConfigError::ProtectedRoot, AFWD_ERR_PROTECTED_ROOT),
        (ConfigError::ZoneProtected, AFWD_ERR_ZONE_PROTECTED),
        (
            ConfigError::DelegatedProtected,
            AFWD_ERR_DELEGATED_PROTECTED,
        ),
        (ConfigError::NetInvalid, AFWD_ERR_NET_INVALID),
        (
            ConfigError::MaxTimeOutOfRange,
            AFWD_ERR_MAX_TIME_OUT_OF_RANGE,
        ),
        (
            ConfigError::MaxConcurrentOutOfRange,
            AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE,
        ),
        (ConfigError::HairpinRootName, AFWD_ERR_HAIRPIN_ROOT_NAME),
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
    let share = [
        (ShareError::OtherQuestion, AFWD_ERR_QUERY_OTHER_QUESTION),
        (ShareError::NotAnswered, AFWD_ERR_EXCHANGE_NOT_ANSWERED),
    ];
    for (e, code) in share {
        assert_eq!(afwd_result::from(e), code);
        assert_eq!(text(code.into()), e.as_str());
    }
    assert_eq!(
        afwd_result::from(ShareError::Query(QueryError::NotAQuery)),
        AFWD_ERR_QUERY_NOT_A_QUERY
    );
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
        (
            ReplyError::NotAuthoritative,
            AFWD_ERR_REPLY_NOT_AUTHORITATIVE,
        ),
        (ReplyError::ExchangeDone, AFWD_ERR_EXCHANGE_DONE),
    ];
    for (e, code) in reply {
        assert_eq!(afwd_result::from(e), code);
        assert_eq!(text(code.into()), e.as_str());
        // A failure blamed on a reply carries the reply's code.
        assert_eq!(afwd_result::from(FailReason::Reply(e)), code);
    }
    let fail = [
        (FailReason::NoReply, AFWD_ERR_NO_REPLY),
        (FailReason::SendLimit, AFWD_ERR_SEND_LIMIT),
        (FailReason::NoNameservers, AFWD_ERR_NO_NAMESERVERS),
        (FailReason::HairpinTarget, AFWD_ERR_HAIRPIN_TARGET_FAILED),
    ];
    for (r, code) in fail {
        assert_eq!(afwd_result::from(r), code);
        assert_eq!(text(code.into()), r.as_str());
    }
}

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
            afwd_engine_classify(null(), QNAME.as_ptr(), QNAME.len(), TXT, IN, NOW),
            AFWD_VERDICT_ERROR
        );
        assert_eq!(
            afwd_engine_classify(e, null(), 5, TXT, IN, NOW),
            AFWD_VERDICT_ERROR
        );
        // Exchange.
        let new = |e, q: *const u8, ql, out| afwd_exchange_new(e, q, ql, false, 1, NOW, out);
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
            afwd_exchange_reply(null_mut(), e, r, rl, NOW),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_reply(x, null(), r, rl, NOW),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_reply(x, e, null(), rl, NOW),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(afwd_exchange_failed(null_mut(), 0), AFWD_ERR_NULL_ARGUMENT);
        // free(NULL) is a no-op.
        afwd_config_builder_free(null_mut());
        afwd_config_free(null_mut());
        afwd_engine_free(null_mut());
        afwd_exchange_free(null_mut());
        // The handles are still good: the exchange still waits for its first reply.
        assert_eq!(afwd_exchange_reply(x, e, r, rl, NOW), AFWD_OK);
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
            afwd_engine_classify(e, null(), 0, TXT, IN, NOW),
            AFWD_VERDICT_PASS
        );
        assert_eq!(
            afwd_exchange_new(e, null(), 0, false, 1, NOW, &mut x),
            AFWD_ERR_QUERY_MALFORMED
        );
        assert!(x.is_null());
        assert_eq!(
            afwd_exchange_reply(x0, e, null(), 0, NOW),
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
        let bad = b"www.example.com 10.0.0.\xff";
        assert_eq!(
            afwd_config_builder_add_hairpin(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_INVALID_UTF8
        );
        afwd_config_builder_free(b);
    }
}

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

// ---- output buffers -------------------------------------------------------------------------

/// Checks the short-buffer protocol of one output function: `call(buf, buf_len, out_n)` must
/// want exactly `expected.len()` bytes, write nothing when short, and write `expected` when the
/// buffer is exactly long enough.
pub(crate) fn check_out_buffer(
    expected: &[u8],
    call: impl Fn(*mut u8, usize, *mut usize) -> afwd_result,
) {
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

/// `afwd_exchange_poll` through the `check_out_buffer` protocol: `*out_n` is `action.len`, and
/// the rest of the action is `want` whatever the buffer.
fn poll_into(
    x: *const afwd_exchange,
    want: afwd_action,
) -> impl Fn(*mut u8, usize, *mut usize) -> afwd_result {
    move |buf, len, n| {
        let mut action = MaybeUninit::<afwd_action>::uninit();
        // SAFETY: `x` is live; `buf` is NULL with 0 or valid for `len`; `n` is writable.
        unsafe {
            let r = afwd_exchange_poll(x, buf, len, action.as_mut_ptr());
            let action = action.assume_init();
            *n = action.len;
            assert_eq!(
                afwd_action {
                    len: want.len,
                    ..action
                },
                want
            );
            r
        }
    }
}

#[test]
fn poll_outputs_handle_short_buffers() {
    let e = engine();
    let x = exchange(e, 0xbeef);
    let (send, query) = poll(x);
    assert_eq!(send.kind, AFWD_ACTION_SEND);
    assert_eq!(send.len, query.len());
    check_out_buffer(&query, poll_into(x, send));
    let reply = reply_to(&query);
    // SAFETY: live handles; the slice is valid for its length.
    unsafe {
        assert_eq!(
            afwd_exchange_reply(x, e, reply.as_ptr(), reply.len(), NOW),
            AFWD_OK
        );
    }
    let (answer, out) = poll(x);
    assert_eq!(answer.kind, AFWD_ACTION_ANSWER);
    assert_eq!(&out[..2], &0xbeefu16.to_be_bytes(), "the client's ID");
    check_out_buffer(&out, poll_into(x, answer));
    // SAFETY: no longer used.
    unsafe {
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

// ---- the poll protocol ----------------------------------------------------------------------

#[test]
fn exchange_sends_fails_over_and_answers() {
    let e = engine();
    let x = exchange(e, 0x5151);
    // SAFETY: live handles; all slices are valid for their lengths.
    unsafe {
        // First upstream, UDP, RD set.
        let (a, q1) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_SEND);
        assert_eq!(a.server_ip, ipv4_mapped([127, 0, 0, 1]));
        assert_eq!(a.server_port, 5353);
        assert!(!a.tcp);
        assert_eq!(a.fail_reason, AFWD_OK);
        assert_ne!(q1[2] & 0x01, 0, "RD");
        // Polling again gives the same action.
        assert_eq!(poll(x), (a, q1.clone()));
        // A timeout: the second upstream.
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_OK);
        let (a, q2) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_SEND);
        assert_eq!(a.server_ip, ipv4_mapped([127, 0, 0, 2]));
        assert_eq!(a.server_port, 53);
        // A truncated UDP reply: the same upstream again, over TCP.
        let mut tc = reply_to(&q2);
        tc[2] |= 0x02;
        assert_eq!(
            afwd_exchange_reply(x, e, tc.as_ptr(), tc.len(), NOW),
            AFWD_TRUNCATED
        );
        let (a, q3) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_SEND);
        assert_eq!(a.server_ip, ipv4_mapped([127, 0, 0, 2]));
        assert!(a.tcp);
        let reply = reply_to(&q3);
        assert_eq!(
            afwd_exchange_reply(x, e, reply.as_ptr(), reply.len(), NOW),
            AFWD_OK
        );
        let (a, out) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_ANSWER);
        assert_eq!(a.len, out.len());
        assert_eq!(&out[..2], &0x5151u16.to_be_bytes());
        // Done: no more replies or failures are taken.
        assert_eq!(
            afwd_exchange_reply(x, e, reply.as_ptr(), reply.len(), NOW),
            AFWD_ERR_EXCHANGE_DONE
        );
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_ERR_EXCHANGE_DONE);
        assert_eq!(poll(x).0.kind, AFWD_ACTION_ANSWER);
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

#[test]
fn tls_upstream_sends_say_tcp_for_a_udp_client() {
    let b = builder();
    let mut c = null_mut();
    let mut e = null_mut();
    let tls = b"[::1]:853";
    // SAFETY: live handles; all slices and out-pointers are valid for the calls.
    unsafe {
        assert_eq!(
            afwd_config_builder_add_zone(b, ZONE.as_ptr(), ZONE.len()),
            AFWD_OK
        );
        assert_eq!(
            afwd_config_builder_add_upstream_tls(b, tls.as_ptr(), tls.len()),
            AFWD_OK
        );
        assert_eq!(
            afwd_config_builder_add_upstream(b, UPSTREAM.as_ptr(), UPSTREAM.len()),
            AFWD_OK
        );
        let bad = b"tls://127.0.0.1";
        assert_eq!(
            afwd_config_builder_add_upstream_tls(b, bad.as_ptr(), bad.len()),
            AFWD_ERR_ADDRESS_INVALID
        );
        assert_eq!(afwd_config_new(b, &mut c), AFWD_OK);
        afwd_config_builder_free(b);
        assert_eq!(afwd_engine_new(c, &mut e), AFWD_OK);
        afwd_config_free(c);
        let x = exchange(e, 0x7171);
        let (a, _) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_SEND);
        let mut loopback6 = [0u8; 16];
        loopback6[15] = 1;
        assert_eq!((a.server_ip, a.server_port, a.tcp), (loopback6, 853, true));
        // The plain upstream after it: the client's UDP.
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_OK);
        let (a, _) = poll(x);
        assert_eq!(
            (a.server_ip, a.server_port, a.tcp),
            (ipv4_mapped([127, 0, 0, 1]), 5353, false)
        );
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

#[test]
fn exchange_fails_after_the_last_upstream() {
    let e = engine();
    let x = exchange(e, 0x6161);
    // SAFETY: live handles; all slices are valid for their lengths.
    unsafe {
        // Another ID over UDP: dropped, the same try keeps waiting.
        let first = sent_query(x);
        let mut bad = reply_to(&first);
        bad[0] ^= 0xff;
        assert_eq!(
            afwd_exchange_reply(x, e, bad.as_ptr(), bad.len(), NOW),
            AFWD_ERR_REPLY_ID_MISMATCH
        );
        assert_eq!(sent_query(x), first);
        assert_eq!(afwd_exchange_failed(x, NOW), AFWD_OK);
        let mut servfail = reply_to(&sent_query(x));
        servfail[3] = (servfail[3] & 0xf0) | 2;
        assert_eq!(
            afwd_exchange_reply(x, e, servfail.as_ptr(), servfail.len(), NOW),
            AFWD_ERR_REPLY_UPSTREAM_FAILURE
        );
        let (a, bytes) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_FAIL);
        assert_eq!(a.len, 0);
        assert!(bytes.is_empty());
        assert_eq!(a.fail_reason, AFWD_ERR_REPLY_UPSTREAM_FAILURE);
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_ERR_EXCHANGE_DONE);
        assert_eq!(
            afwd_exchange_reply(x, e, servfail.as_ptr(), servfail.len(), NOW),
            AFWD_ERR_EXCHANGE_DONE
        );
        // FAIL writes nothing, so even a NULL buffer is fine.
        let mut action = MaybeUninit::<afwd_action>::uninit();
        assert_eq!(
            afwd_exchange_poll(x, null_mut(), 0, action.as_mut_ptr()),
            AFWD_OK
        );
        assert_eq!(action.assume_init().kind, AFWD_ACTION_FAIL);
        afwd_exchange_free(x);

        // Only timeouts: the reason is that no reply came.
        let x = exchange(e, 0x6262);
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_OK);
        assert_eq!(afwd_exchange_failed(x, 0), AFWD_OK);
        let (a, _) = poll(x);
        assert_eq!(a.kind, AFWD_ACTION_FAIL);
        assert_eq!(a.fail_reason, AFWD_ERR_NO_REPLY);
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

#[test]
fn an_exchange_outlives_its_engine_until_the_reply() {
    let e = engine();
    let x = exchange(e, 0x7171);
    let q = sent_query(x);
    // SAFETY: the exchange owns nothing of the engine; the reply goes through another engine.
    unsafe {
        afwd_engine_free(e);
        let e2 = engine();
        let reply = reply_to(&q);
        assert_eq!(
            afwd_exchange_reply(x, e2, reply.as_ptr(), reply.len(), NOW),
            AFWD_OK
        );
        assert_eq!(poll(x).0.kind, AFWD_ACTION_ANSWER);
        afwd_exchange_free(x);
        afwd_engine_free(e2);
    }
}

// ---- threads --------------------------------------------------------------------------------

#[test]
fn an_engine_is_shared_by_threads() {
    struct Shared(*const afwd_engine);
    // SAFETY: afwd_engine is documented (and asserted at compile time) to be Send + Sync.
    unsafe impl Sync for Shared {}
    let e = engine();
    let shared = Shared(e);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let shared = &shared;
                for i in 0..1000 {
                    // SAFETY: the engine is live until after the scope.
                    let v = unsafe {
                        afwd_engine_classify(shared.0, QNAME.as_ptr(), QNAME.len(), TXT, IN, i)
                    };
                    assert_eq!(v, AFWD_VERDICT_FORWARD);
                }
            });
        }
    });
    // SAFETY: no thread uses it any more.
    unsafe { afwd_engine_free(e) };
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

/// Classifies `names` (TXT, IN) on `e` and checks that no call allocated; returns how many
/// were forwarded.
fn classify_without_allocating(e: *const afwd_engine, names: &[&[u8]]) -> usize {
    // The counter itself sees allocations.
    let before = alloc_count::on_this_thread();
    drop(std::hint::black_box(vec![1u8; 16]));
    assert_eq!(alloc_count::on_this_thread(), before + 1);

    let before = alloc_count::on_this_thread();
    let mut forwarded = 0;
    // SAFETY: `e` is live and every name valid for its length; the NULL pointers go with
    // length 0, or test the error paths.
    unsafe {
        for name in names {
            for qtype in [TXT, A] {
                let v = afwd_engine_classify(e, name.as_ptr(), name.len(), qtype, IN, NOW);
                if qtype == TXT && v == AFWD_VERDICT_FORWARD {
                    forwarded += 1;
                }
            }
        }
        assert_eq!(
            afwd_engine_classify(e, null(), 0, TXT, IN, NOW),
            AFWD_VERDICT_PASS
        );
        assert_eq!(
            afwd_engine_classify(null(), QNAME.as_ptr(), QNAME.len(), TXT, IN, NOW),
            AFWD_VERDICT_ERROR
        );
        assert_eq!(
            afwd_engine_classify(e, null(), 9, TXT, IN, NOW),
            AFWD_VERDICT_ERROR
        );
        std::hint::black_box(afwd_engine_learned_len(e));
    }
    assert_eq!(
        alloc_count::on_this_thread(),
        before,
        "afwd_engine_classify allocated"
    );
    forwarded
}

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
            afwd_exchange_reply(x, e, reply.as_ptr(), reply.len(), NOW),
            AFWD_OK
        );
        internal_nxdomain(x, e);
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
            afwd_exchange_reply(x, e, reply.as_ptr(), reply.len(), NOW),
            AFWD_OK
        );
        internal_nxdomain(x, e);
        afwd_exchange_free(x);
        let classify = |now| afwd_engine_classify(e, TARGET.as_ptr(), TARGET.len(), TXT, IN, now);
        // A TTL of 0 is learned for at least 60 s, and not for a day.
        assert_eq!(classify(NOW), AFWD_VERDICT_FORWARD);
        assert_eq!(classify(NOW + 59_000), AFWD_VERDICT_FORWARD);
        assert_eq!(classify(NOW + 86_400_000 + 1), AFWD_VERDICT_PASS);
        afwd_engine_free(e);
    }
}

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
    let cases: [(&[u8], afwd_result); 9] = [
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
        afwd_config_builder_free(b);
    }
}

#[test]
fn hairpin_classify_and_static_answer() {
    let e = hairpin_engine(30);
    // SAFETY: live handles; all slices and buffers are valid for their lengths.
    unsafe {
        let classify =
            |name: &[u8], qtype| afwd_engine_classify(e, name.as_ptr(), name.len(), qtype, IN, NOW);
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
            afwd_exchange_reply(x, e, reply.as_ptr(), reply.len(), NOW),
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
            afwd_exchange_reply(x, e, nx.as_ptr(), nx.len(), NOW),
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
            afwd_exchange_reply(x, e, sf.as_ptr(), sf.len(), NOW),
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
                if afwd_engine_classify(e, name.as_ptr(), name.len(), qtype, IN, NOW)
                    == AFWD_VERDICT_HAIRPIN
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
