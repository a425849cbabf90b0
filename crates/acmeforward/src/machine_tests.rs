//! The exchange state machine driven with hand-built replies: recursive failover, TC handling,
//! the authoritative discovery steps, learning, and the send budget.

use hickory_proto::rr::{RData, RecordType};

use crate::config::{UpstreamMode, Verdict};
use crate::engine::{Engine, Rule};
use crate::exchange::{Action, Exchange, FLAG_TC, FailReason, MAX_SENDS, ReplyError, Transport};
use crate::learned::{Fact, LEARN_MIN_TTL, Learned};
use crate::testutil::*;

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

// ---- recursive mode -------------------------------------------------------------------------

#[test]
fn recursive_tries_each_upstream_in_order_then_fails() {
    let e = engine_with(&["192.0.2.1", "192.0.2.2:5353", "[2001:db8::3]"], |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    assert!(!ex.is_authoritative());
    let (server, transport, _, qtype, rd) = sending(&ex);
    assert_eq!(
        (server, transport, qtype, rd),
        (addr("192.0.2.1:53"), Transport::Udp, RecordType::TXT, true)
    );
    // Timeout: the next one.
    ex.on_failure(0);
    assert_eq!(sending(&ex).0, addr("192.0.2.2:5353"));
    // An invalid reply (SERVFAIL): the next one, and the error is reported.
    let r = reply(&ex, 2, vec![], vec![], vec![]);
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::UpstreamFailure));
    assert_eq!(sending(&ex).0, addr("[2001:db8::3]:53"));
    // A spoofed one (wrong ID) over UDP: dropped, the try keeps waiting for the true one.
    let mut r = reply(&ex, 0, vec![txt_at_q("x")], vec![], vec![]);
    r[0] ^= 0xff;
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::IdMismatch));
    assert_eq!(sending(&ex).0, addr("[2001:db8::3]:53"));
    // Then its deadline passes: the last one is used up too.
    ex.on_failure(0);
    assert_eq!(ex.poll(), Action::Fail(FailReason::NoReply));
    assert_eq!(ex.sends(), 3);
    // Done: replies and failures change nothing.
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::ExchangeDone));
    ex.on_failure(0);
    assert_eq!(ex.poll(), Action::Fail(FailReason::NoReply));
    assert!(!ex.is_waiting());
}

#[test]
fn recursive_all_timeouts_fail_with_no_reply() {
    let e = engine_with(&["192.0.2.1", "192.0.2.2"], |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    ex.on_failure(0);
    ex.on_failure(0);
    assert_eq!(ex.poll(), Action::Fail(FailReason::NoReply));
}

#[test]
fn recursive_valid_reply_answers() {
    let e = engine_with(&["192.0.2.1", "192.0.2.2"], |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    ex.on_failure(0);
    let r = reply(&ex, 0, vec![txt_at_q("token")], vec![], vec![]);
    ok(&mut ex, &e, &r, 0);
    let m = answer(&ex);
    assert_eq!(m.metadata.id, 0x1234);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(ex.sends(), 2);
    // Answered: a late failure or reply changes nothing.
    let before = sent(&ex);
    ex.on_failure(0);
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::ExchangeDone));
    assert_eq!(answer(&ex).answers.len(), 1);
    assert_eq!(sent(&ex), before);
}

#[test]
fn truncated_over_udp_retries_same_server_over_tcp_then_next() {
    let e = engine_with(&["192.0.2.1", "192.0.2.2"], |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let first = sent(&ex);
    let mut r = reply(&ex, 0, vec![], vec![], vec![]);
    r[2] |= FLAG_TC;
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::Truncated));
    assert_eq!(sending(&ex).0, addr("192.0.2.1:53"));
    assert_eq!(sending(&ex).1, Transport::Tcp);
    assert_ne!(sent(&ex)[..2], first[..2], "a fresh ID for the retry");
    // TC over TCP: the next server (back to UDP there).
    let mut r = reply(&ex, 0, vec![], vec![], vec![]);
    r[2] |= FLAG_TC;
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::Truncated));
    assert_eq!(sending(&ex).0, addr("192.0.2.2:53"));
    assert_eq!(sending(&ex).1, Transport::Udp);
}

#[test]
fn client_over_tcp_means_tcp_upstream() {
    let e = engine_with(&["192.0.2.1", "192.0.2.2"], |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Tcp, 0);
    assert_eq!(sending(&ex).1, Transport::Tcp);
    ex.on_failure(0);
    assert_eq!(sending(&ex).1, Transport::Tcp);
}

#[test]
fn every_send_has_a_fresh_id_and_case() {
    let ups: Vec<String> = (1..=8).map(|i| format!("192.0.2.{i}")).collect();
    let ups: Vec<&str> = ups.iter().map(String::as_str).collect();
    let e = engine_with(&ups, |_| {});
    let long = "_acme-challenge.abcdefghijklmnopqrstuvwxyz.abcdefghijklmnopqrstuvwxyz.example.com";
    let mut ex = new_ex(&e, long, TYPE_TXT, Transport::Udp, 0);
    let mut seen: Vec<Vec<u8>> = Vec::new();
    while ex.is_waiting() {
        let q = sent(&ex);
        let question = ex.question().to_vec();
        assert!(question.eq_ignore_ascii_case(&question_bytes(long)));
        assert!(!seen.iter().any(|s| s[..2] == q[..2] && s[12..] == q[12..]));
        seen.push(q);
        ex.on_failure(0);
    }
    assert_eq!(seen.len(), 8);
    let ids: std::collections::HashSet<[u8; 2]> = seen.iter().map(|q| [q[0], q[1]]).collect();
    assert!(ids.len() >= 7, "IDs vary per send");
    let cases: std::collections::HashSet<&[u8]> = seen.iter().map(|q| &q[12..]).collect();
    assert_eq!(cases.len(), 8, "0x20 case varies per send");
}

fn question_bytes(name: &str) -> Vec<u8> {
    question(name, TYPE_TXT, CLASS_IN)
}

#[test]
fn send_budget_is_bounded() {
    let ups: Vec<String> = (1..=40).map(|i| format!("192.0.2.{i}")).collect();
    let ups: Vec<&str> = ups.iter().map(String::as_str).collect();
    let e = engine_with(&ups, |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let mut steps = 0;
    while ex.is_waiting() {
        ex.on_failure(0);
        steps += 1;
        assert!(steps <= MAX_SENDS);
    }
    assert_eq!(ex.sends(), MAX_SENDS);
    assert_eq!(ex.poll(), Action::Fail(FailReason::SendLimit));
}

// ---- learning -------------------------------------------------------------------------------

#[test]
fn challenge_reply_teaches_targets_ancestors_and_ns_hosts() {
    let e = engine_with(&["192.0.2.53"], |_| {});
    assert_eq!(e.learned_len(), 0);
    let name = "_acme-challenge.www.example.com";
    assert_eq!(
        classify(&e, "x.auth.example.net.", TYPE_TXT, 0),
        Verdict::Pass
    );
    let mut ex = new_ex(&e, name, TYPE_TXT, Transport::Udp, 0);
    let target = wire_name("X.Auth.Example.NET");
    let r = reply(
        &ex,
        0,
        vec![
            rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 0, &target),
            rr(&target, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
        ],
        vec![ns("auth.example.net", "ns1.auth.example.net", 3600)],
        vec![],
    );
    let now = 1_000;
    ok(&mut ex, &e, &r, now);
    // The internal view knows neither the target nor the NS host: both are learned, then the
    // client is answered.
    internal_unknown(&mut ex, &e, now);
    assert!(matches!(ex.poll(), Action::Answer(_)));
    // Rule 4: the CNAME target, the check's types only (TTL 0 is kept LEARN_MIN_TTL).
    for qtype in [TYPE_TXT, TYPE_CNAME, TYPE_SOA, TYPE_NS] {
        assert_eq!(
            classify(&e, "x.auth.example.net.", qtype, now),
            Verdict::Forward
        );
    }
    for qtype in [TYPE_A, TYPE_AAAA, 15, 33, 255] {
        assert_eq!(
            classify(&e, "x.auth.example.net.", qtype, now),
            Verdict::Pass,
            "type {qtype}"
        );
    }
    let min = u64::from(LEARN_MIN_TTL) * 1000;
    assert_eq!(
        classify(&e, "x.auth.example.net.", TYPE_TXT, now + min - 1),
        Verdict::Forward
    );
    assert_eq!(
        classify(&e, "x.auth.example.net.", TYPE_TXT, now + min),
        Verdict::Pass
    );
    // Rule 5: ancestors of the target and of the challenge name, SOA and NS only.
    for anc in [
        "auth.example.net.",
        "example.net.",
        "net.",
        "www.example.com.",
        "example.com.",
        "com.",
    ] {
        assert_eq!(classify(&e, anc, TYPE_SOA, now), Verdict::Forward, "{anc}");
        assert_eq!(classify(&e, anc, TYPE_NS, now), Verdict::Forward, "{anc}");
        assert_eq!(classify(&e, anc, TYPE_A, now), Verdict::Pass, "{anc}");
    }
    assert_eq!(e.rule(b".", TYPE_SOA, 1, now), None, "never the root");
    // Rule 3: the NS target, A and AAAA only, for the NS TTL.
    assert_eq!(
        e.rule(b"ns1.auth.example.net", TYPE_A, 1, now),
        Some(Rule::NsHost)
    );
    assert_eq!(
        classify(&e, "ns1.auth.example.net", TYPE_AAAA, now),
        Verdict::Forward
    );
    assert_eq!(
        classify(&e, "ns1.auth.example.net", TYPE_TXT, now),
        Verdict::Pass
    );
    assert_eq!(
        classify(&e, "ns1.auth.example.net", TYPE_A, now + 3_600_000),
        Verdict::Pass
    );
    // Unrelated names still pass.
    assert_eq!(classify(&e, "www.example.com.", TYPE_A, now), Verdict::Pass);
    assert_eq!(
        classify(&e, "kubernetes.default.svc.cluster.local.", TYPE_A, now),
        Verdict::Pass
    );
}

#[test]
fn invalid_replies_teach_nothing() {
    let e = engine_with(&["192.0.2.53", "192.0.2.54"], |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let target = wire_name("t.example.net");
    let evil = rr(
        &wire_name("evil.example"),
        TYPE_A,
        CLASS_IN,
        300,
        &[192, 0, 2, 1],
    );
    let r = reply(
        &ex,
        0,
        vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target), evil],
        vec![ns("example.com", "ns1.example.com", 300)],
        vec![],
    );
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::ForeignRecord));
    assert_eq!(e.learned_len(), 0);
    assert_eq!(classify(&e, "t.example.net", TYPE_TXT, 0), Verdict::Pass);
}

#[test]
fn discovery_off_learns_only_cname_targets() {
    let e = engine_with(&["192.0.2.53"], |b| {
        b.discovery(false);
    });
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let target = wire_name("t.example.net");
    let r = reply(
        &ex,
        0,
        vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target)],
        vec![ns("example.net", "ns1.example.net", 300)],
        vec![],
    );
    ok(&mut ex, &e, &r, 0);
    internal_says(&mut ex, &e, 3, 0);
    assert_eq!(e.learned_len(), 1);
    assert_eq!(classify(&e, "t.example.net", TYPE_TXT, 0), Verdict::Forward);
    assert_eq!(classify(&e, "example.net", TYPE_SOA, 0), Verdict::Pass);
    assert_eq!(classify(&e, "ns1.example.net", TYPE_A, 0), Verdict::Pass);
}

#[test]
fn non_challenge_replies_teach_no_cname_targets() {
    // A discovery question (rule 2) whose reply has a CNAME: the target is not learned.
    let e = engine_with(&["192.0.2.53"], |b| {
        assert!(b.zone("example.com").is_ok());
    });
    let mut ex = new_ex(&e, "www.example.com", TYPE_SOA, Transport::Udp, 0);
    let target = wire_name("lb.example.net");
    let r = reply(
        &ex,
        0,
        vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target)],
        vec![],
        vec![],
    );
    ok(&mut ex, &e, &r, 0);
    assert_eq!(classify(&e, "lb.example.net", TYPE_A, 0), Verdict::Pass);
    assert_eq!(e.learned_len(), 0);
}

#[test]
fn max_learned_bounds_what_exchanges_teach() {
    let e = engine_with(&["192.0.2.53"], |b| {
        assert!(b.max_learned(16).is_ok());
    });
    for i in 0..40u64 {
        let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, i);
        let nss: Vec<Vec<u8>> = (0..3)
            .map(|j| {
                ns(
                    "example.com",
                    &format!("ns{i}-{j}.example.com"),
                    300 + i as u32,
                )
            })
            .collect();
        let r = reply(&ex, 0, vec![], nss, vec![]);
        ok(&mut ex, &e, &r, i);
        internal_unknown(&mut ex, &e, i);
        assert!(e.learned_len() <= 16);
    }
    // The newest hosts are kept (the oldest expire soonest).
    assert_eq!(
        classify(&e, "ns39-2.example.com", TYPE_A, 40),
        Verdict::Forward
    );
    assert_eq!(classify(&e, "ns0-0.example.com", TYPE_A, 40), Verdict::Pass);
}

// ---- validation: discovery records and glue ------------------------------------------------

#[test]
fn ns_and_soa_answers_at_the_question_name_accepted() {
    let e = engine_with(&["192.0.2.53"], |b| {
        assert!(b.zone("example.com").is_ok());
    });
    let mut ex = new_ex(&e, "Example.com", TYPE_NS, Transport::Udp, 0);
    let r = reply(
        &ex,
        0,
        vec![
            rr(
                &QNAME_PTR,
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns1.example.com"),
            ),
            rr(
                &QNAME_PTR,
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns2.example.net"),
            ),
        ],
        vec![],
        vec![
            a("ns1.example.com", [192, 0, 2, 1], 300),
            aaaa("NS1.example.com", 1, 300),
            a("ns2.example.net", [192, 0, 2, 2], 300),
            // Not an NS target: stripped.
            a("www.example.com", [192, 0, 2, 80], 300),
            // Not an address: stripped.
            rr(
                &wire_name("ns1.example.com"),
                TYPE_TXT,
                CLASS_IN,
                300,
                &txt_rdata("x"),
            ),
            opt(1232, false, &[]),
        ],
    );
    ok(&mut ex, &e, &r, 0);
    internal_unknown(&mut ex, &e, 0);
    let m = answer(&ex);
    assert_eq!(m.answers.len(), 2);
    let glue: Vec<(String, RecordType)> = m
        .additionals
        .iter()
        .map(|r| (r.name.to_ascii(), r.record_type()))
        .collect();
    assert_eq!(
        glue,
        vec![
            ("ns1.example.com.".to_string(), RecordType::A),
            ("ns1.example.com.".to_string(), RecordType::AAAA),
            ("ns2.example.net.".to_string(), RecordType::A),
        ]
    );
    assert!(m.additionals.iter().all(|r| r.ttl <= 30), "TTLs capped");

    let mut ex = new_ex(&e, "example.com", TYPE_SOA, Transport::Udp, 0);
    let r = reply(
        &ex,
        0,
        vec![rr(
            &QNAME_PTR,
            TYPE_SOA,
            CLASS_IN,
            300,
            &soa_rdata("example.com", 600),
        )],
        vec![],
        vec![],
    );
    ok(&mut ex, &e, &r, 0);
    let m = answer(&ex);
    assert!(matches!(m.answers.first().map(|r| &r.data), Some(RData::SOA(s)) if s.minimum == 30));
}

#[test]
fn glue_of_dropped_ns_records_is_stripped() {
    let e = engine_with(&["192.0.2.53"], |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let r = reply(
        &ex,
        0,
        vec![txt_at_q("t")],
        // example.org is not an ancestor: its NS is dropped, and so is its glue.
        vec![
            ns("example.org", "ns.example.org", 300),
            ns("example.com", "ns.example.com", 300),
        ],
        vec![
            a("ns.example.org", [192, 0, 2, 9], 300),
            a("ns.example.com", [192, 0, 2, 10], 300),
        ],
    );
    ok(&mut ex, &e, &r, 0);
    internal_unknown(&mut ex, &e, 0);
    let m = answer(&ex);
    assert_eq!(m.authorities.len(), 1);
    let glue: Vec<String> = m.additionals.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(glue, vec!["ns.example.com.".to_string()]);
    // And nothing was learned about the dropped one.
    assert_eq!(classify(&e, "ns.example.org", TYPE_A, 0), Verdict::Pass);
    assert_eq!(classify(&e, "ns.example.com", TYPE_A, 0), Verdict::Forward);
}

#[test]
fn glue_dropped_before_truncating() {
    let e = engine_with(&["192.0.2.53"], |b| {
        assert!(b.zone("example.com").is_ok());
    });
    let mut ex = new_ex(&e, "example.com", TYPE_NS, Transport::Udp, 0);
    let hosts: Vec<String> = (0..12)
        .map(|i| format!("nameserver-{i:02}.some-long-provider-name.example.net"))
        .collect();
    let an: Vec<Vec<u8>> = hosts
        .iter()
        .map(|h| rr(&QNAME_PTR, TYPE_NS, CLASS_IN, 300, &wire_name(h)))
        .collect();
    let ar: Vec<Vec<u8>> = hosts
        .iter()
        .flat_map(|h| [a(h, [192, 0, 2, 1], 300), aaaa(h, 1, 300)])
        .collect();
    let r = reply(&ex, 0, an, vec![], ar);
    ok(&mut ex, &e, &r, 0);
    let m = answer(&ex);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 12);
    assert!(m.additionals.is_empty());
}

// ---- authoritative mode ---------------------------------------------------------------------

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
