//! The exchange in authoritative mode, driven with hand-built replies: discovery of the zone's
//! nameservers through the resolvers, the nameserver tries, learned nameservers and the
//! fallback to discovery, and the send budget.

use hickory_proto::rr::{RData, RecordType};

use crate::config::UpstreamMode;
use crate::exchange::fail_reason::FailReason;
use crate::exchange::machine::{Action, Exchange, MAX_SENDS};
use crate::exchange::validate::ReplyError;
use crate::rules::classify::Verdict;
use crate::state::engine::{Engine, Rule};
use crate::state::learned::{Fact, Learned};
use crate::testutil::*;
use crate::wire::Transport;

const CHALLENGE: &str = "_acme-challenge.example.com";

/// Authoritative mode; the nameservers of these tests live on loopback, which the address
/// policy refuses unless `allow_ns` lists it.
fn auth_engine() -> Engine {
    engine_with(&["192.0.2.53"], |b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.allow_ns("127.0.0.0/8").is_ok());
        b.upstream_mode(UpstreamMode::Authoritative);
    })
}

/// Drives a first authoritative exchange for `_acme-challenge.example.com TXT` through SOA, NS
/// and A sub-queries to the nameserver 127.0.0.53.
fn discover(e: &Engine, now: u64) -> Exchange {
    let mut ex = new_ex(e, CHALLENGE, TYPE_TXT, Transport::Udp, now);
    assert!(ex.is_authoritative());
    let resolver = addr("192.0.2.53:53");

    // 1. SOA of the question name, to the resolver, RD set.
    assert_eq!(
        sending(&ex),
        (
            resolver,
            Transport::Udp,
            "_acme-challenge.example.com.".into(),
            RecordType::SOA,
            true
        )
    );
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, e, &r, now);

    // 2. NS of the apex.
    assert_eq!(
        sending(&ex),
        (
            resolver,
            Transport::Udp,
            "example.com.".into(),
            RecordType::NS,
            true
        )
    );
    let r = reply_with(
        &ex,
        RA,
        vec![ns("example.com", "ns1.example.com", 600)],
        vec![],
        vec![],
    );
    ok(&mut ex, e, &r, now);

    // 3. A of the nameserver host (no glue).
    assert_eq!(
        sending(&ex),
        (
            resolver,
            Transport::Udp,
            "ns1.example.com.".into(),
            RecordType::A,
            true
        )
    );
    let r = reply_with(
        &ex,
        RA,
        vec![a("ns1.example.com", [127, 0, 0, 53], 600)],
        vec![],
        vec![],
    );
    ok(&mut ex, e, &r, now);

    // 4. The question itself, to the nameserver on port 53, RD clear.
    assert_eq!(
        sending(&ex),
        (
            addr("127.0.0.53:53"),
            Transport::Udp,
            "_acme-challenge.example.com.".into(),
            RecordType::TXT,
            false
        )
    );
    ex
}

#[test]
fn authoritative_discovers_then_asks_the_nameserver() {
    let e = auth_engine();
    let mut ex = discover(&e, 0);
    let r = reply_with(&ex, AA, vec![txt_at_q("token")], vec![], vec![]);
    ok(&mut ex, &e, &r, 0);
    let m = answer(&ex);
    assert!(m.metadata.authoritative);
    assert_eq!(m.metadata.id, 0x1234);
    assert!(
        matches!(m.answers.first().map(|r| &r.data), Some(RData::TXT(t)) if t.to_string() == "token")
    );
    assert_eq!(ex.sends(), 4);
    // Learned: the zone's nameservers. Not the NS host: names are learned only from the
    // answer to a client's question, after the internal view was asked about them.
    let (apex, servers) = e
        .learned_servers(&wire_name(CHALLENGE), 0)
        .unwrap_or_default();
    assert_eq!(apex, wire_name("example.com"));
    assert_eq!(servers, vec![addr("127.0.0.53:53")]);
    assert_eq!(classify(&e, "ns1.example.com", TYPE_A, 0), Verdict::Pass);
}

#[test]
fn authoritative_second_exchange_goes_straight_to_learned_nameserver() {
    let e = auth_engine();
    let mut ex = discover(&e, 0);
    let r = reply_with(&ex, AA, vec![txt_at_q("token")], vec![], vec![]);
    ok(&mut ex, &e, &r, 0);

    let mut ex = new_ex(
        &e,
        "_acme-challenge.www.example.com",
        TYPE_TXT,
        Transport::Udp,
        10_000,
    );
    assert_eq!(
        sending(&ex),
        (
            addr("127.0.0.53:53"),
            Transport::Udp,
            "_acme-challenge.www.example.com.".into(),
            RecordType::TXT,
            false
        )
    );
    let r = reply_with(&ex, AA | 3, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, &e, &r, 10_000);
    assert_eq!(ex.sends(), 1);
    let m = answer(&ex);
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::NXDomain
    );

    // After the NS TTL (600 s), discovery again.
    let ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 600_000);
    assert_eq!(sending(&ex).3, RecordType::SOA);
}

#[test]
fn authoritative_learned_nameservers_failing_fall_back_to_discovery() {
    let e = auth_engine();
    let mut ex = discover(&e, 0);
    let r = reply_with(&ex, AA, vec![txt_at_q("token")], vec![], vec![]);
    ok(&mut ex, &e, &r, 0);

    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 1);
    assert_eq!(sending(&ex).0, addr("127.0.0.53:53"));
    ex.on_failure(0);
    assert_eq!(sending(&ex).3, RecordType::SOA);
    assert_eq!(sending(&ex).0, addr("192.0.2.53:53"));
}

#[test]
fn authoritative_non_aa_reply_moves_to_next_nameserver() {
    let e = auth_engine();
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, &e, &r, 0);
    // NS with glue for both hosts (IPv6 glue first in the message): no address lookups, and the
    // IPv4 addresses are tried first.
    let r = reply_with(
        &ex,
        RA,
        vec![
            ns("example.com", "ns1.example.com", 600),
            ns("example.com", "ns2.example.com", 600),
        ],
        vec![],
        vec![
            aaaa("ns1.example.com", 1, 600),
            a("ns1.example.com", [127, 0, 0, 53], 600),
            a("ns2.example.com", [127, 0, 0, 54], 300),
        ],
    );
    ok(&mut ex, &e, &r, 0);
    assert_eq!(sending(&ex).0, addr("127.0.0.53:53"));
    assert!(!sending(&ex).4, "RD clear");
    // A recursive-style reply (AA clear): not authoritative, the next nameserver.
    let r = reply_with(&ex, RA, vec![txt_at_q("stale")], vec![], vec![]);
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::NotAuthoritative));
    assert_eq!(sending(&ex).0, addr("127.0.0.54:53"));
    let r = reply_with(&ex, AA, vec![txt_at_q("fresh")], vec![], vec![]);
    ok(&mut ex, &e, &r, 0);
    assert!(
        matches!(answer(&ex).answers.first().map(|r| &r.data), Some(RData::TXT(t)) if t.to_string() == "fresh")
    );
    // Learned with the answering server first, then the rest; TTL = the smallest (300 s).
    let (_, servers) = e
        .learned_servers(&wire_name(CHALLENGE), 0)
        .unwrap_or_default();
    assert_eq!(
        servers,
        vec![
            addr("127.0.0.54:53"),
            addr("127.0.0.53:53"),
            addr("[2001:db8::1]:53")
        ]
    );
    assert!(e.learned_servers(&wire_name(CHALLENGE), 299_999).is_some());
    assert!(e.learned_servers(&wire_name(CHALLENGE), 300_000).is_none());
}

#[test]
fn authoritative_all_nameservers_failing_fails() {
    let e = auth_engine();
    let mut ex = discover(&e, 0);
    let r = reply_with(&ex, RA, vec![txt_at_q("x")], vec![], vec![]);
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::NotAuthoritative));
    // ns1's AAAA lookup (the only one left): no address.
    assert_eq!(sending(&ex).3, RecordType::AAAA);
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, &e, &r, 0);
    assert_eq!(ex.poll(), Action::Fail(FailReason::NoNameservers));
    assert!(e.learned_servers(&wire_name(CHALLENGE), 0).is_none());
}

#[test]
fn authoritative_aaaa_lookup_after_ipv4_fails() {
    let e = auth_engine();
    let mut ex = discover(&e, 0);
    ex.on_failure(0);
    assert_eq!(
        sending(&ex),
        (
            addr("192.0.2.53:53"),
            Transport::Udp,
            "ns1.example.com.".into(),
            RecordType::AAAA,
            true
        )
    );
    let r = reply_with(
        &ex,
        RA,
        vec![aaaa("ns1.example.com", 53, 600)],
        vec![],
        vec![],
    );
    ok(&mut ex, &e, &r, 0);
    assert_eq!(sending(&ex).0, addr("[2001:db8::35]:53"));
    assert!(!sending(&ex).4);
}

#[test]
fn authoritative_soa_walk_goes_up_past_a_cname() {
    let e = auth_engine();
    let mut ex = new_ex(
        &e,
        "_acme-challenge.www.example.com",
        TYPE_TXT,
        Transport::Udp,
        0,
    );
    // The resolver follows the challenge CNAME: the SOA is the target zone's, not an ancestor.
    let target = wire_name("t.auth.example.net");
    let r = reply_with(
        &ex,
        RA,
        vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 60, &target)],
        vec![soa("auth.example.net", 300)],
        vec![],
    );
    ok(&mut ex, &e, &r, 0);
    assert_eq!(sending(&ex).2, "www.example.com.");
    assert_eq!(sending(&ex).3, RecordType::SOA);
    // A CNAME target is learned only from the answer, after the internal view was asked.
    assert_eq!(
        classify(&e, "t.auth.example.net", TYPE_TXT, 0),
        Verdict::Pass
    );
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, &e, &r, 0);
    assert_eq!(
        (sending(&ex).2, sending(&ex).3),
        ("example.com.".to_string(), RecordType::NS)
    );
}

#[test]
fn authoritative_soa_at_the_question_name_is_its_own_apex() {
    let e = auth_engine();
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let r = reply_with(
        &ex,
        RA,
        vec![rr(
            &QNAME_PTR,
            TYPE_SOA,
            CLASS_IN,
            300,
            &soa_rdata(CHALLENGE, 60),
        )],
        vec![],
        vec![],
    );
    ok(&mut ex, &e, &r, 0);
    assert_eq!(
        (sending(&ex).2, sending(&ex).3),
        ("_acme-challenge.example.com.".to_string(), RecordType::NS)
    );
}

#[test]
fn authoritative_dead_ends_fail() {
    let e = auth_engine();
    // The SOA is the root's (e.g. a TLD that does not exist).
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let r = reply_with(&ex, RA | 3, vec![], vec![soa(".", 300)], vec![]);
    ok(&mut ex, &e, &r, 0);
    assert_eq!(ex.poll(), Action::Fail(FailReason::NoNameservers));

    // No SOA anywhere up to the TLD.
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    for want in ["_acme-challenge.example.com.", "example.com.", "com."] {
        assert_eq!(sending(&ex).2, want);
        let r = reply_with(&ex, RA, vec![], vec![], vec![]);
        ok(&mut ex, &e, &r, 0);
    }
    assert_eq!(ex.poll(), Action::Fail(FailReason::NoNameservers));

    // NS reply without NS records.
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, &e, &r, 0);
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, &e, &r, 0);
    assert_eq!(ex.poll(), Action::Fail(FailReason::NoNameservers));

    // The resolver failing the SOA: the last error.
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let r = reply_with(&ex, RA | 2, vec![], vec![], vec![]);
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::UpstreamFailure));
    assert_eq!(
        ex.poll(),
        Action::Fail(FailReason::Reply(ReplyError::UpstreamFailure))
    );
}

#[test]
fn authoritative_sub_queries_are_validated() {
    let e = auth_engine();
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    // A foreign answer record in the SOA reply: rejected like any reply, nothing learned.
    let r = reply_with(
        &ex,
        RA,
        vec![a("evil.example", [192, 0, 2, 66], 300)],
        vec![soa("example.com", 300)],
        vec![],
    );
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::ForeignRecord));
    assert_eq!(
        ex.poll(),
        Action::Fail(FailReason::Reply(ReplyError::ForeignRecord))
    );

    // Glue for a host that is not one of the apex's NS targets is not used.
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, &e, &r, 0);
    let r = reply_with(
        &ex,
        RA,
        vec![ns("example.com", "ns1.example.com", 600)],
        vec![],
        vec![a("ns9.example.com", [127, 0, 0, 99], 600)],
    );
    ok(&mut ex, &e, &r, 0);
    assert_eq!(
        (sending(&ex).2, sending(&ex).3),
        ("ns1.example.com.".to_string(), RecordType::A)
    );
    // The sub-query reply's question must match the sub-query (0x20 case included).
    let mut r = reply_with(
        &ex,
        RA,
        vec![a("ns1.example.com", [127, 0, 0, 53], 600)],
        vec![],
        vec![],
    );
    let at = (12..12 + ex.question().len())
        .find(|&i| r[i].is_ascii_alphabetic())
        .unwrap_or(12);
    r[at] ^= 0x20;
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::QuestionMismatch));
}

#[test]
fn authoritative_sends_discovery_questions_to_resolvers() {
    let e = auth_engine();
    // Rule 2 (SOA in the zone), and SOA/NS even of a challenge name: resolvers, RD set.
    for (name, qtype) in [
        ("www.example.com", TYPE_SOA),
        ("example.com", TYPE_NS),
        (CHALLENGE, TYPE_SOA),
    ] {
        let ex = new_ex(&e, name, qtype, Transport::Udp, 0);
        assert!(!ex.is_authoritative(), "{name}");
        let (server, _, _, _, rd) = sending(&ex);
        assert_eq!(server, addr("192.0.2.53:53"));
        assert!(rd);
    }
    // Rule 3 (a learned NS host).
    assert!(e.learn(&wire_name("ns1.example.com"), Fact::NsHost, 300, 0));
    assert_eq!(e.rule(b"ns1.example.com", TYPE_A, 1, 0), Some(Rule::NsHost));
    let ex = new_ex(&e, "ns1.example.com", TYPE_A, Transport::Udp, 0);
    assert!(!ex.is_authoritative());
}

#[test]
fn authoritative_cname_answer_teaches_the_target_which_then_goes_authoritative_too() {
    let e = auth_engine();
    let mut ex = discover(&e, 0);
    let target = wire_name("t.auth.example.net");
    let r = reply_with(
        &ex,
        AA,
        vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target)],
        vec![],
        vec![],
    );
    ok(&mut ex, &e, &r, 0);
    internal_says(&mut ex, &e, 3, 0);
    assert_eq!(answer(&ex).answers.len(), 1);
    assert_eq!(
        e.rule(b"t.auth.example.net", TYPE_TXT, 1, 0),
        Some(Rule::CnameTarget)
    );
    let ex = new_ex(&e, "t.auth.example.net", TYPE_TXT, Transport::Udp, 0);
    assert!(ex.is_authoritative());
    assert_eq!(
        (sending(&ex).2, sending(&ex).3),
        ("t.auth.example.net.".to_string(), RecordType::SOA)
    );
}

#[test]
fn authoritative_delegated_zone_goes_to_its_nameservers() {
    let e = engine_with(&["192.0.2.53"], |b| {
        assert!(b.delegated("auth.example.net").is_ok());
        b.upstream_mode(UpstreamMode::Authoritative);
    });
    let ex = new_ex(&e, "t.auth.example.net", TYPE_TXT, Transport::Udp, 0);
    assert!(ex.is_authoritative());
    // A name that no rule forwards (the shim would not start an exchange for it): resolvers.
    let ex = new_ex(&e, "www.example.org", TYPE_TXT, Transport::Udp, 0);
    assert!(!ex.is_authoritative());
}

#[test]
fn authoritative_budget_is_bounded() {
    // 13 NS hosts without glue, every lookup and nameserver timing out.
    let e = auth_engine();
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, &e, &r, 0);
    let nss: Vec<Vec<u8>> = (0..20)
        .map(|i| ns("example.com", &format!("ns{i}.example.net"), 300))
        .collect();
    let r = reply_with(&ex, RA, nss, vec![], vec![]);
    ok(&mut ex, &e, &r, 0);
    let mut steps = 0;
    while ex.is_waiting() {
        let (_, _, _, qtype, _) = sending(&ex);
        if qtype == RecordType::A {
            let host = sending(&ex).2;
            let r = reply_with(
                &ex,
                RA,
                vec![a(&host, [127, 0, 1, steps as u8], 300)],
                vec![],
                vec![],
            );
            ok(&mut ex, &e, &r, 0);
        } else {
            ex.on_failure(0);
        }
        steps += 1;
        assert!(steps <= MAX_SENDS);
    }
    assert_eq!(ex.sends(), MAX_SENDS);
    assert_eq!(ex.poll(), Action::Fail(FailReason::SendLimit));
}

#[test]
fn learned_state_is_plain_data_in_the_engine() {
    let e = auth_engine();
    let mut ex = discover(&e, 0);
    let r = reply_with(&ex, AA, vec![txt_at_q("token")], vec![], vec![]);
    ok(&mut ex, &e, &r, 0);
    let snapshot: Learned = e.learned_snapshot();
    assert_eq!(snapshot.len(), e.learned_len());
    assert!(snapshot.servers(&wire_name(CHALLENGE), 0).is_some());
    // With zones listed, the challenge's ancestors in them are forwarded by rule 2, not learned.
    assert!(!snapshot.lookup(&wire_name("example.com"), 0).ancestor);
    assert_eq!(
        e.rule(b"example.com", TYPE_SOA, 1, 0),
        Some(Rule::Discovery)
    );
}

#[test]
fn discovery_through_a_tls_resolver_is_over_tcp_the_nameserver_not() {
    let e = engine_with(&[], |b| {
        assert!(b.upstream_tls("192.0.2.53:853").is_ok());
        assert!(b.zone("example.com").is_ok());
        assert!(b.allow_ns("127.0.0.0/8").is_ok());
        b.upstream_mode(UpstreamMode::Authoritative);
    });
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let resolver = addr("192.0.2.53:853");
    assert_eq!(
        sending(&ex),
        (
            resolver,
            Transport::Tcp,
            "_acme-challenge.example.com.".into(),
            RecordType::SOA,
            true
        )
    );
    let r = reply_with(&ex, RA, vec![], vec![soa("example.com", 300)], vec![]);
    ok(&mut ex, &e, &r, 0);
    assert_eq!((sending(&ex).0, sending(&ex).1), (resolver, Transport::Tcp));
    let r = reply_with(
        &ex,
        RA,
        vec![ns("example.com", "ns1.example.com", 600)],
        vec![],
        vec![a("ns1.example.com", [127, 0, 0, 53], 600)],
    );
    ok(&mut ex, &e, &r, 0);
    // The zone's own nameserver is plain DNS on port 53: the client's transport.
    assert_eq!(
        (sending(&ex).0, sending(&ex).1),
        (addr("127.0.0.53:53"), Transport::Udp)
    );
}
