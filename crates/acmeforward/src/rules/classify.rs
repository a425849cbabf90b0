//! The per-query classifier: is this an ACME challenge lookup we must forward?
//!
//! Runs for every query in the cluster, so it allocates nothing and rejects most names on their
//! first byte.

use crate::config::labels::ChallengeLabels;
use crate::config::{Config, Zone};
use crate::wire::CLASS_IN;
use crate::wire::name;

/// What to do with a query.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Not ours: hand the query to the next plugin.
    Pass = 0,
    /// A question a forwarding rule takes (see [`crate::Rule`]): forward it to the upstreams.
    Forward = 1,
    /// An A or AAAA question for a `hairpin` name that no forwarding rule takes: answer it
    /// with the hairpin target's addresses (an [`crate::Exchange`], like a forwarded question).
    Hairpin = 2,
}

/// Rule 1 on a lower-cased wire-form name: the first label is a challenge label (or the name
/// is of the dns-account-01 shape) and the name is at or below one of `zones`.
pub(crate) fn is_challenge_in(labels: &ChallengeLabels, wire: &[u8], zones: &[Zone]) -> bool {
    labels.matches(wire) && zones.iter().any(|z| name::is_at_or_below(wire, z.wire()))
}

/// Rule 1 alone on a presentation-format name (see [`Config::classify`]).
fn challenge_verdict(config: &Config, qname: &[u8], qclass: u16) -> Verdict {
    let labels = config.challenge_labels();
    if qclass != CLASS_IN || !labels.may_match(qname) {
        return Verdict::Pass;
    }
    match name::scan(qname) {
        Ok(wire) if is_challenge_in(labels, wire.as_bytes(), config.zones()) => Verdict::Forward,
        _ => Verdict::Pass,
    }
}

impl Config {
    /// The challenge rule (rule 1) alone, on the configuration: no allocation. `qname` is in
    /// presentation format (as miekg/dns gives it: trailing dot optional, `\.` and `\DDD`
    /// escapes). [`crate::Engine::classify`] applies every rule.
    ///
    /// [`Verdict::Forward`] iff `qclass` is IN, the first label is a challenge label
    /// ([`Config::labels`]: by default `_acme-challenge` and `_validation-persist`), or, while
    /// `_acme-challenge` is one, the first label is `_` and 16 base32 characters (a-z, 2-7) and
    /// the second `_acme-challenge` (dns-account-01), all ASCII case-insensitive after
    /// unescaping, and the name is at or below one of the zones. Any `qtype`. Malformed names
    /// pass.
    pub fn classify(&self, qname: &[u8], qtype: u16, qclass: u16) -> Verdict {
        // Rule 1 takes any type.
        let _ = qtype;
        match challenge_verdict(self, qname, qclass) {
            // The cluster's own names never get an answer from outside.
            Verdict::Forward
                if name::scan(qname).is_ok_and(|w| self.is_protected(w.as_bytes())) =>
            {
                Verdict::Pass
            }
            v => v,
        }
    }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
