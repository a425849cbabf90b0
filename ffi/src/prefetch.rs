//! `afwd_prefetch`: the engine's own background lookups (the NS RRsets of the listed and
//! delegated zones and their nameservers' addresses), driven poll-style like an exchange, so
//! that every replica makes the same decisions for those zones.

use std::ptr;

use acmeforward::{Prefetch, PrefetchAction, PrefetchReply, Transport};

use crate::boundary::ffi_boundary;
use crate::engine::afwd_engine;
use crate::exchange::server_bytes;
use crate::result::afwd_result;
use crate::slice::{self, OutBuf};

/// The prefetch of one engine. Made by `afwd_prefetch_new`, freed by `afwd_prefetch_free`
/// (before the engine). Use it from one thread at a time (it may move between threads between
/// calls); every call takes the engine it was made with.
pub struct afwd_prefetch {
    inner: Prefetch,
}

const _: () = {
    const fn movable<T: Send + 'static>() {}
    movable::<Prefetch>();
};

/// What a prefetch wants done next (`afwd_prefetch_action.kind`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum afwd_prefetch_action_kind {
    /// Send the query in `buf[..len]` to `server_ip`:`server_port` (over TCP with the 2-byte
    /// length prefix when `tcp`), wait for the reply until `until_ms` at most, then call
    /// `afwd_prefetch_reply` with it, or `afwd_prefetch_failed` when none came.
    AFWD_PREFETCH_SEND = 1,
    /// Nothing to do until `until_ms` (`UINT64_MAX`: nothing ever); then poll again.
    AFWD_PREFETCH_SLEEP = 2,
    /// Ask the internal view (the rest of the plugin chain, as for the exchange's
    /// `AFWD_ACTION_INTERNAL`) the query in `buf[..len]` (the A or AAAA of a nameserver host
    /// the prefetch found), waiting at most until `until_ms`; then call `afwd_prefetch_reply`
    /// with the reply written, or `afwd_prefetch_failed` when none was. The host gets its
    /// public answer only if the internal view does not know it.
    AFWD_PREFETCH_INTERNAL = 3,
}

/// The next action of a prefetch, filled in by `afwd_prefetch_poll`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct afwd_prefetch_action {
    /// What to do.
    pub kind: afwd_prefetch_action_kind,
    /// SEND: the server's address, 16 bytes, network order (IPv4-mapped for IPv4).
    pub server_ip: [u8; 16],
    /// SEND: the server's port.
    pub server_port: u16,
    /// SEND: over TCP.
    pub tcp: bool,
    /// SEND, INTERNAL: the query's length (or, with `AFWD_ERR_BUFFER_TOO_SHORT`, the length
    /// needed).
    pub len: usize,
    /// SEND, INTERNAL: the try's deadline; SLEEP: when to poll again. The engine's clock
    /// (`now_ms`).
    pub until_ms: u64,
}

/// Makes the prefetch of engine `e`: one job for each listed and delegated zone (none with
/// discovery off, or no zone listed: then every poll says SLEEP until `UINT64_MAX`). `random`
/// seeds the lookups' IDs and letter case. On `AFWD_OK`, `*prefetch_out` is a new prefetch the
/// caller owns; on an error it is set to NULL (unless `prefetch_out` itself is NULL).
///
/// Returns `AFWD_OK` or `AFWD_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `e` is NULL or a live engine. `prefetch_out` is NULL or points to writable storage for one
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_prefetch_new(
    e: *const afwd_engine,
    random: u64,
    prefetch_out: *mut *mut afwd_prefetch,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or storage for one pointer.
        let Some(prefetch_out) = (unsafe { prefetch_out.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *prefetch_out = ptr::null_mut();
        // SAFETY: the caller passes NULL or a live engine.
        let Some(engine) = (unsafe { e.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let inner = Prefetch::new(engine.core(), random);
        *prefetch_out = Box::into_raw(Box::new(afwd_prefetch { inner }));
        afwd_result::AFWD_OK
    })
}

/// Frees a prefetch made by `afwd_prefetch_new`. NULL is a no-op.
///
/// # Safety
///
/// `p` is NULL or a prefetch from `afwd_prefetch_new` that was not freed yet and that no other
/// call is using; it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_prefetch_free(p: *mut afwd_prefetch) {
    ffi_boundary!({
        if !p.is_null() {
            // SAFETY: non-null, and the caller passes ownership of a pointer that came from
            // Box::into_raw in afwd_prefetch_new and was not freed yet.
            drop(unsafe { Box::from_raw(p) });
        }
    })
}

/// Says what to do next at `now_ms` (the engine's clock), in `*action_out`, and writes a SEND's
/// query to `buf`. Publishes what finished lookups found into the engine. Polling again without
/// a reply or failure in between gives the same SEND (with the same deadline).
///
/// Returns `AFWD_OK`; `AFWD_ERR_BUFFER_TOO_SHORT` (nothing written, `action_out->len` is the
/// needed length; 65535 bytes always suffice); `AFWD_ERR_NULL_ARGUMENT` for a NULL `p`, `e` or
/// `action_out`, or a NULL `buf` with a non-zero `buf_len`.
///
/// # Safety
///
/// `p` is NULL or a live prefetch, used by no other thread during the call; `e` is NULL or the
/// live engine it was made with. `buf` is NULL or points to `buf_len` writable bytes.
/// `action_out` is NULL or points to writable storage for one `afwd_prefetch_action`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_prefetch_poll(
    p: *mut afwd_prefetch,
    e: *const afwd_engine,
    now_ms: u64,
    buf: *mut u8,
    buf_len: usize,
    action_out: *mut afwd_prefetch_action,
) -> afwd_result {
    ffi_boundary!({
        let null = afwd_result::AFWD_ERR_NULL_ARGUMENT;
        if action_out.is_null() {
            return null;
        }
        // SAFETY: the caller passes NULL or a live prefetch that no other thread uses now.
        let Some(prefetch) = (unsafe { p.as_mut() }) else {
            return null;
        };
        // SAFETY: the caller passes NULL or a live engine.
        let Some(engine) = (unsafe { e.as_ref() }) else {
            return null;
        };
        let Some(out) = OutBuf::new(buf, buf_len) else {
            return null;
        };
        let mut action = afwd_prefetch_action {
            kind: afwd_prefetch_action_kind::AFWD_PREFETCH_SLEEP,
            server_ip: [0; 16],
            server_port: 0,
            tcp: false,
            len: 0,
            until_ms: u64::MAX,
        };
        let r = match prefetch.inner.poll(engine.core(), now_ms) {
            PrefetchAction::Send {
                server,
                transport,
                query,
                deadline_ms,
            } => {
                let (server_ip, server_port) = server_bytes(server);
                action = afwd_prefetch_action {
                    kind: afwd_prefetch_action_kind::AFWD_PREFETCH_SEND,
                    server_ip,
                    server_port,
                    tcp: transport == Transport::Tcp,
                    len: 0,
                    until_ms: deadline_ms,
                };
                // SAFETY: the caller passes `buf_len` writable bytes; they cannot overlap the
                // prefetch's own heap buffers.
                unsafe { out.write(query, &mut action.len) }
            }
            PrefetchAction::Internal { query, deadline_ms } => {
                action.kind = afwd_prefetch_action_kind::AFWD_PREFETCH_INTERNAL;
                action.until_ms = deadline_ms;
                // SAFETY: as for SEND.
                unsafe { out.write(query, &mut action.len) }
            }
            PrefetchAction::Sleep { until_ms } => {
                action.until_ms = until_ms;
                afwd_result::AFWD_OK
            }
        };
        // SAFETY: non-null, and the caller passes writable, aligned storage for one action.
        unsafe { ptr::write(action_out, action) };
        r
    })
}

/// Hands the prefetch the reply to its last SEND or INTERNAL (`reply_len` bytes, no TCP length
/// prefix; read, not kept). It is validated like every upstream reply; an unusable one moves the
/// lookup to the next `to` resolver (after INTERNAL: the internal view could not tell, and the
/// host is not published). Then poll again.
///
/// Returns `AFWD_OK` (the reply was used); `AFWD_KEPT_INTERNAL` (used: the internal view knows
/// the host the INTERNAL query named, which keeps its internal answer); or why the reply was not
/// used, for logs only (`AFWD_TRUNCATED`, `AFWD_ERR_REPLY_*`, `AFWD_ERR_EXCHANGE_DONE` when no
/// reply was awaited);
/// `AFWD_ERR_NULL_ARGUMENT` for a NULL `p` or `e`, or a NULL `reply` with a non-zero length.
///
/// # Safety
///
/// `p` is NULL or a live prefetch, used by no other thread during the call; `e` is NULL or the
/// live engine it was made with. `reply` is NULL or points to `reply_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_prefetch_reply(
    p: *mut afwd_prefetch,
    e: *const afwd_engine,
    reply: *const u8,
    reply_len: usize,
    now_ms: u64,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live prefetch that no other thread uses now.
        let Some(prefetch) = (unsafe { p.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller passes NULL or a live engine.
        let Some(engine) = (unsafe { e.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller passes NULL or `reply_len` readable bytes, alive for this call.
        let Some(reply) = (unsafe { slice::input(reply, reply_len) }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        match prefetch.inner.on_reply(engine.core(), reply, now_ms) {
            Ok(PrefetchReply::Taken) => afwd_result::AFWD_OK,
            Ok(PrefetchReply::KeptInternal) => afwd_result::AFWD_KEPT_INTERNAL,
            Err(e) => e.into(),
        }
    })
}

/// Reports at `now_ms` that the last SEND got no reply by its deadline (or a network error), or
/// that the last INTERNAL query got no reply from the internal view.
/// Then poll again. Returns `AFWD_OK` or `AFWD_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `p` is NULL or a live prefetch, used by no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_prefetch_failed(p: *mut afwd_prefetch, now_ms: u64) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live prefetch that no other thread uses now.
        let Some(prefetch) = (unsafe { p.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        prefetch.inner.on_failure(now_ms);
        afwd_result::AFWD_OK
    })
}

/// Whether every zone was tried once (found or failed) as of the last poll: the engine now
/// decides as every replica does. A server should answer only once this is true (or a bounded
/// wait for it ran out). False for a NULL `p`.
///
/// # Safety
///
/// `p` is NULL or a live prefetch, used by no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_prefetch_ready(p: *const afwd_prefetch) -> bool {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live prefetch that no other thread uses now.
        unsafe { p.as_ref() }.is_some_and(|p| p.inner.is_ready())
    })
}
