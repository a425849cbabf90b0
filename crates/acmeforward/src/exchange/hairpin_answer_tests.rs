//! The hairpin through the engine and the exchange: classification and its precedence,
//! the answer for IP targets, the internal lookup of a name target and the validation of its
//! reply.

use std::net::IpAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::config::builder::ConfigBuilder;
use crate::exchange::fail_reason::FailReason;
use crate::exchange::machine::{Action, Exchange};
use crate::exchange::validate::ReplyError;
use crate::rules::classify::Verdict;
use crate::state::engine::{Engine, Rule};
use crate::state::learned::Fact;
use crate::testutil::*;
use crate::wire::{FLAG_TC, TYPE_MX, Transport};

const INGRESS: &str = "ingress-nginx-controller.ingress-nginx.svc.cluster.local";

fn engine_with(max_ttl: u32, setup: impl FnOnce(&mut ConfigBuilder)) -> Engine {
    let mut b = ConfigBuilder::new();
    assert!(b.upstream("192.0.2.53").is_ok());
    assert!(b.max_ttl(max_ttl).is_ok());
    setup(&mut b);
    match b.build() {
        Ok(c) => Engine::new(c),
        Err(e) => panic!("config: {e}"),
    }
}

fn hairpin(b: &mut ConfigBuilder, line: &str) {
    if let Err(e) = b.hairpin(line) {
        panic!("hairpin {line}: {e}");
    }
}

/// The configuration of most tests: a zone for challenges, exact names, wildcards, IP and name
/// targets.
fn engine(max_ttl: u32) -> Engine {
    engine_with(max_ttl, |b| {
        assert!(b.zone("example.com").is_ok());
        hairpin(b, "www.example.com 192.0.2.80");
        hairpin(b, "*.example.com 192.0.2.2");
        hairpin(b, "exact.example.com 192.0.2.3");
        hairpin(b, "*.deep.example.com 192.0.2.4");
        hairpin(b, "v6.example.com 2001:db8::6");
        hairpin(b, "dual.example.com 192.0.2.5 2001:db8::5");
        hairpin(b, "one.example.com two.example.com 192.0.2.6 192.0.2.7");
        hairpin(b, &format!("svc.example.com *.apps.example.org {INGRESS}"));
    })
}

fn verdict(e: &Engine, name: &str, qtype: u16) -> Verdict {
    e.classify(name.as_bytes(), qtype, CLASS_IN, 1_000)
}

fn new_ex(e: &Engine, q: &[u8], client: Transport) -> Exchange {
    match Exchange::new(e, q, client, 0x5eed, 1_000) {
        Ok(ex) => ex,
        Err(err) => panic!("exchange: {err}"),
    }
}

fn ex_for(e: &Engine, name: &str, qtype: u16) -> Exchange {
    new_ex(e, &query(0x4242, name, qtype, None), Transport::Udp)
}

fn parse(b: &[u8]) -> Message {
    match Message::from_vec(b) {
        Ok(m) => m,
        Err(e) => panic!("does not parse: {e}"),
    }
}

/// The client's reply, when the exchange has answered.
fn answered(ex: &Exchange) -> Vec<u8> {
    match ex.poll() {
        Action::Answer(a) => a.to_vec(),
        other => panic!("want an answer, got {other:?}"),
    }
}

/// (owner as written, type, TTL, address) of each answer record.
fn records(m: &Message) -> Vec<(String, RecordType, u32, IpAddr)> {
    m.answers
        .iter()
        .map(|r| {
            let ip = match &r.data {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                other => panic!("not an address: {other:?}"),
            };
            (r.name.to_ascii(), r.record_type(), r.ttl, ip)
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// The internal query of a name-target exchange.
fn internal_query(ex: &Exchange) -> Message {
    match ex.poll() {
        Action::Internal(q) => parse(q),
        other => panic!("want an internal lookup, got {other:?}"),
    }
}

/// A reply to the pending internal query: the query echoed with QR|RD (flags as the rest of a
/// CoreDNS chain answers, e.g. hosts or kubernetes: AA, no RA) and the given sections.
fn internal_reply(ex: &Exchange, rcode: u16, an: Vec<Vec<u8>>, ns: Vec<Vec<u8>>) -> Vec<u8> {
    Wire {
        id: ex.upstream_id(),
        flags: 0x8500 | rcode,
        qd: vec![ex.question().to_vec()],
        an,
        ns,
        ar: vec![],
    }
    .bytes()
}

fn a_rr(owner: &str, addr: [u8; 4], ttl: u32) -> Vec<u8> {
    rr(&wire_name(owner), TYPE_A, CLASS_IN, ttl, &addr)
}

fn aaaa_rr(owner: &str, addr: &str, ttl: u32) -> Vec<u8> {
    let octets = match ip(addr) {
        IpAddr::V6(v6) => v6.octets(),
        IpAddr::V4(_) => [0; 16],
    };
    rr(&wire_name(owner), TYPE_AAAA, CLASS_IN, ttl, &octets)
}

// ---- classification ------------------------------------------------------------------------

#[test]
fn classify_a_and_aaaa_of_hairpin_names() {
    let e = engine(30);
    for name in [
        "www.example.com.",
        "WWW.Example.COM",
        "anything.example.com",
        "a.b.c.example.com.",
        "x.deep.example.com",
        "svc.example.com",
        "foo.apps.example.org.",
        "_acme-challengex.www.example.com",
        "x._acme-challenge.www.example.com",
    ] {
        for qtype in [TYPE_A, TYPE_AAAA] {
            assert_eq!(verdict(&e, name, qtype), Verdict::Hairpin, "{name} {qtype}");
        }
    }
    assert_eq!(Verdict::Hairpin as u8, 2);
}

#[test]
fn classify_other_types_classes_and_names_pass() {
    let e = engine(30);
    for qtype in [TYPE_TXT, TYPE_MX, TYPE_CNAME, 0, 33, 64, 65, 255] {
        assert_eq!(
            verdict(&e, "www.example.com", qtype),
            Verdict::Pass,
            "{qtype}"
        );
    }
    for qclass in [0, 3, 4, 255] {
        assert_eq!(
            e.classify(b"www.example.com", TYPE_A, qclass, 0),
            Verdict::Pass,
            "class {qclass}"
        );
    }
    for name in [
        "example.com.",
        "apps.example.org",
        "example.org",
        "www.example.net",
        "kubernetes.default.svc.cluster.local.",
        "",
        ".",
        "a..example.com",
        r"bad\escape\9.example.com",
    ] {
        assert_eq!(verdict(&e, name, TYPE_A), Verdict::Pass, "{name:?}");
    }
}

#[test]
fn classify_challenge_and_delegation_rules_win() {
    let e = engine_with(30, |b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.delegated("auth.example.com").is_ok());
        hairpin(b, "*.example.com 192.0.2.2");
        hairpin(b, "_acme-challenge.www.example.com 192.0.2.9");
    });
    // Rule 1: challenge names keep their forwarding, even listed as a hairpin name.
    for name in [
        "_acme-challenge.www.example.com",
        "_ACME-Challenge.a.example.com.",
    ] {
        for qtype in [TYPE_A, TYPE_AAAA, TYPE_TXT] {
            assert_eq!(verdict(&e, name, qtype), Verdict::Forward, "{name} {qtype}");
        }
    }
    // Rule 4 (a delegated zone under the wildcard) takes the check's types, never A/AAAA.
    assert_eq!(
        verdict(&e, "x.auth.example.com", TYPE_TXT),
        Verdict::Forward
    );
    assert_eq!(verdict(&e, "x.auth.example.com", TYPE_A), Verdict::Hairpin);
    // Rule 3: a learned nameserver host under the wildcard.
    assert_eq!(verdict(&e, "ns1.example.com", TYPE_A), Verdict::Hairpin);
    assert!(e.learn(&wire_name("ns1.example.com"), Fact::NsHost, 300, 0));
    assert_eq!(verdict(&e, "ns1.example.com", TYPE_A), Verdict::Forward);
    assert_eq!(verdict(&e, "ns1.example.com", TYPE_AAAA), Verdict::Forward);
    assert_eq!(verdict(&e, "ns2.example.com", TYPE_A), Verdict::Hairpin);
    // Rule 4: a learned CNAME target, the check's types only.
    assert!(e.learn(&wire_name("t.example.com"), Fact::CnameTarget, 300, 0));
    assert_eq!(verdict(&e, "t.example.com", TYPE_TXT), Verdict::Forward);
    assert_eq!(verdict(&e, "t.example.com", TYPE_A), Verdict::Hairpin);
    // Engine::rule knows nothing of the hairpin: it is not a forwarding rule.
    assert_eq!(e.rule(b"ns2.example.com", TYPE_A, CLASS_IN, 1_000), None);
    assert_eq!(
        e.rule(b"ns1.example.com", TYPE_A, CLASS_IN, 1_000),
        Some(Rule::NsHost)
    );
}

#[test]
fn no_hairpin_line_no_hairpin_verdict() {
    let e = engine_with(30, |b| {
        assert!(b.zone("example.com").is_ok());
    });
    assert_eq!(e.config().hairpin_len(), 0);
    assert_eq!(verdict(&e, "www.example.com", TYPE_A), Verdict::Pass);
    assert_eq!(
        verdict(&e, "_acme-challenge.example.com", TYPE_A),
        Verdict::Forward
    );
    // And a non-hairpin exchange still goes to the resolvers.
    let ex = ex_for(&e, "www.example.com", TYPE_A);
    assert!(matches!(ex.poll(), Action::Send { .. }));
}

// ---- IP targets ----------------------------------------------------------------------------

#[test]
fn ip_target_is_answered_at_once() {
    let e = engine(30);
    let ex = ex_for(&e, "WwW.ExAmple.COM", TYPE_A);
    assert!(!ex.is_waiting());
    assert_eq!(ex.sends(), 0);
    let out = answered(&ex);
    // Exact header: client ID, QR|RD|RA (AA clear), NOERROR, 1 question, 1 answer.
    assert_eq!(
        &out[..12],
        &[0x42, 0x42, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
    );
    // The question is the client's, byte for byte, and the owner points at it.
    let q = question("WwW.ExAmple.COM", TYPE_A, CLASS_IN);
    assert_eq!(&out[12..12 + q.len()], &q[..]);
    assert_eq!(&out[12 + q.len()..12 + q.len() + 2], &QNAME_PTR);
    let m = parse(&out);
    assert_eq!(
        records(&m),
        vec![(
            "WwW.ExAmple.COM.".to_string(),
            RecordType::A,
            30,
            ip("192.0.2.80")
        )]
    );
    assert!(m.authorities.is_empty() && m.additionals.is_empty() && m.edns.is_none());
    // Polling again gives the same answer.
    assert_eq!(answered(&ex), out);
}

#[test]
fn ip_target_ttl_is_max_ttl() {
    for max_ttl in [0u32, 1, 30, 600, 604_800] {
        let e = engine(max_ttl);
        let m = parse(&answered(&ex_for(&e, "www.example.com", TYPE_A)));
        assert_eq!(m.answers.first().map(|r| r.ttl), Some(max_ttl));
    }
}

#[test]
fn address_family_and_nodata() {
    let e = engine(30);
    let cases: &[(&str, u16, &[&str])] = &[
        ("v6.example.com", TYPE_AAAA, &["2001:db8::6"]),
        ("v6.example.com", TYPE_A, &[]),
        ("www.example.com", TYPE_AAAA, &[]),
        ("dual.example.com", TYPE_A, &["192.0.2.5"]),
        ("dual.example.com", TYPE_AAAA, &["2001:db8::5"]),
        ("one.example.com", TYPE_A, &["192.0.2.6", "192.0.2.7"]),
        ("two.example.com", TYPE_A, &["192.0.2.6", "192.0.2.7"]),
        ("two.example.com", TYPE_AAAA, &[]),
    ];
    for (name, qtype, want) in cases {
        let out = answered(&ex_for(&e, name, *qtype));
        let m = parse(&out);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        let got: Vec<IpAddr> = records(&m).into_iter().map(|r| r.3).collect();
        let want: Vec<IpAddr> = want.iter().map(|s| ip(s)).collect();
        assert_eq!(got, want, "{name} {qtype}");
        assert!(m.authorities.is_empty(), "NODATA without an SOA");
        let rtype = RecordType::from(*qtype);
        assert!(records(&m).iter().all(|r| r.1 == rtype && r.2 == 30));
    }
}

#[test]
fn wildcard_precedence_through_the_exchange() {
    let e = engine(30);
    for (name, want) in [
        ("exact.example.com", "192.0.2.3"),
        ("sub.exact.example.com", "192.0.2.2"),
        ("sub.www.example.com", "192.0.2.2"),
        ("x.deep.example.com", "192.0.2.4"),
        ("y.z.deep.example.com", "192.0.2.4"),
        ("deep.example.com", "192.0.2.2"),
        ("mail.example.com", "192.0.2.2"),
    ] {
        let m = parse(&answered(&ex_for(&e, name, TYPE_A)));
        let got: Vec<IpAddr> = records(&m).into_iter().map(|r| r.3).collect();
        assert_eq!(got, vec![ip(want)], "{name}");
    }
}

#[test]
fn flags_rd_cd_and_edns_follow_the_client() {
    let e = engine(30);
    // RD clear, CD set.
    let mut q = query(7, "www.example.com", TYPE_A, None);
    q[2] &= !0x01;
    q[3] |= 0x10;
    let out = answered(&new_ex(&e, &q, Transport::Udp));
    assert_eq!(
        &out[2..4],
        &[0x80, 0x90],
        "QR, RA, CD; RD clear; AA and AD clear"
    );
    // AD and DO from the client: still no AD (nothing was validated); OPT back.
    for dnssec_ok in [false, true] {
        let mut q = query(7, "www.example.com", TYPE_A, Some((4096, dnssec_ok, &[])));
        q[3] |= 0x20;
        let out = answered(&new_ex(&e, &q, Transport::Udp));
        assert_eq!(&out[2..4], &[0x81, 0x80]);
        assert!(out.ends_with(&opt(1232, dnssec_ok, &[])));
        assert_eq!(be16(&out, 10), 1);
    }
}

#[test]
fn too_many_addresses_for_udp_are_truncated() {
    let ips: Vec<String> = (1..=40).map(|i| format!("192.0.2.{i}")).collect();
    let line = format!("many.example.com {}", ips.join(" "));
    let e = engine_with(30, |b| hairpin(b, &line));
    // 40 A records of 16 octets: over 512 octets.
    let out = answered(&ex_for(&e, "many.example.com", TYPE_A));
    assert_eq!(out[2] & FLAG_TC, FLAG_TC);
    assert_eq!(be16(&out, 6), 0);
    // Over TCP all of them.
    let q = query(1, "many.example.com", TYPE_A, None);
    let m = parse(&answered(&new_ex(&e, &q, Transport::Tcp)));
    assert_eq!(m.answers.len(), 40);
    assert!(!m.metadata.truncation);
}

#[test]
fn a_hairpin_exchange_ignores_replies() {
    let e = engine(30);
    let mut ex = ex_for(&e, "www.example.com", TYPE_A);
    let before = answered(&ex);
    assert_eq!(ex.on_reply(&e, &before, 0), Err(ReplyError::ExchangeDone));
    ex.on_failure(0);
    assert_eq!(answered(&ex), before);
}

#[test]
fn other_types_and_challenges_are_not_hairpinned_by_the_exchange() {
    let e = engine(30);
    for (name, qtype) in [
        ("www.example.com", TYPE_TXT),
        ("www.example.com", TYPE_MX),
        ("_acme-challenge.www.example.com", TYPE_A),
        ("_acme-challenge.www.example.com", TYPE_AAAA),
    ] {
        let ex = ex_for(&e, name, qtype);
        assert!(
            matches!(ex.poll(), Action::Send { .. }),
            "{name} {qtype}: goes to the resolvers"
        );
    }
    // Class CH is no hairpin either.
    let q = Wire {
        id: 1,
        flags: 0x0100,
        qd: vec![question("www.example.com", TYPE_A, CLASS_CH)],
        an: vec![],
        ns: vec![],
        ar: vec![],
    }
    .bytes();
    assert!(matches!(
        new_ex(&e, &q, Transport::Udp).poll(),
        Action::Send { .. }
    ));
}

// ---- name targets --------------------------------------------------------------------------

#[test]
fn name_target_asks_the_chain_once() {
    let e = engine(30);
    for (client_name, qtype) in [
        ("Svc.Example.COM", TYPE_A),
        ("x.apps.example.org", TYPE_AAAA),
    ] {
        let mut q = query(
            0x1111,
            client_name,
            qtype,
            Some((4096, true, &cookie_and_ecs())),
        );
        q[3] |= 0x30; // AD, CD: not passed on
        let ex = new_ex(&e, &q, Transport::Tcp);
        assert!(ex.is_waiting());
        assert_eq!(ex.sends(), 1);
        let m = internal_query(&ex);
        assert_eq!(m.metadata.id, ex.upstream_id());
        assert!(m.metadata.recursion_desired);
        assert!(!m.metadata.checking_disabled && !m.metadata.authentic_data);
        let qs: Vec<(String, RecordType, u16)> = m
            .queries
            .iter()
            .map(|q| {
                (
                    q.name().to_ascii(),
                    q.query_type(),
                    u16::from(q.query_class()),
                )
            })
            .collect();
        // The target in lower case (no 0x20), the client's type, class IN.
        assert_eq!(
            qs,
            vec![(format!("{INGRESS}."), RecordType::from(qtype), CLASS_IN)]
        );
        let edns = m.edns.as_ref();
        assert_eq!(edns.map(|e| e.max_payload()), Some(1232));
        assert_eq!(edns.map(|e| e.flags().dnssec_ok), Some(false));
        assert!(edns.is_some_and(|e| e.options().as_ref().is_empty()));
    }
}

#[test]
fn name_target_answer_under_the_client_name() {
    let e = engine(30);
    let mut ex = ex_for(&e, "SVC.example.Com", TYPE_A);
    let r = internal_reply(
        &ex,
        0,
        vec![
            rr(&QNAME_PTR, TYPE_A, CLASS_IN, 300, &[10, 96, 0, 10]),
            rr(&QNAME_PTR, TYPE_A, CLASS_IN, 5, &[10, 96, 0, 11]),
            // The same address again: dropped.
            rr(&QNAME_PTR, TYPE_A, CLASS_IN, 5, &[10, 96, 0, 10]),
        ],
        vec![],
    );
    assert_eq!(ex.on_reply(&e, &r, 1_000), Ok(()));
    let out = answered(&ex);
    assert_eq!(
        &out[..12],
        &[0x42, 0x42, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]
    );
    let m = parse(&out);
    assert_eq!(
        records(&m),
        vec![
            (
                "SVC.example.Com.".to_string(),
                RecordType::A,
                30,
                ip("10.96.0.10")
            ),
            (
                "SVC.example.Com.".to_string(),
                RecordType::A,
                5,
                ip("10.96.0.11")
            ),
        ]
    );
    // Nothing learned from the chain's reply.
    assert_eq!(e.learned_len(), 0);
}

#[test]
fn name_target_ttls_capped_by_max_ttl() {
    for (max_ttl, ttl, want) in [
        (30u32, 300u32, 30u32),
        (600, 300, 300),
        (600, 7, 7),
        (0, 300, 0),
    ] {
        let e = engine(max_ttl);
        let mut ex = ex_for(&e, "svc.example.com", TYPE_A);
        let r = internal_reply(&ex, 0, vec![a_rr(INGRESS, [10, 0, 0, 1], ttl)], vec![]);
        assert_eq!(ex.on_reply(&e, &r, 0), Ok(()));
        let m = parse(&answered(&ex));
        assert_eq!(
            m.answers.first().map(|r| r.ttl),
            Some(want),
            "{max_ttl} {ttl}"
        );
    }
}

#[test]
fn cname_chain_followed_but_not_shown() {
    let e = engine(30);
    let mut ex = ex_for(&e, "svc.example.com", TYPE_A);
    let alias = "ingress-alias-target.ingress-nginx.svc.cluster.local";
    let r = internal_reply(
        &ex,
        0,
        vec![
            rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &wire_name(alias)),
            a_rr(&alias.to_uppercase(), [10, 0, 0, 9], 7),
        ],
        vec![],
    );
    assert_eq!(ex.on_reply(&e, &r, 0), Ok(()));
    let m = parse(&answered(&ex));
    assert_eq!(
        records(&m),
        vec![(
            "svc.example.com.".to_string(),
            RecordType::A,
            7,
            ip("10.0.0.9")
        )]
    );
}

#[test]
fn name_target_aaaa_and_nodata() {
    let e = engine(30);
    // AAAA.
    let mut ex = ex_for(&e, "svc.example.com", TYPE_AAAA);
    let r = internal_reply(&ex, 0, vec![aaaa_rr(INGRESS, "fd00::10", 60)], vec![]);
    assert_eq!(ex.on_reply(&e, &r, 0), Ok(()));
    let m = parse(&answered(&ex));
    assert_eq!(
        records(&m),
        vec![(
            "svc.example.com.".to_string(),
            RecordType::AAAA,
            30,
            ip("fd00::10")
        )]
    );
    // NOERROR without an address (the Service has no AAAA; with the zone's SOA): NODATA,
    // nothing else.
    let mut ex = ex_for(&e, "svc.example.com", TYPE_AAAA);
    let soa = rr(
        &wire_name("cluster.local"),
        TYPE_SOA,
        CLASS_IN,
        5,
        &soa_rdata("cluster.local", 5),
    );
    let r = internal_reply(&ex, 0, vec![], vec![soa]);
    assert_eq!(ex.on_reply(&e, &r, 0), Ok(()));
    let out = answered(&ex);
    assert_eq!(&out[2..12], &[0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn negative_or_failed_lookups_fail() {
    let e = engine(30);
    // NXDOMAIN and YXDOMAIN are valid replies: used, then SERVFAIL for the client.
    for rcode in [3u16, 6] {
        let mut ex = ex_for(&e, "svc.example.com", TYPE_A);
        let r = internal_reply(&ex, rcode, vec![], vec![]);
        assert_eq!(ex.on_reply(&e, &r, 0), Ok(()), "rcode {rcode}");
        assert_eq!(
            ex.poll(),
            Action::Fail(FailReason::HairpinTarget),
            "rcode {rcode}"
        );
    }
    // SERVFAIL, REFUSED, FORMERR, NOTIMP: rejected, and the exchange fails (one chain).
    for rcode in [1u16, 2, 4, 5] {
        let mut ex = ex_for(&e, "svc.example.com", TYPE_A);
        let r = internal_reply(&ex, rcode, vec![], vec![]);
        assert_eq!(
            ex.on_reply(&e, &r, 0),
            Err(ReplyError::UpstreamFailure),
            "rcode {rcode}"
        );
        assert_eq!(ex.poll(), Action::Fail(FailReason::HairpinTarget));
        assert_eq!(ex.sends(), 1);
    }
    // No reply written by the chain.
    let mut ex = ex_for(&e, "svc.example.com", TYPE_A);
    ex.on_failure(0);
    assert_eq!(ex.poll(), Action::Fail(FailReason::HairpinTarget));
    assert_eq!(ex.sends(), 1);
    ex.on_failure(0);
    assert_eq!(ex.poll(), Action::Fail(FailReason::HairpinTarget));
    assert_eq!(
        FailReason::HairpinTarget.to_string(),
        FailReason::HairpinTarget.as_str()
    );
}

#[test]
fn invalid_internal_replies_fail() {
    let e = engine(30);
    let good =
        |ex: &Exchange| internal_reply(ex, 0, vec![a_rr(INGRESS, [10, 0, 0, 1], 30)], vec![]);
    type Mutate = fn(&mut Vec<u8>);
    let cases: [(Mutate, ReplyError); 7] = [
        (|r| r[2] &= !0x80, ReplyError::NotAResponse),
        (|r| r[1] ^= 1, ReplyError::IdMismatch),
        (|r| r[2] |= 4 << 3, ReplyError::OpcodeMismatch),
        (|r| r[13] ^= 0x20, ReplyError::QuestionMismatch), // letter case of the question
        (|r| r[5] = 2, ReplyError::QuestionMismatch),
        (|r| r[2] |= FLAG_TC, ReplyError::Truncated),
        (|r| r.truncate(r.len() - 2), ReplyError::Malformed),
    ];
    for (mutate, want) in cases {
        let mut ex = ex_for(&e, "svc.example.com", TYPE_A);
        let mut r = good(&ex);
        mutate(&mut r);
        assert_eq!(ex.on_reply(&e, &r, 0), Err(want));
        // No retry (not even over TCP after TC): the exchange fails.
        assert_eq!(
            ex.poll(),
            Action::Fail(FailReason::HairpinTarget),
            "{want:?}"
        );
        assert_eq!(ex.sends(), 1);
    }
    // An answer record off the target name and its chain.
    let mut ex = ex_for(&e, "svc.example.com", TYPE_A);
    let r = internal_reply(
        &ex,
        0,
        vec![
            a_rr(INGRESS, [10, 0, 0, 1], 30),
            a_rr("evil.example.com", [10, 6, 6, 6], 30),
        ],
        vec![],
    );
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::ForeignRecord));
    assert_eq!(ex.poll(), Action::Fail(FailReason::HairpinTarget));
    // The client's own question is not what was asked.
    let mut ex = ex_for(&e, "svc.example.com", TYPE_A);
    let r = Wire {
        id: ex.upstream_id(),
        flags: 0x8180,
        qd: vec![question("svc.example.com", TYPE_A, CLASS_IN)],
        an: vec![],
        ns: vec![],
        ar: vec![],
    }
    .bytes();
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::QuestionMismatch));
    assert!(matches!(ex.poll(), Action::Fail(_)));
    // Replies after the end change nothing.
    assert_eq!(
        ex.on_reply(&e, &good(&ex), 0),
        Err(ReplyError::ExchangeDone)
    );
}

#[test]
fn other_family_records_and_ns_in_the_chain_reply_are_ignored() {
    let e = engine(30);
    let mut ex = ex_for(&e, "svc.example.com", TYPE_A);
    let r = internal_reply(
        &ex,
        0,
        vec![
            aaaa_rr(INGRESS, "fd00::1", 30),
            a_rr(INGRESS, [10, 0, 0, 2], 30),
        ],
        vec![rr(
            &wire_name("cluster.local"),
            TYPE_NS,
            CLASS_IN,
            30,
            &wire_name("ns.dns.cluster.local"),
        )],
    );
    assert_eq!(ex.on_reply(&e, &r, 0), Ok(()));
    let m = parse(&answered(&ex));
    assert_eq!(records(&m).len(), 1);
    assert_eq!(records(&m)[0].3, ip("10.0.0.2"));
    assert!(m.authorities.is_empty());
    // The NS target was not learned: its A questions are not forwarded.
    assert_eq!(e.learned_len(), 0);
}

/// The answer as data is the exchange's answer: the same addresses, in order, with the same TTL
/// (NODATA alike); none for a name target or a question outside the table.
#[test]
fn hairpin_addrs_are_the_exchanges_answer() {
    let e = engine(60);
    for name in [
        "www.example.com.",
        "WWW.Example.COM",
        "x.example.com.",
        "exact.example.com.",
        "a.b.deep.example.com.",
        "v6.example.com.",
        "dual.example.com.",
        "two.example.com.",
    ] {
        for qtype in [TYPE_A, TYPE_AAAA] {
            assert_eq!(verdict(&e, name, qtype), Verdict::Hairpin, "{name}");
            let want: Vec<(u32, IpAddr)> = records(&parse(&answered(&ex_for(&e, name, qtype))))
                .into_iter()
                .map(|(_, _, ttl, ip)| (ttl, ip))
                .collect();
            let Some((addrs, ttl)) = e.hairpin_addrs(name.as_bytes(), qtype) else {
                panic!("{name} {qtype}: no addresses");
            };
            let got: Vec<(u32, IpAddr)> = addrs.map(|ip| (ttl, ip)).collect();
            assert_eq!(got, want, "{name} {qtype}");
        }
    }
    assert!(e.hairpin_addrs(b"svc.example.com.", TYPE_A).is_none());
    assert!(e.hairpin_addrs(b"www.example.org.", TYPE_A).is_none());
    assert!(e.hairpin_addrs(b"www.example.com.", TYPE_TXT).is_none());
    assert!(e.hairpin_addrs(b"www..example.com.", TYPE_A).is_none());
}

#[test]
fn a_wildcard_above_a_protected_zone_answers_none_of_its_names() {
    let e = engine_with(30, |b| {
        assert!(b.protect("corp.example").is_ok());
        hairpin(b, "*.local 192.0.2.9");
        hairpin(b, "*.example 192.0.2.10");
    });
    assert_eq!(verdict(&e, "printer.local", TYPE_A), Verdict::Hairpin);
    assert_eq!(verdict(&e, "www.other.example", TYPE_A), Verdict::Hairpin);
    for name in [
        "kube-dns.kube-system.svc.cluster.local",
        "db.corp.example",
        "corp.example",
    ] {
        assert_eq!(verdict(&e, name, TYPE_A), Verdict::Pass, "{name}");
    }
}
