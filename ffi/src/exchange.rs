//! `afwd_exchange`: one forwarded query, driven poll-style (`afwd_exchange_poll` says what to do
//! next; `afwd_exchange_reply` / `afwd_exchange_failed` report how a send went).

use std::net::SocketAddr;
use std::ptr;
use std::sync::Arc;

use acmeforward::{Action, Engine, Exchange, QueryError, Transport, format_error_reply};

use crate::boundary::ffi_boundary;
use crate::engine::{afwd_classification, afwd_engine, afwd_engine_state, ip_bytes};
use crate::result::afwd_result;
use crate::slice::{self, OutBuf};

/// One forwarded query: the state machine that decides which server to ask next, over which
/// transport, and what to answer the client.
///
/// Made by `afwd_exchange_new`, freed by `afwd_exchange_free`. It co-owns the engine it was made
/// with (the state its replies teach), so the engine's handle may be freed first (a reload); it
/// does not refer to the client query it was made from. Use it from one thread at a time (it may
/// move between threads between calls); the one exception is `afwd_exchange_answer_for`, which
/// several threads may call at once on an answered exchange.
pub struct afwd_exchange {
    inner: Exchange,
    engine: Arc<Engine>,
}

// An exchange moves between threads (goroutines change threads between cgo calls), and it
// borrows nothing (so the engine's handle may go first).
// afwd_exchange_answer_for reads one exchange from several threads at once.
const _: () = {
    const fn movable<T: Send + 'static>() {}
    const fn shareable<T: Sync>() {}
    movable::<Exchange>();
    shareable::<Exchange>();
};

/// What an exchange wants done next (`afwd_action.kind`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum afwd_action_kind {
    /// Send the query in `buf[..len]` to `server_ip`:`server_port`, over TCP (2-byte length
    /// prefix) when `tcp`, else UDP, and wait until `deadline_ms` at most; call
    /// `afwd_exchange_reply` with each reply that comes from that address and port (over UDP,
    /// one that is no reply to this query, `AFWD_ERR_REPLY_NOT_A_RESPONSE` to
    /// `AFWD_ERR_REPLY_QUESTION_MISMATCH`, leaves the try waiting: keep reading), or
    /// `afwd_exchange_failed` when none came by the deadline (or a network error).
    AFWD_ACTION_SEND = 1,
    /// Write `buf[..len]` to the client as it is: the validated, rewritten reply.
    AFWD_ACTION_ANSWER = 2,
    /// Every server failed (or the exchange's send budget is spent, or a hairpin target's lookup
    /// failed): answer the client SERVFAIL. `fail_reason` is the last error seen
    /// (`AFWD_ERR_HAIRPIN_TARGET_FAILED` after an INTERNAL).
    AFWD_ACTION_FAIL = 3,
    /// `buf[..len]` is a query (DNS wire format) to run through the rest of the plugin chain
    /// (the internal view: the plugins after this one), as if a client had asked it: a hairpin
    /// target's A or AAAA, or the TXT of a CNAME target or nameserver host (before it may be
    /// learned, to learn whether the internal view knows the name). Hand the reply it writes to
    /// `afwd_exchange_reply`; when it writes none (or cannot be asked), call
    /// `afwd_exchange_failed` (the name is then not learned). No network I/O.
    AFWD_ACTION_INTERNAL = 4,
}

/// The next action of an exchange, filled in by `afwd_exchange_poll`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct afwd_action {
    /// What to do.
    pub kind: afwd_action_kind,
    /// SEND: the server's address as 16 bytes, network order: IPv6, or IPv4-mapped
    /// (`::ffff:a.b.c.d`) for IPv4. Zero otherwise.
    pub server_ip: [u8; 16],
    /// SEND: the server's port. 0 otherwise.
    pub server_port: u16,
    /// SEND: use TCP (with the 2-byte length prefix) instead of UDP.
    pub tcp: bool,
    /// SEND and INTERNAL: the query's length; ANSWER: the client reply's length (the bytes are
    /// in `buf`, or, with `AFWD_ERR_BUFFER_TOO_SHORT`, the length `buf` needs). 0 for FAIL.
    pub len: usize,
    /// FAIL: why (the last error seen). After an error return of `afwd_exchange_poll` other than
    /// `AFWD_ERR_BUFFER_TOO_SHORT`: that error. `AFWD_OK` otherwise.
    pub fail_reason: afwd_result,
    /// SEND: when the try is over, on the engine's clock (`now_ms`): the earlier of the per-try
    /// timeout and the exchange's max_time. 0 otherwise.
    pub deadline_ms: u64,
}

impl afwd_action {
    /// A FAIL action carrying `reason`.
    fn fail(reason: afwd_result) -> Self {
        afwd_action {
            kind: afwd_action_kind::AFWD_ACTION_FAIL,
            server_ip: [0; 16],
            server_port: 0,
            tcp: false,
            len: 0,
            fail_reason: reason,
            deadline_ms: 0,
        }
    }
}

/// The C form of a SEND's server address.
pub(crate) fn server_bytes(server: SocketAddr) -> ([u8; 16], u16) {
    (ip_bytes(server.ip()), server.port())
}

/// Starts forwarding `query`, the client's query in DNS wire format (`query_len` bytes, as
/// received over UDP, or without the 2-byte length prefix over TCP), which
/// `afwd_engine_classify` said to forward (or to answer as a hairpin: the same call; for an IP
/// target the first poll is already the ANSWER).
///
/// `classification` is what `afwd_engine_classify` wrote for the query's question on the same
/// engine: the exchange takes its rule as it is and runs no rule again, so nothing decided
/// between the two calls changes. The query must ask that question (same name, ASCII
/// case-insensitively, same type, class IN) and the verdict must be FORWARD or HAIRPIN: else
/// `AFWD_ERR_QUERY_NOT_CLASSIFIED`. NULL: the exchange classifies the query's question itself
/// (and a question no rule takes is forwarded to the resolvers as it is).
///
/// `client_over_tcp` says how the client asked: over TCP the upstreams are asked over TCP too;
/// over UDP the client's reply is cut to the client's UDP size (TC set). `random` seeds the
/// upstream query IDs and the 0x20 letter-case mix of the name (pass 64 bits from a good random
/// source, new for every query). `now_ms` is the engine's clock (see `afwd_engine_classify`).
/// `query` is copied, not kept. Then call `afwd_exchange_poll`.
///
/// On `AFWD_OK`, `*exchange_out` is a new exchange the caller owns and frees with
/// `afwd_exchange_free`; it co-owns the engine (see `afwd_exchange`). On any error it is set to
/// NULL (unless `exchange_out` itself is NULL).
///
/// Returns `AFWD_OK`; `AFWD_ERR_NULL_ARGUMENT` for a NULL `e` or `exchange_out`, or a NULL
/// `query` with a non-zero length (NULL with 0 is an empty, malformed query);
/// `AFWD_ERR_QUERY_MALFORMED`, `AFWD_ERR_QUERY_NOT_A_QUERY`, `AFWD_ERR_QUERY_UNSUPPORTED_OPCODE`,
/// `AFWD_ERR_QUERY_QUESTION_COUNT`, `AFWD_ERR_QUERY_NOT_CLASSIFIED`.
///
/// Thread-safe on a shared engine.
///
/// # Safety
///
/// `e` is NULL or a live engine. `classification` is NULL or points to one readable
/// `afwd_classification`. `query` is NULL or points to `query_len` readable bytes.
/// `exchange_out` is NULL or points to writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_new(
    e: *const afwd_engine,
    classification: *const afwd_classification,
    query: *const u8,
    query_len: usize,
    client_over_tcp: bool,
    random: u64,
    now_ms: u64,
    exchange_out: *mut *mut afwd_exchange,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or storage for one pointer.
        let Some(exchange_out) = (unsafe { exchange_out.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *exchange_out = ptr::null_mut();
        // SAFETY: the caller passes NULL or a live engine.
        let Some(engine) = (unsafe { e.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller passes NULL or `query_len` readable bytes, alive for this call.
        let Some(query) = (unsafe { slice::input(query, query_len) }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller passes NULL or one readable classification.
        let classification = unsafe { classification.as_ref() };
        let client = if client_over_tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let core = engine.core();
        let made = match classification.map(|c| c.to_core()) {
            None => Exchange::new(core, query, client, random, now_ms),
            Some(Some(c)) => Exchange::classified(core, c, query, client, random, now_ms),
            Some(None) => Err(QueryError::NotClassified),
        };
        match made {
            Ok(inner) => {
                let engine = engine.share();
                *exchange_out = Box::into_raw(Box::new(afwd_exchange { inner, engine }));
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

/// Says what to do next, in `*action_out`, and writes the bytes that go with it to `buf`: the
/// query to send (SEND, DNS wire format, no TCP length prefix), the query to ask the rest of the
/// plugin chain (INTERNAL) or the reply for the client (ANSWER). FAIL writes nothing. Polling again without a reply or failure in between gives the
/// same action.
///
/// Returns `AFWD_OK`; `AFWD_ERR_BUFFER_TOO_SHORT` (nothing written to `buf`, `*action_out` is
/// the action with `len` = the needed length; 65535 bytes always suffice);
/// `AFWD_ERR_NULL_ARGUMENT` for a NULL `x` or `action_out`, or a NULL `buf` with a non-zero
/// `buf_len` (NULL with 0 asks for the length). After an error other than
/// `AFWD_ERR_BUFFER_TOO_SHORT`, `*action_out` (when not NULL) is a FAIL carrying that error.
///
/// # Safety
///
/// `x` is NULL or a live exchange, used by no other thread during the call. `buf` is NULL or
/// points to `buf_len` writable bytes. `action_out` is NULL or points to writable storage for
/// one `afwd_action` (it need not be initialised).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_poll(
    x: *const afwd_exchange,
    buf: *mut u8,
    buf_len: usize,
    action_out: *mut afwd_action,
) -> afwd_result {
    ffi_boundary!({
        if action_out.is_null() {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        }
        // Written through the raw pointer: the caller's storage may be uninitialised.
        let put = |action: afwd_action| {
            // SAFETY: non-null, and the caller passes writable, aligned storage for one action.
            unsafe { ptr::write(action_out, action) }
        };
        let null = afwd_result::AFWD_ERR_NULL_ARGUMENT;
        // SAFETY: the caller passes NULL or a live exchange that no other thread uses now.
        let Some(exchange) = (unsafe { x.as_ref() }) else {
            put(afwd_action::fail(null));
            return null;
        };
        let Some(out) = OutBuf::new(buf, buf_len) else {
            put(afwd_action::fail(null));
            return null;
        };
        let (mut action, bytes) = match exchange.inner.poll() {
            Action::Send {
                server,
                transport,
                query,
                deadline_ms,
            } => {
                let (server_ip, server_port) = server_bytes(server);
                let action = afwd_action {
                    kind: afwd_action_kind::AFWD_ACTION_SEND,
                    server_ip,
                    server_port,
                    tcp: transport == Transport::Tcp,
                    len: 0,
                    fail_reason: afwd_result::AFWD_OK,
                    deadline_ms,
                };
                (action, query)
            }
            Action::Internal(query) => {
                let action = afwd_action {
                    kind: afwd_action_kind::AFWD_ACTION_INTERNAL,
                    ..afwd_action::fail(afwd_result::AFWD_OK)
                };
                (action, query)
            }
            Action::Answer(reply) => {
                let action = afwd_action {
                    kind: afwd_action_kind::AFWD_ACTION_ANSWER,
                    ..afwd_action::fail(afwd_result::AFWD_OK)
                };
                (action, reply)
            }
            Action::Fail(reason) => (afwd_action::fail(reason.into()), &[][..]),
        };
        let r = if action.kind == afwd_action_kind::AFWD_ACTION_FAIL {
            afwd_result::AFWD_OK
        } else {
            // SAFETY: the caller passes `buf_len` writable bytes; they cannot overlap the
            // exchange's own heap buffers.
            unsafe { out.write(bytes, &mut action.len) }
        };
        put(action);
        r
    })
}

/// Hands the exchange the reply to its last SEND or INTERNAL (`reply_len` bytes, DNS wire
/// format, no TCP length prefix; read, not kept). A reply to an INTERNAL is validated the same
/// way and gives the ANSWER, or (not a valid NOERROR reply) the FAIL. The reply is validated; a
/// usable one is learned from (into the state of the engine the exchange was made with, which it
/// co-owns) and the exchange moves on (to the next discovery step, or to ANSWER); an unusable
/// one moves it to the next server (or over TCP for a truncated UDP reply). Either way, call
/// `afwd_exchange_poll` next. `now_ms` is the engine's clock.
///
/// `*state_out` (when not NULL) is the engine's state after the call (the pass filter's
/// generation, the learned state's size: see `afwd_engine_state`), so that one exchange step is
/// one call; it is written on every return but a NULL `x`.
///
/// Returns `AFWD_OK` (the reply was used) or why it was not, for logs and metrics only:
/// `AFWD_TRUNCATED`, `AFWD_ERR_REPLY_*`. Also `AFWD_ERR_EXCHANGE_DONE` when the exchange is not
/// waiting for a reply (its action is ANSWER or FAIL; nothing changes), and
/// `AFWD_ERR_NULL_ARGUMENT` for a NULL `x`, or a NULL `reply` with a non-zero length (NULL with
/// 0 is an empty, malformed reply).
///
/// # Safety
///
/// `x` is NULL or a live exchange, used by no other thread during the call. `reply` is NULL or
/// points to `reply_len` readable bytes. `state_out` is NULL or points to writable storage for
/// one `afwd_engine_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_reply(
    x: *mut afwd_exchange,
    reply: *const u8,
    reply_len: usize,
    now_ms: u64,
    state_out: *mut afwd_engine_state,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live exchange that no other thread uses now.
        let Some(exchange) = (unsafe { x.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller passes NULL or `reply_len` readable bytes, alive for this call.
        let r = match unsafe { slice::input(reply, reply_len) } {
            // Not waiting: the core changes nothing and says ExchangeDone.
            Some(reply) => match exchange.inner.on_reply(&exchange.engine, reply, now_ms) {
                Ok(()) => afwd_result::AFWD_OK,
                Err(e) => e.into(),
            },
            None => afwd_result::AFWD_ERR_NULL_ARGUMENT,
        };
        if !state_out.is_null() {
            let state = afwd_engine_state::of(&exchange.engine);
            // SAFETY: non-null, and the caller passes writable, aligned storage for one state.
            unsafe { ptr::write(state_out, state) };
        }
        r
    })
}

/// Reports at `now_ms` (the engine's clock) that the last SEND got no usable reply (its
/// deadline passed, a network error, a TCP connection closed early): the exchange moves on to
/// the next server, or fails when its max_time is spent. After an INTERNAL (the rest of the
/// plugin chain wrote no reply): the exchange fails. Call `afwd_exchange_poll` next.
///
/// Returns `AFWD_OK`; `AFWD_ERR_EXCHANGE_DONE` when the exchange is not waiting for a reply
/// (nothing changes); `AFWD_ERR_NULL_ARGUMENT` for a NULL `x`.
///
/// # Safety
///
/// `x` is NULL or a live exchange, used by no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_failed(x: *mut afwd_exchange, now_ms: u64) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live exchange that no other thread uses now.
        let Some(exchange) = (unsafe { x.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // The core's on_failure ignores a finished exchange silently; the C caller is told.
        if !exchange.inner.is_waiting() {
            return afwd_result::AFWD_ERR_EXCHANGE_DONE;
        }
        exchange.inner.on_failure(now_ms);
        afwd_result::AFWD_OK
    })
}

/// Writes to `buf` the answer of an answered exchange (its action is ANSWER) for another client
/// whose query (`query_len` bytes, as for `afwd_exchange_new`; `client_over_tcp` says how it
/// came) asks the same question: same name (ASCII case-insensitive), type, class, DO and CD
/// bits. The answer is rebuilt from the exchange's validated records with that client's ID,
/// letter case, RD and EDNS0, cut to its own size. So identical questions in flight at once can
/// share one upstream exchange: run one, and answer the others with this call before freeing it.
/// `*len_out` is the answer's length (or, with `AFWD_ERR_BUFFER_TOO_SHORT`, the length `buf`
/// needs).
///
/// Returns `AFWD_OK`; `AFWD_ERR_QUERY_OTHER_QUESTION` when the question differs (run an exchange
/// of its own); `AFWD_ERR_EXCHANGE_NOT_ANSWERED` when the exchange has no answer (still running,
/// or failed); `AFWD_ERR_QUERY_*` for a query `afwd_exchange_new` would refuse;
/// `AFWD_ERR_BUFFER_TOO_SHORT` (nothing written); `AFWD_ERR_NULL_ARGUMENT` for a NULL `x` or
/// `len_out`, a NULL `query` or `buf` with a non-zero length.
///
/// Several threads may call this at once on the same exchange; no thread may poll, reply to,
/// fail or free it meanwhile.
///
/// # Safety
///
/// `x` is NULL or a live exchange. `query` is NULL or points to `query_len` readable bytes.
/// `buf` is NULL or points to `buf_len` writable bytes. `len_out` is NULL or points to writable
/// storage for one `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_answer_for(
    x: *const afwd_exchange,
    query: *const u8,
    query_len: usize,
    client_over_tcp: bool,
    buf: *mut u8,
    buf_len: usize,
    len_out: *mut usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or storage for one size_t.
        let Some(len_out) = (unsafe { len_out.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *len_out = 0;
        // SAFETY: the caller passes NULL or a live exchange that no thread changes now.
        let Some(exchange) = (unsafe { x.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller passes NULL or `query_len` readable bytes, alive for this call.
        let Some(query) = (unsafe { slice::input(query, query_len) }) else {
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
        let mut answer = Vec::new();
        match exchange.inner.answer_for(query, client, &mut answer) {
            // SAFETY: the caller passes `buf_len` writable bytes; they cannot overlap `answer`.
            Ok(()) => unsafe { out.write(&answer, len_out) },
            Err(e) => e.into(),
        }
    })
}

/// Writes to `buf` the reply to a client query that `afwd_exchange_new` or
/// `afwd_exchange_answer_for` refused with `AFWD_ERR_QUERY_MALFORMED`: FORMERR, as RFC 6891
/// §6.1.1 asks for a query with two OPT records (and as servers answer an OPT record off the root
/// name or outside the additional section). It has the query's ID, RD and CD bits and question as
/// asked, no records and no OPT. `*len_out` is its length (or, with `AFWD_ERR_BUFFER_TOO_SHORT`,
/// the length `buf` needs; 512 bytes always suffice).
///
/// Returns `AFWD_OK`; `AFWD_ERR_QUERY_*` when no reply can be made (the header or question does
/// not parse, or the message is a response, has another opcode or not exactly one question:
/// answer as for any other refused query); `AFWD_ERR_BUFFER_TOO_SHORT` (nothing written);
/// `AFWD_ERR_NULL_ARGUMENT` for a NULL `len_out`, or a NULL `query` or `buf` with a non-zero
/// length.
///
/// # Safety
///
/// `query` is NULL or points to `query_len` readable bytes. `buf` is NULL or points to `buf_len`
/// writable bytes. `len_out` is NULL or points to writable storage for one `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_query_formerr(
    query: *const u8,
    query_len: usize,
    buf: *mut u8,
    buf_len: usize,
    len_out: *mut usize,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or storage for one size_t.
        let Some(len_out) = (unsafe { len_out.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *len_out = 0;
        // SAFETY: the caller passes NULL or `query_len` readable bytes, alive for this call.
        let Some(query) = (unsafe { slice::input(query, query_len) }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let Some(out) = OutBuf::new(buf, buf_len) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let mut reply = Vec::new();
        match format_error_reply(query, &mut reply) {
            // SAFETY: the caller passes `buf_len` writable bytes; they cannot overlap `reply`.
            Ok(()) => unsafe { out.write(&reply, len_out) },
            Err(e) => e.into(),
        }
    })
}

/// Whether the exchange asks the zone's nameservers the client's question (authoritative mode:
/// a challenge or delegation question other than SOA and NS). Then each SEND to a `to` resolver
/// is a discovery lookup (the SOA of the name, the NS of the apex, a nameserver's address) and
/// each SEND elsewhere is the question to a nameserver; otherwise every SEND is the client's
/// question to a `to` resolver. Fixed when the exchange is made. For metrics and logs only.
/// False for a NULL `x` (or a caught panic).
///
/// # Safety
///
/// `x` is NULL or a live exchange, used by no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_exchange_is_authoritative(x: *const afwd_exchange) -> bool {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live exchange.
        unsafe { x.as_ref() }.is_some_and(|exchange| exchange.inner.is_authoritative())
    })
}
