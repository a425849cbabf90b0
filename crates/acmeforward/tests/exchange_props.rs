//! Properties of the exchange: for random names, types, IDs and random words, a reply made by
//! echoing the upstream query as a response (with answers) validates, and the client's reply has
//! the client's ID, the client's exact name and TTLs capped; a changed ID or letter case in the
//! reply's question makes it fail.

mod common;

use acmeforward::{Exchange, ReplyError, Transport, UPSTREAM_UDP_PAYLOAD};
use common::*;
use hickory_proto::op::Message;
use proptest::prelude::*;

fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => proptest::collection::vec(
            prop::sample::select(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_".to_vec()),
            1..=20,
        ),
        1 => proptest::collection::vec(any::<u8>(), 1..=8),
    ]
}

fn labels() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(label(), 0..=6)
}

/// A query type that can sit in a question (hickory refuses no type there).
fn qtype() -> impl Strategy<Value = u16> {
    prop_oneof![Just(16u16), Just(1), Just(28), Just(255), any::<u16>()]
}

#[derive(Debug, Clone)]
struct Case {
    labels: Vec<Vec<u8>>,
    qtype: u16,
    id: u16,
    random: u64,
    edns: Option<(u16, bool)>,
    max_ttl: u32,
    ttls: Vec<u32>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        labels(),
        qtype(),
        any::<u16>(),
        any::<u64>(),
        proptest::option::of((any::<u16>(), any::<bool>())),
        prop_oneof![Just(0u32), Just(30), 0u32..=604_800],
        proptest::collection::vec(any::<u32>(), 0..=8),
    )
        .prop_map(|(labels, qtype, id, random, edns, max_ttl, ttls)| Case {
            labels,
            qtype,
            id,
            random,
            edns,
            max_ttl,
            ttls,
        })
}

fn setup(c: &Case) -> (Vec<u8>, Exchange) {
    let client_q = question(&wire_from_labels(&c.labels), c.qtype, CLASS_IN);
    let config = config(&[], c.max_ttl);
    let query = query(c.id, &client_q, c.edns);
    let ex = Exchange::new(&config, &query, c.random).expect("a well-formed query is accepted");
    (client_q, ex)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn echoed_reply_validates_and_is_rewritten(c in case()) {
        let (client_q, ex) = setup(&c);

        // The upstream question differs from the client's only in letter case.
        prop_assert_eq!(ex.question().len(), client_q.len());
        prop_assert!(ex.question().eq_ignore_ascii_case(&client_q));

        let reply = echo_reply(&ex, &c.ttls);
        let mut out = Vec::new();
        prop_assert_eq!(ex.finish(&reply, Transport::Tcp, &mut out), Ok(()));

        // Client ID, QR, and the client's exact question bytes.
        prop_assert_eq!(&out[..2], &c.id.to_be_bytes()[..]);
        prop_assert_eq!(out[2] & 0x80, 0x80);
        prop_assert_eq!(&out[12..12 + client_q.len()], &client_q[..]);

        let m = Message::from_vec(&out).expect("the client reply parses");
        prop_assert_eq!(m.answers.len(), c.ttls.len());
        for (r, &ttl) in m.answers.iter().zip(&c.ttls) {
            prop_assert_eq!(r.ttl, ttl.min(c.max_ttl));
            // Owner spelled exactly as the client did.
            let owner: Vec<Vec<u8>> = r.name.iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(&owner, &c.labels);
        }
        prop_assert_eq!(m.edns.is_some(), c.edns.is_some());
        if let (Some(e), Some((_, dnssec_ok))) = (&m.edns, c.edns) {
            prop_assert_eq!(e.max_payload(), UPSTREAM_UDP_PAYLOAD);
            prop_assert_eq!(e.flags().dnssec_ok, dnssec_ok);
        }

        // Over UDP: either the whole reply fits, or it is the truncated form.
        let mut udp = Vec::new();
        prop_assert_eq!(ex.finish(&reply, Transport::Udp, &mut udp), Ok(()));
        prop_assert!(udp.len() <= usize::from(ex.client_udp_size()));
        if udp != out {
            prop_assert!(out.len() > usize::from(ex.client_udp_size()));
            prop_assert_eq!(udp[2] & 0x02, 0x02);
            prop_assert_eq!(&udp[6..8], &[0u8, 0][..]);
        }
    }

    #[test]
    fn changed_id_fails(c in case(), flip in 1u16..) {
        let (_, ex) = setup(&c);
        let mut reply = echo_reply(&ex, &c.ttls);
        let id = u16::from_be_bytes([reply[0], reply[1]]) ^ flip;
        reply[..2].copy_from_slice(&id.to_be_bytes());
        let mut out = vec![1];
        prop_assert_eq!(ex.finish(&reply, Transport::Udp, &mut out), Err(ReplyError::IdMismatch));
        prop_assert!(out.is_empty());
    }

    #[test]
    fn changed_letter_case_in_question_fails(c in case(), pick in any::<prop::sample::Index>()) {
        let (_, ex) = setup(&c);
        let reply = echo_reply(&ex, &c.ttls);
        let name_len = ex.question().len() - 4;
        let letters: Vec<usize> = (12..12 + name_len)
            .filter(|&i| reply[i].is_ascii_alphabetic())
            .collect();
        prop_assume!(!letters.is_empty());
        let at = letters[pick.index(letters.len())];
        let mut bad = reply.clone();
        bad[at] ^= 0x20;
        let mut out = Vec::new();
        prop_assert_eq!(ex.finish(&bad, Transport::Udp, &mut out), Err(ReplyError::QuestionMismatch));
    }

    #[test]
    fn zero_x20_case_depends_on_random(
        labels in proptest::collection::vec(
            proptest::collection::vec(prop::sample::select(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".to_vec()), 16..=30),
            5..=6,
        ),
        r1 in any::<u64>(),
        r2 in any::<u64>(),
    ) {
        prop_assume!(r1 != r2);
        let q = query(1, &question(&wire_from_labels(&labels), 16, 1), None);
        let config = config(&[], 30);
        let a = Exchange::new(&config, &q, r1).expect("query");
        let b = Exchange::new(&config, &q, r2).expect("query");
        // At least 80 letters: the first 64 take their case from one splitmix64 output, which is
        // a bijection of the seed, so different random words always give different spellings.
        prop_assert_ne!(a.question(), b.question());
        prop_assert_ne!(a.upstream_query(), b.upstream_query());
    }
}
