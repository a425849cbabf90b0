//! `afwd_engine_rule`: which forwarding rule takes a question, for the shim's metrics and logs.

use acmeforward::Rule;

use crate::boundary::{PanicValue, ffi_boundary};
use crate::engine::afwd_engine;
use crate::slice;

/// The forwarding rule that takes a question (`afwd_engine_rule`), numbered as in the plugin's
/// README.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum afwd_rule {
    /// No forwarding rule takes the question (or a NULL argument, or a caught panic).
    AFWD_RULE_NONE = 0,
    /// Rule 1: a challenge name at or below a configured zone, any type.
    AFWD_RULE_CHALLENGE = 1,
    /// Rule 2: SOA or NS at or below a listed zone, for an ancestor of a delegated zone, or for
    /// a prefetched apex.
    AFWD_RULE_DISCOVERY = 2,
    /// Rule 3: A or AAAA for a nameserver host, prefetched or learned.
    AFWD_RULE_NS_HOST = 3,
    /// Rule 4: TXT, CNAME, SOA or NS at or below a delegated zone.
    AFWD_RULE_DELEGATED = 4,
    /// Rule 4: TXT, CNAME, SOA or NS for a learned CNAME target.
    AFWD_RULE_CNAME_TARGET = 5,
    /// Rule 5: SOA or NS for a learned ancestor of a challenge name or CNAME target.
    AFWD_RULE_ANCESTOR = 6,
}

impl From<Option<Rule>> for afwd_rule {
    fn from(r: Option<Rule>) -> Self {
        match r {
            None => afwd_rule::AFWD_RULE_NONE,
            Some(Rule::Challenge) => afwd_rule::AFWD_RULE_CHALLENGE,
            Some(Rule::Discovery) => afwd_rule::AFWD_RULE_DISCOVERY,
            Some(Rule::NsHost) => afwd_rule::AFWD_RULE_NS_HOST,
            Some(Rule::Delegated) => afwd_rule::AFWD_RULE_DELEGATED,
            Some(Rule::CnameTarget) => afwd_rule::AFWD_RULE_CNAME_TARGET,
            Some(Rule::Ancestor) => afwd_rule::AFWD_RULE_ANCESTOR,
        }
    }
}

impl PanicValue for afwd_rule {
    fn panic_value() -> Self {
        afwd_rule::AFWD_RULE_NONE
    }
}

/// Which forwarding rule takes a question that `afwd_engine_classify` said to forward, for
/// metrics and logs only: the exchange decides for itself. Arguments as for
/// `afwd_engine_classify`; with the same `now_ms`, a question it said to forward gets a rule
/// other than `AFWD_RULE_NONE` unless the learned state lost the entry in between (evicted).
/// Hairpin questions get `AFWD_RULE_NONE`.
///
/// No allocation; it never purges expired entries. Returns `AFWD_RULE_NONE` for a NULL `e`, a
/// NULL `qname` with a non-zero length, or a caught panic. Thread-safe on a shared engine.
///
/// # Safety
///
/// `e` is NULL or a live engine. `qname` is NULL or points to `qname_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn afwd_engine_rule(
    e: *const afwd_engine,
    qname: *const u8,
    qname_len: usize,
    qtype: u16,
    qclass: u16,
    now_ms: u64,
) -> afwd_rule {
    ffi_boundary!({
        // SAFETY: the caller passes NULL or a live engine.
        let Some(engine) = (unsafe { e.as_ref() }) else {
            return afwd_rule::AFWD_RULE_NONE;
        };
        // SAFETY: the caller passes NULL or `qname_len` readable bytes, alive for this call.
        let Some(qname) = (unsafe { slice::input(qname, qname_len) }) else {
            return afwd_rule::AFWD_RULE_NONE;
        };
        engine.core().rule(qname, qtype, qclass, now_ms).into()
    })
}
