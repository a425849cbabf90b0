//! `afwd_engine`: a configuration plus the learned state, shared by all queries.

use std::ffi::{CStr, c_char};
use std::net::IpAddr;
use std::sync::Arc;

use acmeforward::{Classified, Engine, Refusal, Verdict};

use crate::boundary::ffi_boundary;
use crate::config::afwd_config;
use crate::result::{afwd_result, afwd_verdict};
use crate::rule::{rule_number, rule_of_number};
use crate::slice;

/// What classifies questions and drives exchanges: a copy of a configuration plus the state
/// learned from forwarded replies (nameserver host names, CNAME targets, zone nameservers; each
/// until its TTL runs out, bounded by max_learned).
///
/// Made by `afwd_engine_new`, freed by `afwd_engine_free`. Safe to share across threads: every
/// function taking a `const afwd_engine *` may run concurrently on the same engine (the learned
/// state has its own lock), as long as none runs during or after `afwd_engine_free`.
///
/// The exchanges made with an engine co-own its core: `afwd_engine_free` frees the handle, and
/// the core goes when the last exchange made with it is freed too.
pub struct afwd_engine {
    inner: Arc<Engine>,
}

impl afwd_engine {
    /// The core engine.
    pub(crate) fn core(&self) -> &Engine {
        &self.inner
    }

    /// Another owner of the core engine, for an exchange.
    pub(crate) fn share(&self) -> Arc<Engine> {
        Arc::clone(&self.inner)
    }
}

// Shared by every query thread.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Engine>();
};

/// Makes an engine from a copy of `config`, with nothing learned yet.
///
/// The config stays the caller's: it may be freed right away. On `AFWD_OK`, `*engine_out` is a
/// new engine the caller owns and frees with `afwd_engine_free`; on any error it is set to NULL
/// (unless `engine_out` itself is NULL).
///
/// Returns `AFWD_OK` or `AFWD_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `config` is NULL or a live config. `engine_out` is NULL or points to writable storage for
/// one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_engine_new(
    config: *const afwd_config,
    engine_out: *mut *mut afwd_engine,
) -> afwd_result {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or storage for one pointer.
        let Some(engine_out) = (unsafe { engine_out.as_mut() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        *engine_out = std::ptr::null_mut();
        // SAFETY: the caller passes NULL or a live config.
        let Some(config) = (unsafe { config.as_ref() }) else {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        };
        let inner = Arc::new(Engine::new(config.core().clone()));
        *engine_out = Box::into_raw(Box::new(afwd_engine { inner }));
        afwd_result::AFWD_OK
    })
}

/// Frees an engine made by `afwd_engine_new`. NULL is a no-op.
///
/// Exchanges made with the engine stay valid, and so does the state they learn into: they co-own
/// it, and it is freed with the last of them.
///
/// # Safety
///
/// `engine` is NULL or an engine from `afwd_engine_new` that was not freed yet. No other call
/// may be using it (on any thread) and it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_engine_free(engine: *mut afwd_engine) {
    ffi_boundary!({
        if !engine.is_null() {
            // SAFETY: non-null, and the caller passes ownership of a pointer that came from
            // Box::into_raw in afwd_engine_new and was not freed yet.
            drop(unsafe { Box::from_raw(engine) });
        }
    })
}

/// The number of entries in the engine's learned state (expired ones included until they are
/// evicted). 0 for a NULL `engine` or after a caught panic. Thread-safe on a shared engine.
///
/// # Safety
///
/// `engine` is NULL or a live engine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_engine_learned_len(engine: *const afwd_engine) -> usize {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live engine.
        match unsafe { engine.as_ref() } {
            Some(engine) => engine.inner.learned_len(),
            None => 0,
        }
    })
}

/// A copy of an engine's pass filter (`afwd_engine_pass_filter`): enough to answer most of a
/// cluster's questions `AFWD_VERDICT_PASS` without calling `afwd_engine_classify`. A question
/// (name in presentation format, as for classify) is ruled out, i.e. passes for sure, by these
/// steps in order:
///
/// 1. class other than 1 (IN): ruled out;
/// 2. empty name, or first byte `_` or `\`: NOT ruled out (may be a challenge name);
/// 3. type 256 or above: NOT ruled out; bit `qtype` of `types` clear (word `qtype / 64`, bit
///    `qtype % 64`): ruled out;
/// 4. the last label, the bytes after the last `.` once one trailing `.` is dropped: NOT ruled
///    out when it is empty, longer than 63 bytes, contains `\`, or the byte two before it is
///    `\` (an escaped dot); else ruled out when its label bit is clear in `labels`;
/// 5. a type other than A (1) and AAAA (28): NOT ruled out. For A and AAAA: NOT ruled out when
///    the label bit is set in `hairpin_labels`; then the first label, the bytes before the
///    first `.` (of the name without its trailing `.`): NOT ruled out when it is empty, longer
///    than 63 bytes or contains `\`; else ruled out when the pair bit
///    `(31 * label bit of the first label + label bit of the last label) % 4096` is clear in
///    `pairs`.
///
/// The label bit of a label: lower-case its ASCII letters, then with K = 0xf1357aea2e62a9c5 and
/// wrapping 64-bit arithmetic: h = len * K; for each 8-byte chunk (the last one zero-padded),
/// read as a little-endian word w: h = (rotl(h, 26) ^ w) * K; then h ^= h >> 29; h *= K; the
/// bit is h >> 52 (0 ..= 4095: word `bit / 64`, bit `bit % 64`).
///
/// The engine's state grows only inside `afwd_exchange_reply` and `afwd_prefetch_poll`: take a
/// fresh copy after those (and after `afwd_engine_new`). A copy taken earlier only rules out
/// less than it could after entries expire, never more.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct afwd_pass_filter {
    /// The types some rule other than the challenge rule may take, as 256 bits.
    pub types: [u64; 4],
    /// The label bits of the last labels of the names some rule other than the challenge rule
    /// may take, as 4096 bits.
    pub labels: [u64; 64],
    /// The label bits of the last labels of the hairpin names and wildcard zones.
    pub hairpin_labels: [u64; 64],
    /// The pair bits of the first and last labels of the learned and prefetched nameserver hosts
    /// (the only names whose A and AAAA questions a rule other than hairpin takes).
    pub pairs: [u64; 64],
}

/// Writes the engine's current pass filter to `*out` (see `afwd_pass_filter`).
///
/// Returns `AFWD_OK`, or `AFWD_ERR_NULL_ARGUMENT` for a NULL `e` or `out` (then `*out`, when not
/// NULL, rules nothing out: every type and label bit set). No allocation, no lock; thread-safe
/// on a shared engine.
///
/// # Safety
///
/// `e` is NULL or a live engine. `out` is NULL or points to writable storage for one
/// `afwd_pass_filter` (it need not be initialised).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_engine_pass_filter(
    e: *const afwd_engine,
    out: *mut afwd_pass_filter,
) -> afwd_result {
    ffi_boundary!({
        if out.is_null() {
            return afwd_result::AFWD_ERR_NULL_ARGUMENT;
        }
        // SAFETY: the caller passes NULL or a live engine.
        let (filter, r) = match unsafe { e.as_ref() } {
            Some(engine) => {
                let f = engine.inner.pass_filter();
                let filter = afwd_pass_filter {
                    types: f.types,
                    labels: f.labels,
                    hairpin_labels: f.hairpin_labels,
                    pairs: f.pairs,
                };
                (filter, afwd_result::AFWD_OK)
            }
            None => (
                afwd_pass_filter {
                    types: [u64::MAX; 4],
                    labels: [u64::MAX; 64],
                    hairpin_labels: [u64::MAX; 64],
                    pairs: [u64::MAX; 64],
                },
                afwd_result::AFWD_ERR_NULL_ARGUMENT,
            ),
        };
        // SAFETY: non-null, and the caller passes writable, aligned storage for one filter.
        unsafe { std::ptr::write(out, filter) };
        r
    })
}

/// A number that changes after every change of the engine's pass filter: a copy taken (with
/// `afwd_engine_pass_filter`) when it was `g` is current as long as this still returns `g`.
/// Read it before taking the copy. 0 for a NULL `e` (or a caught panic). No lock; thread-safe.
///
/// # Safety
///
/// `e` is NULL or a live engine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_engine_pass_filter_generation(e: *const afwd_engine) -> u64 {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live engine.
        match unsafe { e.as_ref() } {
            Some(engine) => engine.inner.pass_filter_generation(),
            None => 0,
        }
    })
}

/// A verdict of `afwd_engine_classify` with what `afwd_exchange_new` needs of it: the rule that
/// matched and a check of the question. Pass it to `afwd_exchange_new` unchanged, with the
/// query that asks the question classified; the exchange then runs no rule again.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct afwd_classification {
    /// The verdict (also `afwd_engine_classify`'s return value).
    pub verdict: afwd_verdict,
    /// The forwarding rule that matched, for `AFWD_VERDICT_FORWARD`: one of the `AFWD_RULE_*`
    /// numbers (1 challenge name, 2 discovery (SOA/NS), 3 nameserver host (A/AAAA), 4
    /// delegated zone, 5 learned CNAME target, 6 learned ancestor); `AFWD_RULE_NONE` (0)
    /// otherwise. The caller may read it for its metrics; the exchange refuses any change.
    pub rule: u8,
    /// A hash of the question (lower-cased name and type), never 0 for `AFWD_VERDICT_FORWARD`
    /// and `AFWD_VERDICT_HAIRPIN`; 0 otherwise.
    pub check: u32,
    /// `AFWD_VERDICT_HAIRPIN` for IP targets with at most `AFWD_HAIRPIN_MAX_ADDRS` addresses of
    /// the asked family: the answer is ready here, and the caller may write it without an
    /// exchange. It is the reply `afwd_exchange_new` would build: NOERROR; AA and AD clear; RA
    /// set; ID, opcode, RD and CD copied from the query; the question as asked; `addr_count`
    /// records (0: NODATA) of the asked type (A: IPv4, AAAA: IPv6) under the question's name
    /// as asked, class IN, TTL `ttl`, with the addresses `addrs[0..addr_count]` in that order;
    /// when the query had an OPT record, an OPT record of version 0 with UDP payload
    /// `AFWD_EDNS_UDP_PAYLOAD` and the query's DO bit. Such a reply always fits 512 bytes.
    /// False otherwise (then start an exchange).
    pub hairpin_ready: bool,
    /// With `hairpin_ready`: how many of `addrs` are the answer's.
    pub addr_count: u8,
    /// With `hairpin_ready`: the answer records' TTL.
    pub ttl: u32,
    /// With `hairpin_ready`: the addresses, 16 bytes each, network order: IPv6, or IPv4-mapped
    /// (`::ffff:a.b.c.d`) for IPv4.
    pub addrs: [[u8; 16]; AFWD_HAIRPIN_MAX_ADDRS],
}

/// The C form of an address: 16 bytes, network order, IPv4 mapped into IPv6.
pub(crate) fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
    .octets()
}

/// The most addresses an `afwd_classification` carries (`hairpin_ready`).
pub const AFWD_HAIRPIN_MAX_ADDRS: usize = 4;

/// The UDP payload size in the OPT record of the core's replies to clients that sent one.
pub const AFWD_EDNS_UDP_PAYLOAD: u16 = 1232;

// The header's value is the core's.
const _: () = assert!(AFWD_EDNS_UDP_PAYLOAD == acmeforward::UPSTREAM_UDP_PAYLOAD);

impl afwd_classification {
    /// What a PASS, an ERROR and an unclassified question carry.
    pub(crate) const fn none(verdict: afwd_verdict) -> Self {
        afwd_classification {
            verdict,
            rule: 0,
            check: 0,
            hairpin_ready: false,
            addr_count: 0,
            ttl: 0,
            addrs: [[0; 16]; AFWD_HAIRPIN_MAX_ADDRS],
        }
    }

    /// Fills in the ready answer of a hairpin question with IP targets, when it fits.
    fn with_hairpin_answer(mut self, engine: &Engine, qname: &[u8], qtype: u16) -> Self {
        if self.verdict != afwd_verdict::AFWD_VERDICT_HAIRPIN {
            return self;
        }
        let Some((addrs, ttl)) = engine.hairpin_addrs(qname, qtype) else {
            return self;
        };
        let mut count = 0;
        for ip in addrs {
            let Some(slot) = self.addrs.get_mut(count) else {
                // More than fit: an exchange answers.
                return afwd_classification {
                    addr_count: 0,
                    addrs: [[0; 16]; AFWD_HAIRPIN_MAX_ADDRS],
                    ..self
                };
            };
            *slot = ip_bytes(ip);
            count += 1;
        }
        afwd_classification {
            hairpin_ready: true,
            addr_count: count as u8,
            ttl,
            ..self
        }
    }

    /// The C form of a core classification.
    fn from_core(c: Classified) -> Self {
        afwd_classification {
            rule: rule_number(c.rule),
            check: c.check,
            ..afwd_classification::none(c.verdict.into())
        }
    }

    /// The core form, or `None` for a value `afwd_engine_classify` never gives for a question
    /// to start an exchange for.
    pub(crate) fn to_core(self) -> Option<Classified> {
        let verdict = match self.verdict {
            afwd_verdict::AFWD_VERDICT_FORWARD => Verdict::Forward,
            afwd_verdict::AFWD_VERDICT_HAIRPIN => Verdict::Hairpin,
            _ => return None,
        };
        let rule = rule_of_number(self.rule)?;
        Some(Classified {
            verdict,
            rule,
            check: self.check,
        })
    }
}

/// Passed as `filter_generation` to `afwd_engine_classify`: the caller applied no pass filter.
pub const AFWD_NO_PASS_FILTER: u64 = u64::MAX;

/// Classifies one question: `AFWD_VERDICT_FORWARD` when acmeforward forwards it (an ACME
/// challenge lookup in a configured zone; with discovery on, the SOA/NS/A/AAAA questions of the
/// propagation check; a name in a delegated zone or a learned CNAME target);
/// `AFWD_VERDICT_HAIRPIN` for an A or AAAA question (class IN) for a hairpin name that is not
/// forwarded; else `AFWD_VERDICT_PASS`. FORWARD and HAIRPIN both go on with `afwd_exchange_new`,
/// given `*classification_out` (when not NULL: the verdict with its rule, see
/// `afwd_classification`; written on every return).
///
/// `qname` is the question name in presentation format, as miekg/dns gives it (trailing dot
/// optional, `\.` and `\DDD` escapes), `qname_len` bytes, not NUL-terminated, compared
/// case-insensitively. NULL with length 0 is the empty name. `qtype` and `qclass` are the
/// question's type and class numbers. `now_ms` is the caller's monotonic clock in milliseconds
/// (the same clock for every call on this engine): learned entries expire by it.
///
/// `filter_generation`: the `afwd_engine_pass_filter_generation` of the copy of the pass filter
/// that the caller applied to this question and that did not rule it out; the core then skips
/// its own check of the filter when that is still the current generation (the filter never
/// changes a verdict; it only spares work). `AFWD_NO_PASS_FILTER` (or any other value): the core
/// applies the filter itself.
///
/// The per-query hot path: no allocation; the learned state's read lock is taken only when
/// something was learned; the hairpin table is looked at only for A and AAAA questions. Returns
/// `AFWD_VERDICT_ERROR` for a NULL `e`, a NULL `qname` with a non-zero length, or a caught panic.
/// Thread-safe on a shared engine.
///
/// # Safety
///
/// `e` is NULL or a live engine. `qname` is NULL or points to `qname_len` readable bytes.
/// `classification_out` is NULL or points to writable storage for one `afwd_classification`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_engine_classify(
    e: *const afwd_engine,
    qname: *const u8,
    qname_len: usize,
    qtype: u16,
    qclass: u16,
    now_ms: u64,
    filter_generation: u64,
    classification_out: *mut afwd_classification,
) -> afwd_verdict {
    ffi_boundary!({
        let put = |c: afwd_classification| {
            if !classification_out.is_null() {
                // SAFETY: non-null, and the caller passes writable, aligned storage for one.
                unsafe { std::ptr::write(classification_out, c) };
            }
            c.verdict
        };
        // Written first, so that a caught panic leaves an ERROR there too.
        put(afwd_classification::none(afwd_verdict::AFWD_VERDICT_ERROR));
        // SAFETY: the caller passes NULL or a live engine.
        let Some(engine) = (unsafe { e.as_ref() }) else {
            return afwd_verdict::AFWD_VERDICT_ERROR;
        };
        // SAFETY: the caller passes NULL or `qname_len` readable bytes, alive for this call.
        let Some(qname) = (unsafe { slice::input(qname, qname_len) }) else {
            return afwd_verdict::AFWD_VERDICT_ERROR;
        };
        let core = engine.core();
        let filter_applied = filter_generation == core.pass_filter_generation();
        let c = core.classify_question(qname, qtype, qclass, now_ms, filter_applied);
        put(afwd_classification::from_core(c).with_hairpin_answer(core, qname, qtype))
    })
}

/// The engine's state after a call that may change it (`afwd_exchange_reply`): what a caller
/// keeping a copy of the pass filter or a metric of the learned state needs, without another
/// call.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct afwd_engine_state {
    /// `afwd_engine_pass_filter_generation` after the call: a copy of the pass filter of
    /// another generation is stale (take a fresh one with `afwd_engine_pass_filter`).
    pub pass_filter_generation: u64,
    /// `afwd_engine_learned_len` after the call.
    pub learned_len: usize,
}

impl afwd_engine_state {
    /// The state of `engine` now.
    pub(crate) fn of(engine: &Engine) -> Self {
        afwd_engine_state {
            pass_filter_generation: engine.pass_filter_generation(),
            learned_len: engine.learned_len(),
        }
    }
}

/// Why a fact from an upstream reply was not learned (or a nameserver address not used): the
/// rules that keep public data from deciding an internal name. The values index
/// `afwd_engine_refused` and `afwd_refusal_label`, 0 to `AFWD_REFUSAL_COUNT - 1`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum afwd_refusal {
    /// The name is at or below a protected zone.
    AFWD_REFUSAL_PROTECTED = 0,
    /// A nameserver host outside the zone that names it and outside every listed and
    /// delegated zone.
    AFWD_REFUSAL_OUT_OF_BAILIWICK = 1,
    /// A CNAME target or nameserver host that the internal view knows.
    AFWD_REFUSAL_INTERNAL_NAME = 2,
    /// A CNAME target or nameserver host that the internal view could not be asked about.
    AFWD_REFUSAL_INTERNAL_LOOKUP_FAILED = 3,
    /// A nameserver address inside the cluster's ranges that `allow_ns` does not list.
    AFWD_REFUSAL_ADDRESS_POLICY = 4,
    /// Past a size limit.
    AFWD_REFUSAL_LIMIT = 5,
}

/// The number of `afwd_refusal` values.
pub const AFWD_REFUSAL_COUNT: usize = 6;

// The C values are the core's, in the same order.
const _: () = {
    assert!(Refusal::Protected as usize == afwd_refusal::AFWD_REFUSAL_PROTECTED as usize);
    assert!(
        Refusal::OutOfBailiwick as usize == afwd_refusal::AFWD_REFUSAL_OUT_OF_BAILIWICK as usize
    );
    assert!(Refusal::InternalName as usize == afwd_refusal::AFWD_REFUSAL_INTERNAL_NAME as usize);
    assert!(
        Refusal::InternalLookupFailed as usize
            == afwd_refusal::AFWD_REFUSAL_INTERNAL_LOOKUP_FAILED as usize
    );
    assert!(Refusal::AddressPolicy as usize == afwd_refusal::AFWD_REFUSAL_ADDRESS_POLICY as usize);
    assert!(Refusal::Limit as usize == afwd_refusal::AFWD_REFUSAL_LIMIT as usize);
    assert!(AFWD_REFUSAL_COUNT == Refusal::ALL.len());
};

/// NUL-terminated metric labels of the refusals, index-aligned with `Refusal::ALL`.
const REFUSAL_LABELS: [&CStr; AFWD_REFUSAL_COUNT] = [
    c"protected",
    c"out_of_bailiwick",
    c"internal_name",
    c"internal_lookup_failed",
    c"address_policy",
    c"limit",
];

/// A static, NUL-terminated short label for refusal `reason` (an `afwd_refusal` value), as a
/// metric label: e.g. "protected". "unknown" past the end. Never NULL; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn afwd_refusal_label(reason: usize) -> *const c_char {
    ffi_boundary!({
        match REFUSAL_LABELS.get(reason) {
            Some(label) => label.as_ptr(),
            None => c"unknown".as_ptr(),
        }
    })
}

/// How many facts `engine` refused for `reason` (an `afwd_refusal` value) since it was made. 0
/// for a NULL `engine`, a `reason` past the end, or a caught panic. Thread-safe on a shared
/// engine.
///
/// # Safety
///
/// `engine` is NULL or a live engine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_engine_refused(engine: *const afwd_engine, reason: usize) -> u64 {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live engine.
        let Some(engine) = (unsafe { engine.as_ref() }) else {
            return 0;
        };
        match Refusal::ALL.get(reason) {
            Some(why) => engine.inner.refused(*why),
            None => 0,
        }
    })
}
