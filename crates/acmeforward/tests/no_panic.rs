//! Properties: arbitrary bytes given to `Exchange::new`, `Exchange::on_reply`,
//! `Engine::classify`, `Config::classify` and `ConfigBuilder::hairpin` never panic
//! (every outcome is a value or a typed error), a state machine fed arbitrary replies always ends
//! within MAX_SENDS sends, and a hairpin exchange (IP or name target) always ends after at most
//! one internal lookup.

mod common;

use acmeforward::{
    Action, ConfigBuilder, Engine, Exchange, MAX_SENDS, ReplyError, Transport, UpstreamMode,
};
use common::*;
use proptest::prelude::*;

fn challenge_query() -> Vec<u8> {
    let q = question(
        &wire_from_labels(&[
            b"_acme-challenge".to_vec(),
            b"Example".to_vec(),
            b"com".to_vec(),
        ]),
        TYPE_TXT,
        CLASS_IN,
    );
    query(7, &q, Some((1232, true)))
}

fn exchange(engine: &Engine) -> Exchange {
    Exchange::new(engine, &challenge_query(), Transport::Udp, 3, 0).expect("query")
}

fn authoritative_engine() -> Engine {
    let mut b = ConfigBuilder::new();
    b.zone("example.com").expect("zone");
    b.upstream("192.0.2.53").expect("upstream");
    b.upstream("192.0.2.54").expect("upstream");
    b.upstream_mode(UpstreamMode::Authoritative);
    Engine::new(b.build().expect("config"))
}

/// An engine with hairpin lines: IP targets (exact and wildcard) and a name target.
fn hairpin_engine() -> Engine {
    let mut b = ConfigBuilder::new();
    b.zone("example.com").expect("zone");
    b.upstream("192.0.2.53").expect("upstream");
    b.hairpin("www.example.com 192.0.2.80 2001:db8::80")
        .expect("hairpin");
    b.hairpin("*.example.org svc.example.com ingress.svc.cluster.local")
        .expect("hairpin");
    Engine::new(b.build().expect("config"))
}

/// A client query for `name` (dotted, plain labels) of type `qtype`.
fn name_query(name: &str, qtype: u16, id: u16) -> Vec<u8> {
    let labels: Vec<Vec<u8>> = name.split('.').map(|l| l.as_bytes().to_vec()).collect();
    query(
        id,
        &question(&wire_from_labels(&labels), qtype, CLASS_IN),
        Some((1232, false)),
    )
}

/// A plausible reply: the right header and question, then arbitrary bytes, with arbitrary counts.
fn plausible_reply(ex: &Exchange, counts: [u16; 3], tail: &[u8], flags: u16) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&ex.upstream_id().to_be_bytes());
    r.extend_from_slice(&flags.to_be_bytes());
    r.extend_from_slice(&[0, 1]);
    for c in counts {
        r.extend_from_slice(&c.to_be_bytes());
    }
    r.extend_from_slice(ex.question());
    r.extend_from_slice(tail);
    r
}

/// An engine that has learned a CNAME target, NS hosts and ancestors (through an exchange).
fn learned_engine() -> Engine {
    let engine = engine(&["example.com", "."], 30);
    let mut ex = exchange(&engine);
    let target = wire_from_labels(&[b"t".to_vec(), b"example".to_vec(), b"net".to_vec()]);
    let ns = wire_from_labels(&[b"ns".to_vec(), b"example".to_vec(), b"net".to_vec()]);
    let mut reply = message(
        ex.upstream_id(),
        0x8180,
        ex.question(),
        &[rr(&QNAME_PTR, 5, CLASS_IN, 300, &target)],
        &[],
    );
    // One authority NS record: NSCOUNT = 1, appended after the answer.
    reply[9] = 1;
    reply.extend(rr(
        &wire_from_labels(&[b"example".to_vec(), b"net".to_vec()]),
        2,
        CLASS_IN,
        300,
        &ns,
    ));
    ex.on_reply(&engine, &reply, 0).expect("reply accepted");
    common::internal_unknown(&engine, &mut ex, 0);
    assert!(engine.learned_len() > 0);
    engine
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn exchange_new_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        random in any::<u64>(),
        tcp in any::<bool>(),
        now in any::<u64>(),
    ) {
        let client = if tcp { Transport::Tcp } else { Transport::Udp };
        for engine in [engine(&["example.com"], 30), authoritative_engine()] {
            if let Ok(ex) = Exchange::new(&engine, &bytes, client, random, now) {
                // Whatever was accepted yields a usable first query.
                let query_len = sent(&ex).len();
                prop_assert!(query_len >= 12 + ex.question().len());
            }
        }
    }

    #[test]
    fn on_reply_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600), now in any::<u64>()) {
        let engine = engine(&[], 30);
        let mut ex = exchange(&engine);
        if ex.on_reply(&engine, &bytes, now).is_err() {
            prop_assert!(!matches!(ex.poll(), Action::Answer(_)));
        }
    }

    #[test]
    fn on_reply_never_panics_past_the_header_checks(
        an in 0u16..8, ns in 0u16..8, ar in 0u16..8,
        tail in proptest::collection::vec(any::<u8>(), 0..400),
        rcode in 0u16..16,
    ) {
        let engine = engine(&[], 30);
        let mut ex = exchange(&engine);
        let reply = plausible_reply(&ex, [an, ns, ar], &tail, 0x8180 | rcode);
        match ex.on_reply(&engine, &reply, 0) {
            Ok(()) => {
                let answered = matches!(ex.poll(), Action::Answer(a) if a.len() >= 12);
                prop_assert!(answered);
            }
            Err(e) => prop_assert!(matches!(
                e,
                ReplyError::Malformed | ReplyError::ForeignRecord | ReplyError::UpstreamFailure
            ), "unexpected {e:?}"),
        }
    }

    #[test]
    fn on_reply_never_panics_on_mutated_valid_replies(
        ttls in proptest::collection::vec(any::<u32>(), 0..5),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let engine = engine(&[], 30);
        let ex = exchange(&engine);
        let mut reply = echo_reply(&ex, &ttls);
        for (at, x) in flips {
            let i = at.index(reply.len());
            reply[i] ^= x;
        }
        let keep = cut.index(reply.len() + 1);
        let _ = ex.clone().on_reply(&engine, &reply[..keep], 0);
        let _ = ex.clone().on_reply(&engine, &reply, 0);
    }

    #[test]
    fn authoritative_machine_always_ends(
        steps in proptest::collection::vec(
            (0u8..4, proptest::collection::vec(any::<u8>(), 0..200), 0u16..8, any::<u16>()),
            0..40,
        ),
    ) {
        // Each step: a timeout, a plausible reply (right ID and question, arbitrary records and
        // flags), or raw bytes.
        let engine = authoritative_engine();
        let mut ex = exchange(&engine);
        let mut n = 0usize;
        for (kind, tail, count, flags) in steps {
            if !ex.is_waiting() {
                break;
            }
            match kind {
                0 => ex.on_failure(0),
                1 => { let _ = ex.on_reply(&engine, &tail, 0); }
                _ => {
                    let r = plausible_reply(&ex, [count, count / 2, count / 3], &tail, flags | 0x8000);
                    let _ = ex.on_reply(&engine, &r, 0);
                }
            }
            n += 1;
            prop_assert!(ex.sends() <= MAX_SENDS);
        }
        // Whatever happened, timeouts finish it within the budget.
        while ex.is_waiting() {
            ex.on_failure(0);
            n += 1;
            prop_assert!(n <= 2 * MAX_SENDS + 40);
        }
        prop_assert!(ex.sends() <= MAX_SENDS);
        let done = matches!(ex.poll(), Action::Answer(_) | Action::Fail(_));
        prop_assert!(done);
    }

    #[test]
    fn classify_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), qtype in any::<u16>(), qclass in any::<u16>(), now in any::<u64>()) {
        let config = config(&["example.com", "."], 30);
        let engines = [engine(&["example.com"], 30), learned_engine(), hairpin_engine()];
        let mut prefixed = b"_acme-challenge.".to_vec();
        prefixed.extend_from_slice(&bytes);
        let mut escaped = b"\\".to_vec();
        escaped.extend_from_slice(&bytes);
        for name in [&bytes, &prefixed, &escaped] {
            let _ = config.classify(name, qtype, qclass);
            let _ = config.classify(name, qtype, 1);
            for e in &engines {
                let _ = e.classify(name, qtype, qclass, now);
                let _ = e.classify(name, qtype, 1, now);
            }
        }
    }

    #[test]
    fn hairpin_exchange_new_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        random in any::<u64>(),
        tcp in any::<bool>(),
    ) {
        let client = if tcp { Transport::Tcp } else { Transport::Udp };
        let engine = hairpin_engine();
        if let Ok(ex) = Exchange::new(&engine, &bytes, client, random, 0) {
            let next_step = matches!(
                ex.poll(),
                Action::Send { .. } | Action::Internal(_) | Action::Answer(_)
            );
            prop_assert!(next_step);
        }
    }

    #[test]
    fn hairpin_exchange_always_ends(
        labels in proptest::collection::vec("[a-zA-Z0-9-]{1,10}", 0..3),
        suffix in prop::sample::select(vec!["www.example.com", "example.org", "svc.example.com", "example.com", "_acme-challenge.example.org"]),
        qtype in prop::sample::select(vec![1u16, 28, 16, 255]),
        reply in proptest::collection::vec(any::<u8>(), 0..300),
        an in 0u16..4,
        flags in any::<u16>(),
        kind in 0u8..3,
    ) {
        let engine = hairpin_engine();
        let mut name = labels.join(".");
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(suffix);
        let mut ex = Exchange::new(&engine, &name_query(&name, qtype, 9), Transport::Udp, 5, 0)
            .expect("query");
        if let Action::Internal(q) = ex.poll() {
            prop_assert!(q.len() > 12);
            match kind {
                0 => ex.on_failure(0),
                1 => { let _ = ex.on_reply(&engine, &reply, 0); }
                _ => {
                    let r = plausible_reply(&ex, [an, 0, 0], &reply, flags | 0x8000);
                    let _ = ex.on_reply(&engine, &r, 0);
                }
            }
            // One internal lookup, then it is done.
            let done = matches!(ex.poll(), Action::Answer(_) | Action::Fail(_));
            prop_assert!(done);
            prop_assert_eq!(ex.sends(), 1);
            prop_assert_eq!(engine.learned_len(), 0);
        }
    }

    #[test]
    fn hairpin_lines_never_panic(s in "\\PC{0,80}", words in proptest::collection::vec(prop_oneof![
        "[a-z*.]{0,12}",
        "[0-9.:a-f]{0,20}",
        Just("*.example.com".to_string()),
        Just("192.0.2.1".to_string()),
        Just("::1".to_string()),
    ], 0..6)) {
        let mut b = ConfigBuilder::new();
        let before = b.clone();
        if b.hairpin(&s).is_err() {
            prop_assert_eq!(&b, &before);
        }
        let line = words.join(" ");
        let before = b.clone();
        if b.hairpin(&line).is_err() {
            prop_assert_eq!(&b, &before);
        }
        // The same line twice is always refused (a NAME given twice).
        if b.hairpin(&line).is_ok() {
            prop_assert!(false, "the same hairpin line was accepted twice: {:?}", line);
        }
        b.upstream("192.0.2.53").expect("upstream");
        let engine = Engine::new(b.build().expect("config"));
        for w in &words {
            let _ = engine.classify(w.as_bytes(), 1, 1, 0);
            let _ = engine.classify(w.as_bytes(), 28, 1, 0);
        }
    }

    #[test]
    fn config_builder_never_panics(s in "\\PC{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..80), n in any::<usize>()) {
        let mut b = acmeforward::ConfigBuilder::new();
        let _ = b.zone(&s);
        let _ = b.upstream(&s);
        let _ = b.delegated(&s);
        let _ = b.max_learned(n);
        let lossy = String::from_utf8_lossy(&bytes);
        let _ = b.zone(&lossy);
        let _ = b.upstream(&lossy);
        let _ = b.delegated(&lossy);
        let _ = b.hairpin(&s);
        let _ = b.hairpin(&lossy);
        let _ = b.build();
    }
}
