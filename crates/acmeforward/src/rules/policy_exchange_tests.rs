//! The rules on public data, driven through exchanges as an attacker who writes a public zone
//! would: a public record never makes a protected or internal name answered from outside, and
//! every refusal is counted.

use hickory_proto::rr::RecordType;

use crate::config::UpstreamMode;
use crate::config::builder::ConfigBuilder;
use crate::config::error::ConfigError;
use crate::exchange::fail_reason::FailReason;
use crate::exchange::machine::Action;
use crate::rules::classify::Verdict;
use crate::rules::policy::Refusal;
use crate::state::engine::{Engine, Rule};
use crate::testutil::*;
use crate::wire::RCODE_NXDOMAIN as NXDOMAIN;
use crate::wire::Transport;

const NOERROR: u16 = 0;
const SERVFAIL: u16 = 2;

fn listed() -> Engine {
    engine_with(&["192.0.2.53"], |b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.delegated("auth.example.net").is_ok());
    })
}

fn no_zones() -> Engine {
    engine_with(&["192.0.2.53"], |_| {})
}

/// Forwards `_acme-challenge.<owner>` TXT and answers it with a CNAME to `target`, plus the
/// `authority` records; returns the exchange after the reply.
fn cname_reply(e: &Engine, owner: &str, target: &str) -> crate::exchange::machine::Exchange {
    cname_reply_to(e, &format!("_acme-challenge.{owner}"), target)
}

/// [`cname_reply`] for the challenge name `name` itself.
fn cname_reply_to(e: &Engine, name: &str, target: &str) -> crate::exchange::machine::Exchange {
    assert_eq!(classify(e, name, TYPE_TXT, 0), Verdict::Forward, "{name}");
    let mut ex = new_ex(e, name, TYPE_TXT, Transport::Udp, 0);
    let r = reply(
        &ex,
        0,
        vec![rr(
            &QNAME_PTR,
            TYPE_CNAME,
            CLASS_IN,
            600,
            &wire_name(target),
        )],
        vec![],
        vec![],
    );
    ok(&mut ex, e, &r, 0);
    ex
}

/// Every type an application might ask passes for `name` (no answer from outside). SOA and NS
/// too, unless the name is in a listed zone: those go out for every name there, as any of them
/// may be an ancestor of a challenge name on the SOA walk.
fn keeps_internal_answer(e: &Engine, name: &str) {
    let wire = wire_name(name).to_ascii_lowercase();
    let mut types = vec![TYPE_A, TYPE_AAAA, TYPE_TXT, 15, 33, TYPE_CNAME, 255];
    if !e.config().in_listed_or_delegated(&wire) {
        types.extend([TYPE_SOA, TYPE_NS]);
    }
    for qtype in types {
        assert_eq!(
            classify(e, name, qtype, 1_000),
            Verdict::Pass,
            "{name} type {qtype}"
        );
    }
}

#[test]
fn cname_target_the_internal_view_knows_is_never_learned() {
    for e in [listed(), no_zones()] {
        let mut ex = cname_reply(&e, "evil.example.com", "intranet.example.com");
        // The internal view has the name (NOERROR, here NODATA for TXT).
        internal_says(&mut ex, &e, NOERROR, 0);
        assert_eq!(
            answer(&ex).answers.len(),
            1,
            "the client still gets its answer"
        );
        keeps_internal_answer(&e, "intranet.example.com");
        assert_eq!(e.refused(Refusal::InternalName), 1);
    }
}

#[test]
fn cname_target_unknown_inside_is_learned_for_the_check_types_only() {
    let e = listed();
    let mut ex = cname_reply(&e, "www.example.com", "challenges.example.com");
    internal_says(&mut ex, &e, NXDOMAIN, 0);
    assert!(matches!(ex.poll(), Action::Answer(_)));
    for qtype in [TYPE_TXT, TYPE_CNAME, TYPE_SOA, TYPE_NS] {
        assert_eq!(
            e.rule(b"challenges.example.com", qtype, 1, 1_000),
            Some(Rule::CnameTarget)
        );
    }
    for qtype in [TYPE_A, TYPE_AAAA, 15] {
        assert_eq!(
            classify(&e, "challenges.example.com", qtype, 1_000),
            Verdict::Pass
        );
    }
    assert_eq!(e.refused(Refusal::InternalName), 0);
}

#[test]
fn persist_and_account_names_learn_like_acme_challenge() {
    for name in [
        "_validation-persist.www.example.com",
        "_UJMMOVF2VN55TGYE._acme-challenge.www.example.com",
    ] {
        // Learned: an unknown target, and (no zone listed) the challenge name's ancestors.
        for e in [listed(), no_zones()] {
            assert_eq!(
                e.rule(name.as_bytes(), TYPE_CNAME, 1, 0),
                Some(Rule::Challenge)
            );
            let mut ex = cname_reply_to(&e, name, "challenges.example.org");
            internal_says(&mut ex, &e, NXDOMAIN, 0);
            assert!(matches!(ex.poll(), Action::Answer(_)));
            assert_eq!(
                e.rule(b"challenges.example.org", TYPE_TXT, 1, 1_000),
                Some(Rule::CnameTarget),
                "{name}"
            );
            let ancestor = e.rule(b"www.example.com", TYPE_SOA, 1, 1_000);
            if e.config().zones_listed() {
                assert_eq!(ancestor, Some(Rule::Discovery), "{name}");
            } else {
                assert_eq!(ancestor, Some(Rule::Ancestor), "{name}");
            }
        }
        // Refused: a target the internal view knows.
        let e = listed();
        let mut ex = cname_reply_to(&e, name, "intranet.example.org");
        internal_says(&mut ex, &e, NOERROR, 0);
        keeps_internal_answer(&e, "intranet.example.org");
        assert_eq!(e.refused(Refusal::InternalName), 1);
    }
}

#[test]
fn questions_to_the_internal_view_do_not_spend_the_send_budget() {
    let e = no_zones();
    let mut ex = new_ex(
        &e,
        "_acme-challenge.attacker.net",
        TYPE_TXT,
        Transport::Udp,
        0,
    );
    let nss: Vec<Vec<u8>> = (0..8)
        .map(|i| ns("attacker.net", &format!("ns{i}.attacker.net"), 600))
        .collect();
    let r = reply(&ex, 0, vec![], nss, vec![]);
    ok(&mut ex, &e, &r, 0);
    internal_unknown(&mut ex, &e, 0);
    assert!(matches!(ex.poll(), Action::Answer(_)));
    assert_eq!(ex.sends(), 1, "only the upstream query counts");
}

#[test]
fn cname_target_probe_failure_learns_nothing_but_answers() {
    let e = no_zones();
    // SERVFAIL from the internal view (reported back as the reply's error, for the logs).
    let mut ex = cname_reply(&e, "attacker.net", "db.corp.internal");
    let r = reply(&ex, SERVFAIL, vec![], vec![], vec![]);
    assert!(ex.on_reply(&e, &r, 0).is_err());
    assert!(matches!(ex.poll(), Action::Answer(_)));
    // No reply at all from the internal view.
    let mut ex = cname_reply(&e, "attacker.org", "db.corp.internal");
    assert!(matches!(ex.poll(), Action::Internal(_)));
    ex.on_failure(0);
    assert!(matches!(ex.poll(), Action::Answer(_)));
    keeps_internal_answer(&e, "db.corp.internal");
    assert_eq!(e.refused(Refusal::InternalLookupFailed), 2);
}

#[test]
fn cname_target_in_a_protected_zone_is_not_even_asked_about() {
    for e in [listed(), no_zones()] {
        let owner = if e.config().zones_listed() {
            "evil.example.com"
        } else {
            "attacker.net"
        };
        let ex = cname_reply(&e, owner, "ingress.svc.cluster.local");
        assert!(matches!(ex.poll(), Action::Answer(_)));
        keeps_internal_answer(&e, "ingress.svc.cluster.local");
        keeps_internal_answer(&e, "svc.cluster.local");
        assert_eq!(e.refused(Refusal::Protected), 1);
    }
}

#[test]
fn protected_zones_are_never_forwarded() {
    let e = engine_with(&["192.0.2.53"], |b| {
        assert!(b.protect("corp.internal").is_ok());
    });
    for name in [
        "_acme-challenge.www.cluster.local",
        "_acme-challenge.corp.internal",
        "_acme-challenge.1.0.0.10.in-addr.arpa",
        "_acme-challenge.localhost",
    ] {
        keeps_internal_answer(&e, name);
    }
    // Learned facts cannot override it either.
    assert!(e.learn(
        &wire_name("db.corp.internal"),
        crate::state::learned::Fact::CnameTarget,
        300,
        0
    ));
    keeps_internal_answer(&e, "db.corp.internal");
    assert_eq!(
        classify(&e, "_acme-challenge.example.com", TYPE_TXT, 0),
        Verdict::Forward
    );
}

#[test]
fn listed_or_delegated_zone_inside_a_protected_zone_is_an_error() {
    // Refused by whichever call comes second, so that the error points at that line.
    let mut b = ConfigBuilder::new();
    assert_eq!(
        b.zone("svc.cluster.local").map(|_| ()),
        Err(ConfigError::ZoneProtected)
    );
    assert!(b.zone("db.corp.internal").is_ok());
    assert!(b.delegated("acme.corp.example").is_ok());
    assert_eq!(
        b.protect("corp.internal").map(|_| ()),
        Err(ConfigError::ZoneProtected)
    );
    assert_eq!(
        b.protect("corp.example").map(|_| ()),
        Err(ConfigError::DelegatedProtected)
    );
    assert!(b.protect("other.internal").is_ok());
    assert_eq!(
        b.delegated("x.other.internal").map(|_| ()),
        Err(ConfigError::DelegatedProtected)
    );
    // A parent of a protected zone is fine; the protected names stay protected.
    assert!(b.zone("local").is_ok());
    assert!(b.upstream("192.0.2.53").is_ok());
    assert!(b.build().is_ok());
    assert_eq!(b.protect(".").map(|_| ()), Err(ConfigError::ProtectedRoot));
    assert_eq!(
        b.allow_ns("10.0.0.0/33").map(|_| ()),
        Err(ConfigError::NetInvalid)
    );
    assert_eq!(
        b.allow_ns("example.com").map(|_| ()),
        Err(ConfigError::NetInvalid)
    );
    assert_eq!(
        b.allow_ns("10.0.0.0/").map(|_| ()),
        Err(ConfigError::NetInvalid)
    );
}

/// Forwards `NS <owner>` (which must be forwarded) and answers it with `owner NS host`; the
/// internal view does not know the host, if it is asked.
fn ns_reply(e: &Engine, owner: &str, host: &str) {
    assert_eq!(classify(e, owner, TYPE_NS, 0), Verdict::Forward, "{owner}");
    let mut ex = new_ex(e, owner, TYPE_NS, Transport::Udp, 0);
    let r = reply(&ex, 0, vec![ns(owner, host, 600)], vec![], vec![]);
    ok(&mut ex, e, &r, 0);
    internal_unknown(&mut ex, e, 0);
    assert!(matches!(ex.poll(), Action::Answer(_)));
}

#[test]
fn ns_record_naming_an_internal_host_of_a_listed_zone_is_refused() {
    // In a listed zone, so the bailiwick rule lets it through; but the internal view knows it.
    let e = listed();
    let mut ex = new_ex(&e, "evil.example.com", TYPE_NS, Transport::Udp, 0);
    let r = reply(
        &ex,
        0,
        vec![ns("evil.example.com", "intranet.example.com", 600)],
        vec![],
        vec![],
    );
    ok(&mut ex, &e, &r, 0);
    internal_says(&mut ex, &e, NOERROR, 0);
    assert!(matches!(ex.poll(), Action::Answer(_)));
    keeps_internal_answer(&e, "intranet.example.com");
    assert_eq!(e.refused(Refusal::InternalName), 1);
}

#[test]
fn ns_record_naming_an_internal_host_of_another_zone_is_refused() {
    let e = listed();
    ns_reply(&e, "evil.example.com", "db.corp.internal");
    ns_reply(&e, "evil.auth.example.net", "db.corp.internal");
    keeps_internal_answer(&e, "db.corp.internal");
    assert_eq!(e.refused(Refusal::OutOfBailiwick), 2);
    // In-bailiwick, or inside a listed or delegated zone: learned.
    ns_reply(&e, "sub.example.com", "ns.sub.example.com");
    ns_reply(&e, "sub.example.com", "ns1.auth.example.net");
    for host in ["ns.sub.example.com", "ns1.auth.example.net"] {
        assert_eq!(
            e.rule(host.as_bytes(), TYPE_A, 1, 1_000),
            Some(Rule::NsHost)
        );
    }
}

#[test]
fn ns_record_naming_a_cluster_name_is_refused() {
    let e = listed();
    ns_reply(
        &e,
        "evil.example.com",
        "kube-dns.kube-system.svc.cluster.local",
    );
    keeps_internal_answer(&e, "kube-dns.kube-system.svc.cluster.local");
    assert_eq!(e.refused(Refusal::Protected), 1);
}

#[test]
fn no_zones_mode_takes_in_bailiwick_nameserver_hosts_only() {
    let e = no_zones();
    // The challenge's reply carries the NS RRset of an attacker's zone.
    let mut ex = new_ex(
        &e,
        "_acme-challenge.attacker.net",
        TYPE_TXT,
        Transport::Udp,
        0,
    );
    let r = reply(
        &ex,
        NXDOMAIN,
        vec![],
        vec![
            ns("attacker.net", "ns1.attacker.net", 600),
            ns("attacker.net", "intranet.example.com", 600),
            ns("attacker.net", "ingress.svc.cluster.local", 600),
        ],
        vec![],
    );
    ok(&mut ex, &e, &r, 0);
    internal_unknown(&mut ex, &e, 0);
    assert_eq!(
        e.rule(b"ns1.attacker.net", TYPE_A, 1, 1_000),
        Some(Rule::NsHost)
    );
    keeps_internal_answer(&e, "intranet.example.com");
    keeps_internal_answer(&e, "ingress.svc.cluster.local");
    assert_eq!(e.refused(Refusal::OutOfBailiwick), 1);
    assert_eq!(e.refused(Refusal::Protected), 1);
}

#[test]
fn listed_mode_learns_no_ancestors_of_challenge_names() {
    let e = listed();
    let mut ex = new_ex(
        &e,
        "_acme-challenge.www.example.com",
        TYPE_TXT,
        Transport::Udp,
        0,
    );
    let r = reply(&ex, 0, vec![], vec![], vec![]);
    ok(&mut ex, &e, &r, 0);
    assert_eq!(e.learned_len(), 0);
    // Inside the zone, rule 2; above it, nothing.
    assert_eq!(
        e.rule(b"www.example.com", TYPE_SOA, 1, 0),
        Some(Rule::Discovery)
    );
    assert_eq!(classify(&e, "com", TYPE_SOA, 0), Verdict::Pass);
}

fn auth(allow: &[&str]) -> Engine {
    engine_with(&["192.0.2.53"], |b| {
        assert!(b.zone("example.com").is_ok());
        for n in allow {
            assert!(b.allow_ns(n).is_ok());
        }
        b.upstream_mode(UpstreamMode::Authoritative);
    })
}

/// Authoritative discovery of example.com whose NS host has address `ip` (as glue).
fn discover_with_glue(e: &Engine, ip: [u8; 4]) -> crate::exchange::machine::Exchange {
    let mut ex = new_ex(
        e,
        "_acme-challenge.example.com",
        TYPE_TXT,
        Transport::Udp,
        0,
    );
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, e, &r, 0);
    assert_eq!(sending(&ex).3, RecordType::NS);
    let r = reply_with(
        &ex,
        RA,
        vec![ns("example.com", "ns1.example.com", 600)],
        vec![],
        vec![a("ns1.example.com", ip, 600)],
    );
    ok(&mut ex, e, &r, 0);
    ex
}

#[test]
fn nameserver_addresses_inside_the_cluster_are_refused() {
    for ip in [
        [10, 96, 0, 10],
        [127, 0, 0, 1],
        [169, 254, 169, 254],
        [100, 64, 0, 1],
    ] {
        let e = auth(&[]);
        let ex = discover_with_glue(&e, ip);
        // Nothing is sent to the address: the exchange has no nameserver left to ask.
        assert_eq!(ex.poll(), Action::Fail(FailReason::NoNameservers), "{ip:?}");
        assert_eq!(e.refused(Refusal::AddressPolicy), 1, "{ip:?}");
    }
    // Listed with allow_ns: used.
    let e = auth(&["127.0.0.0/8"]);
    let ex = discover_with_glue(&e, [127, 0, 0, 53]);
    assert_eq!(sending(&ex).0, addr("127.0.0.53:53"));
    // A public address needs no allow_ns.
    let e = auth(&[]);
    let ex = discover_with_glue(&e, [192, 0, 2, 1]);
    assert_eq!(sending(&ex).0, addr("192.0.2.1:53"));
    assert_eq!(e.refused(Refusal::AddressPolicy), 0);
}

/// The type of the pending question to the internal view.
fn internal_type(ex: &crate::exchange::machine::Exchange) -> u16 {
    let Action::Internal(q) = ex.poll() else {
        panic!(
            "expected a question to the internal view, got {:?}",
            ex.poll()
        );
    };
    question_of(q).1
}

/// Forwards `NS evil.example.com`, answered with `NS <host>`, while the internal view answers
/// `known_types` of the host with NOERROR and every other type NXDOMAIN (as `hosts` or
/// `template` answer only the types they have, and a server behind them says NXDOMAIN). Gives
/// the types the internal view was asked.
fn ns_reply_known_for(e: &Engine, host: &str, known_types: &[u16]) -> Vec<u16> {
    let mut ex = new_ex(e, "evil.example.com", TYPE_NS, Transport::Udp, 0);
    let r = reply(
        &ex,
        0,
        vec![ns("evil.example.com", host, 600)],
        vec![],
        vec![],
    );
    ok(&mut ex, e, &r, 0);
    let mut asked = Vec::new();
    while matches!(ex.poll(), Action::Internal(_)) {
        let qtype = internal_type(&ex);
        asked.push(qtype);
        let rcode = if known_types.contains(&qtype) {
            NOERROR
        } else {
            NXDOMAIN
        };
        internal_says(&mut ex, e, rcode, 0);
    }
    assert!(matches!(ex.poll(), Action::Answer(_)));
    asked
}

#[test]
fn ns_host_the_internal_view_knows_for_one_address_type_only_is_refused() {
    // A only (a `template IN A` or a `hosts` entry): the first question settles it.
    let e = listed();
    assert_eq!(
        ns_reply_known_for(&e, "tmpl.example.com", &[TYPE_A]),
        [TYPE_A]
    );
    keeps_internal_answer(&e, "tmpl.example.com");
    // AAAA only: asked after A said NXDOMAIN.
    assert_eq!(
        ns_reply_known_for(&e, "v6.example.com", &[TYPE_AAAA]),
        [TYPE_A, TYPE_AAAA]
    );
    keeps_internal_answer(&e, "v6.example.com");
    // Known for TXT only (the question asked before): A and AAAA say NXDOMAIN, so the host is
    // unknown for the types that would go out, and learned.
    assert_eq!(
        ns_reply_known_for(&e, "ns.sub.example.com", &[TYPE_TXT]),
        [TYPE_A, TYPE_AAAA]
    );
    assert_eq!(
        e.rule(b"ns.sub.example.com", TYPE_AAAA, 1, 1_000),
        Some(Rule::NsHost)
    );
    assert_eq!(e.refused(Refusal::InternalName), 2);
}

#[test]
fn public_hosts_are_learned_without_asking_the_internal_view() {
    let e = engine_with(&["192.0.2.53"], |b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.public_host("NS1.Example.com.").is_ok());
    });
    assert_eq!(ns_reply_known_for(&e, "ns1.example.com", &[TYPE_A]), []);
    assert_eq!(
        e.rule(b"ns1.example.com", TYPE_A, 1, 1_000),
        Some(Rule::NsHost)
    );
    assert_eq!(e.refused(Refusal::InternalName), 0);
    // Any other host is still asked about.
    assert_eq!(
        ns_reply_known_for(&e, "ns2.example.com", &[TYPE_A]),
        [TYPE_A]
    );
    keeps_internal_answer(&e, "ns2.example.com");
}

#[test]
fn public_hosts_are_checked() {
    let mut b = ConfigBuilder::new();
    assert_eq!(
        b.public_host(".").map(|_| ()),
        Err(ConfigError::PublicHostRoot)
    );
    assert_eq!(
        b.public_host("ns.svc.cluster.local").map(|_| ()),
        Err(ConfigError::PublicHostProtected)
    );
    assert_eq!(
        b.public_host("a..b").map(|_| ()),
        Err(ConfigError::NameEmptyLabel)
    );
    // Whichever comes second names the conflict.
    assert!(b.public_host("ns1.corp.example").is_ok());
    assert_eq!(
        b.protect("corp.example").map(|_| ()),
        Err(ConfigError::PublicHostProtected)
    );
    assert!(b.protect("other.example").is_ok());
}
