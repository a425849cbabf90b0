//! The prefetch driven with hand-built replies and a fake clock: what it asks, what it makes
//! forwardable, how it refreshes and backs off, and that two replicas fed the same answers
//! decide alike whatever else one of them saw.

use std::net::SocketAddr;

use crate::config::UpstreamMode;
use crate::config::builder::ConfigBuilder;
use crate::prefetch::{
    PREFETCH_MIN_INTERVAL_MS, PREFETCH_RETRY_MIN_MS, PREFETCH_STALE_MS, Prefetch, PrefetchAction,
    PrefetchReply,
};
use crate::rules::classify::Verdict;
use crate::rules::policy::Refusal;
use crate::state::engine::{Engine, Rule};
use crate::state::learned::Fact;
use crate::testutil::*;
use crate::wire::Transport;

const TIMEOUT_MS: u64 = 2_000;

fn engine(setup: impl FnOnce(&mut ConfigBuilder)) -> Engine {
    engine_with(&["192.0.2.53"], setup)
}

/// Answers the internal view's questions until the prefetch sends or sleeps: NOERROR with no
/// records for the names in `known`, NXDOMAIN for the rest. Gives each question asked (name,
/// type) and what the prefetch made of its reply.
fn internal_view(
    p: &mut Prefetch,
    e: &Engine,
    now: u64,
    known: &[&str],
) -> Vec<(String, u16, PrefetchReply)> {
    internal_view_by(p, e, now, |name, _| known.contains(&name))
}

/// [`internal_view`] with an internal view that knows `knows(name, type)`.
fn internal_view_by(
    p: &mut Prefetch,
    e: &Engine,
    now: u64,
    knows: impl Fn(&str, u16) -> bool,
) -> Vec<(String, u16, PrefetchReply)> {
    let mut asked = Vec::new();
    for _ in 0..100 {
        let PrefetchAction::Internal { query, deadline_ms } = p.poll(e, now) else {
            return asked;
        };
        assert_eq!(deadline_ms, now + TIMEOUT_MS);
        let query = query.to_vec();
        let (name, qtype) = question_of(&query);
        let rcode = if knows(&name, qtype) { 0 } else { 3 };
        let outcome = p
            .on_reply(e, &answer_to(&query, rcode, vec![], vec![]), now)
            .unwrap_or_else(|err| panic!("internal reply rejected: {err}"));
        asked.push((name, qtype, outcome));
    }
    panic!("the prefetch kept asking the internal view");
}

/// The pending send, once the internal view (which knows none of the names) was asked what the
/// prefetch asks it: (server, question name lower-cased, type, deadline, query).
fn pending(p: &mut Prefetch, e: &Engine, now: u64) -> (SocketAddr, String, u16, u64, Vec<u8>) {
    internal_view(p, e, now, &[]);
    match p.poll(e, now) {
        PrefetchAction::Send {
            server,
            transport,
            query,
            deadline_ms,
        } => {
            assert_eq!(transport, Transport::Udp);
            let (name, qtype) = question_of(query);
            (server, name, qtype, deadline_ms, query.to_vec())
        }
        other => panic!("expected a send, got {other:?}"),
    }
}

/// A resolver's reply (QR|RD|RA plus `rcode`) to `query`.
fn answer_to(query: &[u8], rcode: u16, an: Vec<Vec<u8>>, ns: Vec<Vec<u8>>) -> Vec<u8> {
    let qlen = {
        let mut i = 12;
        while let Some(&len) = query.get(i) {
            if len == 0 {
                break;
            }
            i += 1 + usize::from(len);
        }
        i + 5 - 12
    };
    Wire {
        id: u16::from_be_bytes([query[0], query[1]]),
        flags: RA | rcode,
        qd: vec![query[12..12 + qlen].to_vec()],
        an,
        ns,
        ar: vec![],
    }
    .bytes()
}

fn reply_ok(p: &mut Prefetch, e: &Engine, r: &[u8], now: u64) {
    match p.on_reply(e, r, now) {
        Ok(PrefetchReply::Taken) => {}
        other => panic!("prefetch reply not taken: {other:?}"),
    }
}

fn sleeping(p: &mut Prefetch, e: &Engine, now: u64) -> u64 {
    internal_view(p, e, now, &[]);
    match p.poll(e, now) {
        PrefetchAction::Sleep { until_ms } => until_ms,
        other => panic!("expected a sleep, got {other:?}"),
    }
}

#[test]
fn nothing_to_prefetch_without_zones_or_discovery() {
    for e in [
        engine(|_| {}),
        engine(|b| {
            assert!(b.zone("example.com").is_ok());
            b.discovery(false);
        }),
    ] {
        let mut p = Prefetch::new(&e, 1);
        assert_eq!(p.zones(), 0);
        assert!(p.is_ready());
        assert_eq!(sleeping(&mut p, &e, 5), u64::MAX);
    }
}

#[test]
fn listed_zone_nameserver_hosts_become_forwardable() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
    });
    let mut p = Prefetch::new(&e, 1);
    assert!(!p.is_ready());
    assert_eq!(classify(&e, "ns1.example.com", TYPE_A, 0), Verdict::Pass);
    let now = 10_000;
    let (server, name, qtype, deadline, q) = pending(&mut p, &e, now);
    assert_eq!(
        (server, name.as_str(), qtype, deadline),
        (
            addr("192.0.2.53:53"),
            "example.com",
            TYPE_NS,
            now + TIMEOUT_MS
        )
    );
    // Polled again later, the same try keeps its deadline: the core owns the time.
    assert_eq!(pending(&mut p, &e, now + 500).3, now + TIMEOUT_MS);
    let r = answer_to(
        &q,
        0,
        vec![
            ns("example.com", "ns1.example.com", 3600),
            ns("example.com", "ns2.dns-provider.net", 3600),
            ns("example.com", "ns.svc.cluster.local", 3600),
        ],
        vec![],
    );
    reply_ok(&mut p, &e, &r, now + 5);
    // Recursive mode: no address lookups; next refresh at 3/4 of the TTL.
    assert_eq!(sleeping(&mut p, &e, now + 5), now + 5 + 2_700_000);
    assert!(p.is_ready());
    assert_eq!(
        e.rule(b"ns1.example.com", TYPE_A, 1, now),
        Some(Rule::NsHost)
    );
    assert_eq!(
        e.rule(b"NS1.example.com.", TYPE_AAAA, 1, now),
        Some(Rule::NsHost)
    );
    // Out of bailiwick and outside every listed zone; and a protected name.
    assert_eq!(
        classify(&e, "ns2.dns-provider.net", TYPE_A, now),
        Verdict::Pass
    );
    assert_eq!(
        classify(&e, "ns.svc.cluster.local", TYPE_A, now),
        Verdict::Pass
    );
    assert_eq!(e.refused(Refusal::OutOfBailiwick), 1);
    assert_eq!(e.refused(Refusal::Protected), 1);
    // Nothing was learned: the facts are the prefetch's, never evicted by learning.
    assert_eq!(e.learned_len(), 0);
}

#[test]
fn zone_below_its_apex_prefetches_the_apex() {
    let e = engine(|b| {
        assert!(b.zone("www.example.com").is_ok());
    });
    let mut p = Prefetch::new(&e, 2);
    let (_, name, qtype, _, q) = pending(&mut p, &e, 0);
    assert_eq!((name.as_str(), qtype), ("www.example.com", TYPE_NS));
    // NODATA: www is no zone cut; the SOA names the apex.
    let r = answer_to(&q, 0, vec![], vec![soa("example.com", 300)]);
    reply_ok(&mut p, &e, &r, 1);
    let (_, name, qtype, _, q) = pending(&mut p, &e, 1);
    assert_eq!((name.as_str(), qtype), ("example.com", TYPE_NS));
    let r = answer_to(
        &q,
        0,
        vec![ns("example.com", "ns1.example.com", 20)],
        vec![],
    );
    reply_ok(&mut p, &e, &r, 2);
    // The smallest interval bounds a short TTL.
    assert_eq!(sleeping(&mut p, &e, 2), 2 + PREFETCH_MIN_INTERVAL_MS);
    for qtype in [TYPE_SOA, TYPE_NS] {
        assert_eq!(e.rule(b"example.com", qtype, 1, 3), Some(Rule::Discovery));
    }
    for qtype in [TYPE_A, TYPE_TXT] {
        assert_eq!(classify(&e, "example.com", qtype, 3), Verdict::Pass);
    }
    assert_eq!(e.rule(b"ns1.example.com", TYPE_A, 1, 3), Some(Rule::NsHost));
}

#[test]
fn failures_back_off_and_keep_the_earlier_results() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
    });
    let mut p = Prefetch::new(&e, 3);
    let (_, _, _, _, q) = pending(&mut p, &e, 0);
    let r = answer_to(
        &q,
        0,
        vec![ns("example.com", "ns1.example.com", 120)],
        vec![],
    );
    reply_ok(&mut p, &e, &r, 0);
    let refresh = sleeping(&mut p, &e, 0);
    assert_eq!(refresh, 90_000);
    // Every refresh fails (timeouts, SERVFAIL): retries back off, doubling.
    let mut now = refresh;
    let mut waits = Vec::new();
    for i in 0..4 {
        let (_, _, _, deadline, q) = pending(&mut p, &e, now);
        if i % 2 == 0 {
            p.on_failure(0);
        } else {
            // SERVFAIL is a failed reply: the lookup moves on (no other resolver) and fails.
            assert!(
                p.on_reply(&e, &answer_to(&q, 2, vec![], vec![]), deadline)
                    .is_err()
            );
        }
        let next = sleeping(&mut p, &e, deadline);
        waits.push(next - deadline);
        now = next;
    }
    assert_eq!(
        waits,
        vec![
            PREFETCH_RETRY_MIN_MS,
            2 * PREFETCH_RETRY_MIN_MS,
            4 * PREFETCH_RETRY_MIN_MS,
            8 * PREFETCH_RETRY_MIN_MS
        ]
    );
    // The results stay in force past their TTL while refreshes fail...
    assert_eq!(
        e.rule(b"ns1.example.com", TYPE_A, 1, now),
        Some(Rule::NsHost)
    );
    // ...but not forever.
    let gone = 120_000 + PREFETCH_STALE_MS;
    assert_eq!(e.rule(b"ns1.example.com", TYPE_A, 1, gone), None);
}

#[test]
fn first_round_failing_still_makes_the_replica_ready() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.delegated("auth.example.net").is_ok());
    });
    let mut p = Prefetch::new(&e, 4);
    assert_eq!(p.zones(), 2);
    let (_, first, ..) = pending(&mut p, &e, 0);
    p.on_failure(0);
    assert!(!p.is_ready());
    let (_, second, ..) = pending(&mut p, &e, 0);
    assert_ne!(first, second);
    p.on_failure(0);
    assert_eq!(sleeping(&mut p, &e, 0), PREFETCH_RETRY_MIN_MS);
    assert!(p.is_ready());
}

#[test]
fn authoritative_mode_prefetches_addresses_under_the_address_policy() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.allow_ns("127.0.0.0/8").is_ok());
        b.upstream_mode(UpstreamMode::Authoritative);
    });
    let mut p = Prefetch::new(&e, 5);
    let (_, _, _, _, q) = pending(&mut p, &e, 0);
    let r = answer_to(
        &q,
        0,
        vec![
            ns("example.com", "ns1.example.com", 3600),
            ns("example.com", "ns2.example.com", 3600),
        ],
        vec![],
    );
    reply_ok(&mut p, &e, &r, 0);
    // The internal view first (it knows neither host), then the addresses.
    let probed: Vec<_> = internal_view(&mut p, &e, 0, &[])
        .into_iter()
        .map(|(name, qtype, _)| format!("{name} {qtype}"))
        .collect();
    assert_eq!(
        probed,
        vec![
            "ns1.example.com 1",
            "ns1.example.com 28",
            "ns2.example.com 1",
            "ns2.example.com 28"
        ]
    );
    let mut asked = Vec::new();
    while let PrefetchAction::Send { query, .. } = p.poll(&e, 0) {
        let (name, qtype) = question_of(query);
        asked.push(format!("{name} {qtype}"));
        let query = query.to_vec();
        let an = match (name.as_str(), qtype) {
            ("ns1.example.com", TYPE_A) => vec![a("ns1.example.com", [127, 0, 0, 53], 600)],
            ("ns2.example.com", TYPE_A) => vec![a("ns2.example.com", [10, 0, 0, 53], 600)],
            _ => vec![],
        };
        reply_ok(&mut p, &e, &answer_to(&query, 0, an, vec![]), 0);
    }
    assert_eq!(
        asked,
        vec![
            "ns1.example.com 1",
            "ns2.example.com 1",
            "ns1.example.com 28",
            "ns2.example.com 28"
        ]
    );
    assert_eq!(e.refused(Refusal::AddressPolicy), 1, "10.0.0.53 is refused");
    // The challenge goes straight to the prefetched nameserver: no discovery, on any replica.
    let ex = new_ex(
        &e,
        "_acme-challenge.example.com",
        TYPE_TXT,
        Transport::Udp,
        1,
    );
    assert!(ex.is_authoritative());
    assert_eq!(sending(&ex).0, addr("127.0.0.53:53"));
    assert!(!sending(&ex).4, "RD clear");
}

#[test]
fn replicas_decide_alike_whatever_one_of_them_learned() {
    let replica = || {
        engine(|b| {
            assert!(b.zone("example.com").is_ok());
            assert!(b.delegated("auth.example.net").is_ok());
        })
    };
    let (a_engine, b_engine) = (replica(), replica());
    for e in [&a_engine, &b_engine] {
        let mut p = Prefetch::new(e, 6);
        while let (_, PrefetchAction::Send { query, .. }) =
            (internal_view(&mut p, e, 0, &[]), p.poll(e, 0))
        {
            let (name, _) = question_of(query);
            let query = query.to_vec();
            let host = format!("ns1.{name}");
            let r = answer_to(&query, 0, vec![ns(&name, &host, 3600)], vec![]);
            reply_ok(&mut p, e, &r, 0);
        }
        assert!(p.is_ready());
    }
    // Replica A also saw a forwarded NS reply (learning); B saw nothing.
    assert!(a_engine.learn(&wire_name("ns1.example.com"), Fact::NsHost, 300, 0));
    let lookups = [
        ("example.com", TYPE_SOA),
        ("example.com", TYPE_NS),
        ("ns1.example.com", TYPE_A),
        ("ns1.example.com", TYPE_AAAA),
        ("auth.example.net", TYPE_NS),
        ("x.auth.example.net", TYPE_TXT),
        ("ns1.auth.example.net", TYPE_A),
        ("_acme-challenge.www.example.com", TYPE_TXT),
        ("www.example.com", TYPE_A),
        ("intranet.example.com", TYPE_A),
    ];
    for (name, qtype) in lookups {
        assert_eq!(
            classify(&a_engine, name, qtype, 1_000),
            classify(&b_engine, name, qtype, 1_000),
            "{name} {qtype}"
        );
    }
    assert_eq!(
        classify(&b_engine, "ns1.example.com", TYPE_A, 1_000),
        Verdict::Forward
    );
    assert_eq!(
        classify(&b_engine, "www.example.com", TYPE_A, 1_000),
        Verdict::Pass
    );
}

#[test]
fn a_clock_at_its_end_never_loops() {
    // Every deadline has passed at once: each round fails without a send, and poll returns.
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.delegated("auth.example.net").is_ok());
    });
    let mut p = Prefetch::new(&e, 7);
    for now in [u64::MAX, u64::MAX - 1, u64::MAX - 1_000] {
        assert!(matches!(p.poll(&e, now), PrefetchAction::Sleep { .. }));
    }
    assert!(p.is_ready());
}

/// One round of the prefetch of `example.com`, whose public NS RRset names `hosts`, with an
/// internal view that knows the names in `known`; gives what the internal view was asked
/// (name, type, outcome) and when the next round is due.
fn round_with_internal_view(
    p: &mut Prefetch,
    e: &Engine,
    now: u64,
    hosts: &[&str],
    known: &[&str],
) -> (Vec<(String, u16, PrefetchReply)>, u64) {
    let (_, name, qtype, _, q) = pending(p, e, now);
    assert_eq!((name.as_str(), qtype), ("example.com", TYPE_NS));
    let an = hosts.iter().map(|h| ns("example.com", h, 3600)).collect();
    reply_ok(p, e, &answer_to(&q, 0, an, vec![]), now);
    let asked = internal_view(p, e, now, known);
    (asked, sleeping(p, e, now))
}

#[test]
fn nameserver_hosts_the_internal_view_knows_keep_their_internal_answer() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
    });
    let mut p = Prefetch::new(&e, 8);
    // Whoever writes the public zone names an internal host in its NS RRset.
    let (asked, next) = round_with_internal_view(
        &mut p,
        &e,
        0,
        &["ns1.example.com", "intranet.example.com"],
        &["intranet.example.com"],
    );
    assert_eq!(
        asked,
        vec![
            ("ns1.example.com".into(), TYPE_A, PrefetchReply::Taken),
            ("ns1.example.com".into(), TYPE_AAAA, PrefetchReply::Taken),
            (
                "intranet.example.com".into(),
                TYPE_A,
                PrefetchReply::KeptInternal
            ),
        ]
    );
    assert_eq!(
        next, 2_700_000,
        "a whole round: the next one at 3/4 of the TTL"
    );
    assert!(p.is_ready());
    assert_eq!(e.rule(b"ns1.example.com", TYPE_A, 1, 1), Some(Rule::NsHost));
    for qtype in [TYPE_A, TYPE_AAAA] {
        assert_eq!(
            classify(&e, "intranet.example.com", qtype, 1),
            Verdict::Pass
        );
    }
    assert_eq!(e.refused(Refusal::InternalName), 1);

    // The NS RRset changes while the replica runs: the next round drops a host the internal
    // view now knows, and asks again about every host.
    let (asked, _) =
        round_with_internal_view(&mut p, &e, next, &["ns1.example.com"], &["ns1.example.com"]);
    assert_eq!(
        asked,
        vec![(
            "ns1.example.com".into(),
            TYPE_A,
            PrefetchReply::KeptInternal
        )]
    );
    assert_eq!(
        classify(&e, "ns1.example.com", TYPE_A, next + 1),
        Verdict::Pass
    );
    assert_eq!(e.refused(Refusal::InternalName), 2);
}

#[test]
fn a_host_known_inside_for_aaaa_only_keeps_its_internal_answer() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
    });
    let mut p = Prefetch::new(&e, 9);
    let (_, _, _, _, q) = pending(&mut p, &e, 0);
    let an = vec![ns("example.com", "v6.example.com", 3600)];
    reply_ok(&mut p, &e, &answer_to(&q, 0, an, vec![]), 0);
    let asked: Vec<u16> = internal_view_by(&mut p, &e, 0, |_, qtype| qtype == TYPE_AAAA)
        .into_iter()
        .map(|(_, qtype, _)| qtype)
        .collect();
    assert_eq!(asked, [TYPE_A, TYPE_AAAA]);
    assert_eq!(classify(&e, "v6.example.com", TYPE_AAAA, 1), Verdict::Pass);
    assert_eq!(e.refused(Refusal::InternalName), 1);
}

#[test]
fn public_hosts_are_published_without_asking_the_internal_view() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.public_host("intranet.example.com").is_ok());
    });
    let mut p = Prefetch::new(&e, 10);
    let (asked, _) = round_with_internal_view(
        &mut p,
        &e,
        0,
        &["intranet.example.com"],
        &["intranet.example.com"],
    );
    assert_eq!(asked, vec![]);
    assert_eq!(
        e.rule(b"intranet.example.com", TYPE_A, 1, 1),
        Some(Rule::NsHost)
    );
    assert_eq!(e.refused(Refusal::InternalName), 0);
}

#[test]
fn an_internal_view_that_cannot_tell_publishes_no_host_and_asks_again_soon() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
    });
    let mut p = Prefetch::new(&e, 11);
    let (_, _, _, _, q) = pending(&mut p, &e, 0);
    let an = vec![ns("example.com", "ns1.example.com", 3600)];
    reply_ok(&mut p, &e, &answer_to(&q, 0, an, vec![]), 0);
    // No reply from the rest of the chain; then SERVFAIL from it.
    assert!(matches!(p.poll(&e, 0), PrefetchAction::Internal { .. }));
    p.on_failure(0);
    assert_eq!(sleeping(&mut p, &e, 0), PREFETCH_RETRY_MIN_MS);
    assert!(p.is_ready());
    assert_eq!(classify(&e, "ns1.example.com", TYPE_A, 1), Verdict::Pass);
    assert_eq!(e.refused(Refusal::InternalLookupFailed), 1);
    let now = PREFETCH_RETRY_MIN_MS;
    let (_, _, _, _, q) = pending(&mut p, &e, now);
    reply_ok(
        &mut p,
        &e,
        &answer_to(
            &q,
            0,
            vec![ns("example.com", "ns1.example.com", 3600)],
            vec![],
        ),
        now,
    );
    let PrefetchAction::Internal { query, .. } = p.poll(&e, now) else {
        panic!("expected a question to the internal view");
    };
    let query = query.to_vec();
    assert!(
        p.on_reply(&e, &answer_to(&query, 2, vec![], vec![]), now)
            .is_err()
    );
    assert_eq!(sleeping(&mut p, &e, now), now + 2 * PREFETCH_RETRY_MIN_MS);
    assert_eq!(
        classify(&e, "ns1.example.com", TYPE_A, now + 1),
        Verdict::Pass
    );
    assert_eq!(e.refused(Refusal::InternalLookupFailed), 2);
}

#[test]
fn a_kept_nameserver_host_is_never_a_hairpin_answer() {
    // `hairpin *.example.com` covers the zone's own nameserver hosts. Those the prefetch
    // forwards, and those the internal view knows, keep their own answers: the ACME checks ask
    // them.
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.hairpin("*.example.com 192.0.2.80").is_ok());
    });
    let mut p = Prefetch::new(&e, 12);
    round_with_internal_view(
        &mut p,
        &e,
        0,
        &["ns1.example.com", "ns2.example.com"],
        &["ns2.example.com"],
    );
    assert_eq!(classify(&e, "ns1.example.com", TYPE_A, 1), Verdict::Forward);
    assert_eq!(classify(&e, "ns2.example.com", TYPE_A, 1), Verdict::Pass);
    assert_eq!(classify(&e, "ns2.example.com", TYPE_AAAA, 1), Verdict::Pass);
    assert_eq!(classify(&e, "www.example.com", TYPE_A, 1), Verdict::Hairpin);
}
