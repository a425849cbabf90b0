//! The exchange state machine driven with hand-built replies: recursive failover, TC handling,
//! learning, and validation of discovery records and glue (authoritative mode:
//! `machine_authoritative_tests.rs`).

use hickory_proto::rr::{RData, RecordType};

use crate::exchange::fail_reason::FailReason;
use crate::exchange::machine::{Action, MAX_SENDS};
use crate::exchange::validate::ReplyError;
use crate::rules::classify::Verdict;
use crate::state::engine::Rule;
use crate::state::learned::LEARN_MIN_TTL;
use crate::testutil::*;
use crate::wire::{FLAG_TC, Transport};

const CHALLENGE: &str = "_acme-challenge.example.com";

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
fn tls_upstreams_are_always_asked_over_tcp() {
    let e = engine_with(&["192.0.2.1"], |b| {
        assert!(b.upstream_tls("192.0.2.2:853").is_ok());
        assert!(b.upstream("192.0.2.3").is_ok());
    });
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    assert_eq!(sending(&ex).0, addr("192.0.2.1:53"));
    assert_eq!(sending(&ex).1, Transport::Udp);
    ex.on_failure(0);
    // A UDP client's question goes to the TLS upstream over TCP.
    assert_eq!(sending(&ex).0, addr("192.0.2.2:853"));
    assert_eq!(sending(&ex).1, Transport::Tcp);
    // A wrong ID there is judged as over TCP: no later datagram can be the true reply, so the
    // try is over and the next upstream is asked (over UDP again).
    let mut r = reply(&ex, 0, vec![txt_at_q("x")], vec![], vec![]);
    r[0] ^= 0xff;
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::IdMismatch));
    assert_eq!(sending(&ex).0, addr("192.0.2.3:53"));
    assert_eq!(sending(&ex).1, Transport::Udp);

    // TC from a TLS upstream: no retry of the same one (it was TCP already), the next one.
    let e = engine_with(&[], |b| {
        assert!(b.upstream_tls("192.0.2.2:853").is_ok());
        assert!(b.upstream("192.0.2.3").is_ok());
    });
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    assert_eq!(sending(&ex).1, Transport::Tcp);
    let mut r = reply(&ex, 0, vec![], vec![], vec![]);
    r[2] |= FLAG_TC;
    assert_eq!(ex.on_reply(&e, &r, 0), Err(ReplyError::Truncated));
    assert_eq!(sending(&ex).0, addr("192.0.2.3:53"));
    assert_eq!(sending(&ex).1, Transport::Udp);

    // And a valid reply over TLS answers the UDP client as usual.
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let r = reply(&ex, 0, vec![txt_at_q("token")], vec![], vec![]);
    ok(&mut ex, &e, &r, 0);
    assert_eq!(answer(&ex).answers.len(), 1);
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

#[test]
fn config_and_exchange_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<crate::Config>();
    send_sync::<crate::Exchange>();
}
