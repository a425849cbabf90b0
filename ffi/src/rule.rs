//! The numbers of the forwarding rules in `afwd_classification.rule`, for the caller's metrics
//! and logs. A `u8` rather than an enum: the caller hands the classification back to
//! `afwd_exchange_new`, and a number the core does not know is refused there, never read as an
//! enum it is not.

use acmeforward::Rule;

/// No forwarding rule (a PASS, an ERROR, or a hairpin question).
pub const AFWD_RULE_NONE: u8 = 0;
/// Rule 1: a challenge name at or below a configured zone, any type.
pub const AFWD_RULE_CHALLENGE: u8 = 1;
/// Rule 2: SOA or NS at or below a listed zone, for an ancestor of a delegated zone, or for a
/// prefetched apex.
pub const AFWD_RULE_DISCOVERY: u8 = 2;
/// Rule 3: A or AAAA for a nameserver host, prefetched or learned.
pub const AFWD_RULE_NS_HOST: u8 = 3;
/// Rule 4: TXT, CNAME, SOA or NS at or below a delegated zone.
pub const AFWD_RULE_DELEGATED: u8 = 4;
/// Rule 4: TXT, CNAME, SOA or NS for a learned CNAME target.
pub const AFWD_RULE_CNAME_TARGET: u8 = 5;
/// Rule 5: SOA or NS for a learned ancestor of a challenge name or CNAME target.
pub const AFWD_RULE_ANCESTOR: u8 = 6;

/// The number of a core rule.
pub(crate) fn rule_number(r: Option<Rule>) -> u8 {
    match r {
        None => AFWD_RULE_NONE,
        Some(Rule::Challenge) => AFWD_RULE_CHALLENGE,
        Some(Rule::Discovery) => AFWD_RULE_DISCOVERY,
        Some(Rule::NsHost) => AFWD_RULE_NS_HOST,
        Some(Rule::Delegated) => AFWD_RULE_DELEGATED,
        Some(Rule::CnameTarget) => AFWD_RULE_CNAME_TARGET,
        Some(Rule::Ancestor) => AFWD_RULE_ANCESTOR,
    }
}

/// The core rule of a number, or `None` for a number that names none.
pub(crate) fn rule_of_number(n: u8) -> Option<Option<Rule>> {
    Some(match n {
        AFWD_RULE_NONE => None,
        AFWD_RULE_CHALLENGE => Some(Rule::Challenge),
        AFWD_RULE_DISCOVERY => Some(Rule::Discovery),
        AFWD_RULE_NS_HOST => Some(Rule::NsHost),
        AFWD_RULE_DELEGATED => Some(Rule::Delegated),
        AFWD_RULE_CNAME_TARGET => Some(Rule::CnameTarget),
        AFWD_RULE_ANCESTOR => Some(Rule::Ancestor),
        _ => return None,
    })
}
