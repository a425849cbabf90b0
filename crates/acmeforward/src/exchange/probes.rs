//! Learning from replies. Only the final reply to a client's forwarded question teaches names:
//! its CNAME targets and NS hosts are the candidates ([`candidates`]); the exchange asks the
//! internal view about each before the client's answer is released, with the types that would
//! be forwarded ([`probe_types`]), and only a name the internal view does not know is learned
//! ([`learn_probed`]). The prefetch asks the same about the nameserver hosts it finds
//! ([`internal_view`]). Authoritative mode also learns
//! the apex → addresses it found ([`learn_nameservers`]); a challenge name's ancestors are
//! learned without a probe ([`learn_challenge_ancestors`]).

use std::collections::VecDeque;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use crate::config::Config;
use crate::exchange::discovery::Auth;
use crate::exchange::validate::Validated;
use crate::rules::policy::{self, Refusal};
use crate::state::engine::{Engine, Rule};
use crate::state::learned::Fact;
use crate::wire::name::{self, name_wire};

/// The most names of one reply (CNAME targets, nameserver hosts) that the internal view is
/// asked about, and so may be learned; the rest are not learned.
pub const MAX_PROBES: usize = 8;

/// The client's answer, held while the internal view is asked about the names of the reply
/// that could be learned.
#[derive(Debug, Clone)]
pub(crate) struct Probes {
    pub(crate) answer: Vec<u8>,
    /// Names still to ask about, with what would be learned and the TTL of its record.
    pub(crate) names: VecDeque<(Name, Fact, u32)>,
    /// The fact and TTL of the name being asked about, and how many of its
    /// [`probe_types`] were asked so far.
    pub(crate) current: (Fact, u32, usize),
}

/// What the internal view's answer to a question about a name says of the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InternalView {
    /// NXDOMAIN: the internal view does not know the name.
    Unknown,
    /// Any other usable answer (NOERROR with records or empty, YXDOMAIN): it knows the name.
    Known,
    /// No usable answer (none, an invalid one, SERVFAIL, REFUSED): it could not tell.
    Failed,
}

/// What the internal view's validated reply (`None`: none usable) says of the name asked.
pub(crate) fn internal_view(valid: Option<&Validated>) -> InternalView {
    match valid.map(|v| v.response_code) {
        Some(ResponseCode::NXDomain) => InternalView::Unknown,
        Some(_) => InternalView::Known,
        None => InternalView::Failed,
    }
}

/// The types the internal view is asked, in turn, about a name before it is learned as `fact`:
/// those that learning would forward. A nameserver host needs both A and AAAA: a view that
/// answers only one type (`hosts`, `template`) knows the name. A CNAME target is asked its TXT,
/// the type of the ACME checks.
pub(crate) const fn probe_types(fact: Fact) -> &'static [RecordType] {
    match fact {
        Fact::NsHost => &[RecordType::A, RecordType::AAAA],
        Fact::CnameTarget | Fact::Ancestor => &[RecordType::TXT],
    }
}

/// Whether `fact` about `wire` (lower-cased wire form) is learned without asking the internal
/// view: a nameserver host that the operator named with `public_hosts`.
pub(crate) fn skips_probe(config: &Config, wire: &[u8], fact: Fact) -> bool {
    fact == Fact::NsHost && config.is_public_host(wire)
}

/// The names of a reply that could be learned: CNAME targets of a challenge or delegation reply
/// (`learn_targets`), nameserver hosts (discovery on) that pass the rules and are not forwarded
/// yet; at most [`MAX_PROBES`], the rest counted [`Refusal::Limit`]. Each is to be asked about
/// before it is learned: public data never decides an internal name.
pub(crate) fn candidates(
    engine: &Engine,
    valid: &Validated,
    learn_targets: bool,
    now_ms: u64,
) -> VecDeque<(Name, Fact, u32)> {
    let config = engine.config();
    let mut names: VecDeque<(Name, Fact, u32)> = VecDeque::new();
    let add = |names: &mut VecDeque<(Name, Fact, u32)>, name: &Name, fact, ttl| {
        let name = name.to_lowercase();
        if names.iter().any(|(n, ..)| *n == name) {
            return;
        }
        if names.len() >= MAX_PROBES {
            engine.refuse(Refusal::Limit);
            return;
        }
        names.push_back((name, fact, ttl));
    };
    if learn_targets {
        for r in &valid.answers {
            let RData::CNAME(target) = &r.data else {
                continue;
            };
            let wire = name_wire(&target.0);
            if let Err(why) = policy::name_allowed(config, &wire) {
                engine.refuse(why);
                continue;
            }
            // Forwarded already (a challenge name, a delegated zone, learned): no news.
            if engine
                .rule_wire(&wire, u16::from(RecordType::TXT), now_ms)
                .is_some_and(|r| matches!(r, Rule::Challenge | Rule::Delegated | Rule::CnameTarget))
            {
                continue;
            }
            add(&mut names, &target.0, Fact::CnameTarget, r.ttl);
        }
    }
    if config.discovery() {
        for r in valid.answers.iter().chain(&valid.authorities) {
            let RData::NS(ns) = &r.data else {
                continue;
            };
            let host = name_wire(&ns.0);
            if let Err(why) = policy::ns_host_allowed(config, &host, &name_wire(&r.name)) {
                engine.refuse(why);
                continue;
            }
            if engine.rule_wire(&host, u16::from(RecordType::A), now_ms) == Some(Rule::NsHost) {
                continue;
            }
            if skips_probe(config, &host, Fact::NsHost) {
                engine.update(|l| l.learn(&host, Fact::NsHost, r.ttl, now_ms));
                continue;
            }
            add(&mut names, &ns.0, Fact::NsHost, r.ttl);
        }
    }
    names
}

/// The internal view said of `name` what `view` says, after every one of its
/// [`probe_types`] was asked (or the first answer that settles it): a name it does not know is
/// learned as `fact` (a CNAME target with its ancestors, for the SOA walk); anything else
/// refuses it.
pub(crate) fn learn_probed(
    engine: &Engine,
    name: &Name,
    fact: Fact,
    ttl: u32,
    view: InternalView,
    now_ms: u64,
) {
    match view {
        InternalView::Unknown => {
            let wire = name_wire(name);
            let ancestors = fact == Fact::CnameTarget && engine.config().discovery();
            engine.update(|l| {
                l.learn(&wire, fact, ttl, now_ms);
                if ancestors {
                    for a in name::ancestors(&wire) {
                        l.learn(a, Fact::Ancestor, ttl, now_ms);
                    }
                }
            });
        }
        InternalView::Known => engine.refuse(Refusal::InternalName),
        InternalView::Failed => engine.refuse(Refusal::InternalLookupFailed),
    }
}

/// Authoritative mode, after nameserver `index` answered: learn apex → addresses (that one
/// first), unless they came from the learned state.
pub(crate) fn learn_nameservers(engine: &Engine, auth: &Auth, index: usize, now_ms: u64) {
    let Some(apex) = &auth.apex else {
        return;
    };
    if auth.from_learned || auth.addrs.is_empty() {
        return;
    }
    let mut servers = Vec::with_capacity(auth.addrs.len());
    servers.extend(auth.addrs.get(index).copied());
    servers.extend(
        auth.addrs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, a)| *a),
    );
    let apex = name_wire(apex);
    engine.update(|l| l.learn_servers(&apex, &servers, auth.ttl, now_ms));
}

/// A challenge name's reply: learns the name's ancestors (rule 5) for the SOA walk, with
/// discovery on and no zone listed.
pub(crate) fn learn_challenge_ancestors(
    engine: &Engine,
    client_wire: &[u8],
    valid: &Validated,
    now_ms: u64,
) {
    let config = engine.config();
    let discovery = config.discovery();
    let mut facts: Vec<(Vec<u8>, Fact, u32)> = Vec::new();
    // With zones listed, the static rules already forward SOA/NS in them, and nothing above
    // them is needed.
    if discovery && !config.zones_listed() {
        let ttl = valid.answers.iter().map(|r| r.ttl).max().unwrap_or(0);
        for a in name::ancestors(client_wire) {
            facts.push((a.to_vec(), Fact::Ancestor, ttl));
        }
    }
    if facts.is_empty() {
        return;
    }
    engine.update(|l| {
        for (name, fact, ttl) in &facts {
            l.learn(name, *fact, *ttl, now_ms);
        }
    });
}
