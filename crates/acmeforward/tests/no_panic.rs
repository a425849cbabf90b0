//! Properties: arbitrary bytes given to `Exchange::new`, `Exchange::finish` and
//! `Config::classify` never panic (every outcome is a value or a typed error).

mod common;

use acmeforward::{Exchange, ReplyError, Transport};
use common::*;
use proptest::prelude::*;

fn exchange() -> Exchange {
    let q = question(
        &wire_from_labels(&[
            b"_acme-challenge".to_vec(),
            b"Example".to_vec(),
            b"com".to_vec(),
        ]),
        TYPE_TXT,
        CLASS_IN,
    );
    Exchange::new(&config(&[], 30), &query(7, &q, Some((1232, true))), 3).expect("query")
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

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn exchange_new_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), random in any::<u64>()) {
        let config = config(&["example.com"], 30);
        if let Ok(ex) = Exchange::new(&config, &bytes, random) {
            // Whatever was accepted yields a usable upstream query.
            prop_assert!(ex.upstream_query().len() >= 12 + ex.question().len());
        }
    }

    #[test]
    fn finish_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600), tcp in any::<bool>()) {
        let ex = exchange();
        let mut out = vec![9; 4];
        let client = if tcp { Transport::Tcp } else { Transport::Udp };
        if ex.finish(&bytes, client, &mut out).is_err() {
            prop_assert!(out.is_empty());
        }
    }

    #[test]
    fn finish_never_panics_past_the_header_checks(
        an in 0u16..8, ns in 0u16..8, ar in 0u16..8,
        tail in proptest::collection::vec(any::<u8>(), 0..400),
        rcode in 0u16..16,
        tcp in any::<bool>(),
    ) {
        let ex = exchange();
        let reply = plausible_reply(&ex, [an, ns, ar], &tail, 0x8180 | rcode);
        let mut out = Vec::new();
        let client = if tcp { Transport::Tcp } else { Transport::Udp };
        match ex.finish(&reply, client, &mut out) {
            Ok(()) => prop_assert!(out.len() >= 12),
            Err(e) => prop_assert!(matches!(
                e,
                ReplyError::Malformed | ReplyError::ForeignRecord | ReplyError::UpstreamFailure
            ), "unexpected {e:?}"),
        }
    }

    #[test]
    fn finish_never_panics_on_mutated_valid_replies(
        ttls in proptest::collection::vec(any::<u32>(), 0..5),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let ex = exchange();
        let mut reply = echo_reply(&ex, &ttls);
        for (at, x) in flips {
            let i = at.index(reply.len());
            reply[i] ^= x;
        }
        let keep = cut.index(reply.len() + 1);
        let mut out = Vec::new();
        let _ = ex.finish(&reply[..keep], Transport::Udp, &mut out);
        let _ = ex.finish(&reply, Transport::Tcp, &mut out);
    }

    #[test]
    fn classify_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), qtype in any::<u16>(), qclass in any::<u16>()) {
        let config = config(&["example.com", "."], 30);
        let _ = config.classify(&bytes, qtype, qclass);
        let mut prefixed = b"_acme-challenge.".to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = config.classify(&prefixed, qtype, 1);
        let mut escaped = b"\\".to_vec();
        escaped.extend_from_slice(&bytes);
        let _ = config.classify(&escaped, qtype, 1);
    }

    #[test]
    fn config_builder_never_panics(s in "\\PC{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut b = acmeforward::ConfigBuilder::new();
        let _ = b.zone(&s);
        let _ = b.upstream(&s);
        let lossy = String::from_utf8_lossy(&bytes);
        let _ = b.zone(&lossy);
        let _ = b.upstream(&lossy);
        let _ = b.build();
    }
}
