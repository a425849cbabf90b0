//! `afwd_exchange`: one forwarded query.

use acmeforward::{Exchange, Transport};

use crate::boundary::ffi_boundary;
use crate::config::afwd_config;
use crate::result::afwd_result;
use crate::slice::{self, OutBuf};

/// One forwarded query: the upstream query to send, and what is needed to check an upstream
/// reply and rewrite it for the client.
///
/// Made by `afwd_exchange_new`, freed by `afwd_exchange_free`. It does not refer to the config
/// or to the client query it was made from: both may be freed while it lives. Use it from one
/// thread at a time (it may move between threads between calls).
pub struct afwd_exchange {
    inner: Exchange,
}

// An exchange moves between threads (goroutines change threads between cgo calls), and it
// borrows nothing (so the config may go first).
const _: () = {
    const fn movable<T: Send + 'static>() {}
    movable::<Exchange>();
};

/// Starts forwarding `query`, the client's query in DNS wire format (`query_len` bytes, as
/// received over UDP, or without the 2-byte length prefix over TCP), which `afwd_config_classify`
/// said to forward.
///
/// Builds the upstream query: a fresh ID and a 0x20 letter-case mix of the name derived from
/// `random` (pass 64 bits from a good random source, new for every query), RD set, EDNS0 with a
/// UDP payload size of 1232. `query` is copied, not kept.
///
/// On `AFWD_OK`, `*exchange_out` is a new exchange the caller owns and frees with
/// `afwd_exchange_free`; on any error it is set to NULL (unless `exchange_out` itself is NULL).
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `c` or `exchange_out`, or a NULL
/// `query` with a non-zero length (NULL with 0 is an empty, malformed query);
/// `AFWD_ERR_QUERY_MALFORMED`, `AFWD_ERR_QUERY_NOT_A_QUERY`, `AFWD_ERR_QUERY_UNSUPPORTED_OPCODE`,
/// `AFWD_ERR_QUERY_QUESTION_COUNT`.
///
/// Thread-safe on a shared config.
///
/// # Safety
///
/// `c` is NULL or a live config. `query` is NULL or points to `query_len` readable bytes.
/// `exchange_out` is NULL or points to writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_new(
    c: *const afwd_config,
    query: *const u8,
    query_len: usize,
    random: u64,
    exchange_out: *mut *mut afwd_exchange,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or storage for one pointer.
        let Some(exchange_out) = (unsafe { exchange_out.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *exchange_out = std::ptr::null_mut();
        // SAFETY: the caller passes NULL or a live config.
        let Some(config) = (unsafe { c.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller passes NULL or `query_len` readable bytes, alive for this call.
        let Some(query) = (unsafe { slice::input(query, query_len) }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        match Exchange::new(config.core(), query, random) {
            Ok(inner) => {
                *exchange_out = Box::into_raw(Box::new(afwd_exchange { inner }));
                afwd_result::AFWD_OK
            }
            Err(e) => e.into(),
        }
    })
}

/// Frees an exchange made by `afwd_exchange_new`. NULL is a no-op.
///
/// # Safety
///
/// `exchange` is NULL or an exchange from `afwd_exchange_new` that was not freed yet and that
/// no other call is using; it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_free(exchange: *mut afwd_exchange) {
    ffi_boundary!({
        if !exchange.is_null() {
            // SAFETY: non-null, and the caller passes ownership of a pointer that came from
            // Box::into_raw in afwd_exchange_new and was not freed yet.
            drop(unsafe { Box::from_raw(exchange) });
        }
    })
}

/// Writes the upstream query (DNS wire format, no TCP length prefix) to `buf`. The same bytes
/// every time: send them to each upstream in turn.
///
/// Returns `AFWD_OK` (`*out_n` bytes written); `AFWD_ERR_BUFFER_TOO_SHORT` (nothing written,
/// `*out_n` = the needed length); `AFWD_ERR_NULL_ARGUMENT` for a NULL `e` or `out_n`, or a NULL
/// `buf` with a non-zero `buf_len` (NULL with 0 asks for the length).
///
/// # Safety
///
/// `e` is NULL or a live exchange, used by no other thread during the call. `buf` is NULL or
/// points to `buf_len` writable bytes. `out_n` is NULL or points to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_upstream_query(
    e: *const afwd_exchange,
    buf: *mut u8,
    buf_len: usize,
    out_n: *mut usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a writable size_t.
        let Some(out_n) = (unsafe { out_n.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *out_n = 0;
        // SAFETY: the caller passes NULL or a live exchange.
        let Some(exchange) = (unsafe { e.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let Some(out) = OutBuf::new(buf, buf_len) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller passes `buf_len` writable bytes; they cannot overlap the exchange's
        // own heap buffer.
        unsafe { out.write(exchange.inner.upstream_query(), out_n) }
    })
}

/// Checks an upstream reply to this exchange's upstream query and, when it is usable, writes
/// the reply for the client to `buf`.
///
/// `reply` is `reply_len` bytes in DNS wire format (no TCP length prefix); it is read, not kept.
/// `client_over_tcp` says how the client asked: over UDP, a reply that does not fit the client's
/// UDP size (its EDNS0 size clamped to 512 ..= 4096, or 512) goes out with TC set and no records.
/// The written reply is rebuilt from the validated records: the client's ID and name case, TTLs
/// and SOA MINIMUM capped by max_ttl, an OPT record only if the client sent one.
///
/// Returns:
/// - `AFWD_OK`: `*out_n` bytes written to `buf`; send them to the client as they are.
/// - `AFWD_TRUNCATED`: the upstream set TC: ask again over TCP (already over TCP: try the next
///   upstream).
/// - `AFWD_ERR_REPLY_*`: the reply is unusable (malformed, not a response, ID / opcode /
///   question mismatch, foreign record, upstream failure): try the next upstream.
/// - `AFWD_ERR_BUFFER_TOO_SHORT`: nothing written, `*out_n` = the needed length; call again with
///   a bigger buffer (65535 bytes always suffice).
/// - `AFWD_ERR_NULL_ARGUMENT` for a NULL `e` or `out_n`, a NULL `reply` with a non-zero length
///   (NULL with 0 is an empty, malformed reply), or a NULL `buf` with a non-zero `buf_len`.
///
/// `*out_n` is 0 after every other error. The exchange is not changed: it can check further
/// replies (from the next upstream, or over TCP) after any result.
///
/// # Safety
///
/// `e` is NULL or a live exchange, used by no other thread during the call. `reply` is NULL or
/// points to `reply_len` readable bytes. `buf` is NULL or points to `buf_len` writable bytes
/// that do not overlap `reply`. `out_n` is NULL or points to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_finish(
    e: *const afwd_exchange,
    reply: *const u8,
    reply_len: usize,
    client_over_tcp: bool,
    buf: *mut u8,
    buf_len: usize,
    out_n: *mut usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a writable size_t.
        let Some(out_n) = (unsafe { out_n.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *out_n = 0;
        // SAFETY: the caller passes NULL or a live exchange.
        let Some(exchange) = (unsafe { e.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller passes NULL or `reply_len` readable bytes, alive for this call.
        let Some(reply) = (unsafe { slice::input(reply, reply_len) }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let Some(out) = OutBuf::new(buf, buf_len) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let client = if client_over_tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let mut rewritten = Vec::new();
        match exchange.inner.finish(reply, client, &mut rewritten) {
            // SAFETY: the caller passes `buf_len` writable bytes; they cannot overlap our Vec.
            Ok(()) => unsafe { out.write(&rewritten, out_n) },
            Err(e) => e.into(),
        }
    })
}
