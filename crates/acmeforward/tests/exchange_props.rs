//! Properties of the exchange: for random names, types, IDs and random words, a reply made by
//! echoing the upstream query as a response (with TXT answers) validates, and the client's reply
//! has the client's ID, the client's exact name and TTLs capped, and the TXT records only if it
//! asked for TXT (or ANY); a changed ID or letter case in the reply's question makes it fail.

mod common;

use acmeforward::{Action, Exchange, ReplyError, Transport, UPSTREAM_UDP_PAYLOAD};
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

fn setup(c: &Case, client: Transport) -> (Vec<u8>, acmeforward::Engine, Exchange) {
    let client_q = question(&wire_from_labels(&c.labels), c.qtype, CLASS_IN);
    let engine = engine(&[], c.max_ttl);
    let query = query(c.id, &client_q, c.edns);
    let ex = Exchange::new(&engine, &query, client, c.random, 0)
        .expect("a well-formed query is accepted");
    (client_q, engine, ex)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn echoed_reply_validates_and_is_rewritten(c in case()) {
        let (client_q, engine, ex) = setup(&c, Transport::Tcp);

        // The upstream question differs from the client's only in letter case.
        prop_assert_eq!(ex.question().len(), client_q.len());
        prop_assert!(ex.question().eq_ignore_ascii_case(&client_q));
        let over_tcp = matches!(ex.poll(), Action::Send { transport: Transport::Tcp, .. });
        prop_assert!(over_tcp);

        let reply = echo_reply(&ex, &c.ttls);
        let out = answer(&engine, &ex, &reply);
        prop_assert!(out.is_ok(), "{:?}", out);
        let out = out.unwrap_or_default();

        // Client ID, QR, and the client's exact question bytes.
        prop_assert_eq!(&out[..2], &c.id.to_be_bytes()[..]);
        prop_assert_eq!(out[2] & 0x80, 0x80);
        prop_assert_eq!(&out[12..12 + client_q.len()], &client_q[..]);

        let m = Message::from_vec(&out).expect("the client reply parses");
        let asked_txt = c.qtype == 16 || c.qtype == 255;
        prop_assert_eq!(m.answers.len(), if asked_txt { c.ttls.len() } else { 0 });
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

        // Over UDP (same random word, so the same upstream query): either the whole reply
        // fits, or it is the truncated form.
        let (_, _, udp_ex) = setup(&c, Transport::Udp);
        prop_assert_eq!(sent(&udp_ex), sent(&ex));
        let udp = answer(&engine, &udp_ex, &reply);
        prop_assert!(udp.is_ok());
        let udp = udp.unwrap_or_default();
        prop_assert!(udp.len() <= usize::from(ex.client_udp_size()));
        if udp != out {
            prop_assert!(out.len() > usize::from(ex.client_udp_size()));
            prop_assert_eq!(udp[2] & 0x02, 0x02);
            prop_assert_eq!(&udp[6..8], &[0u8, 0][..]);
        }
    }

    #[test]
    fn changed_id_fails(c in case(), flip in 1u16..) {
        let (_, engine, ex) = setup(&c, Transport::Udp);
        let mut reply = echo_reply(&ex, &c.ttls);
        let id = u16::from_be_bytes([reply[0], reply[1]]) ^ flip;
        reply[..2].copy_from_slice(&id.to_be_bytes());
        let mut ex = ex;
        prop_assert_eq!(ex.on_reply(&engine, &reply, 0), Err(ReplyError::IdMismatch));
        prop_assert!(!matches!(ex.poll(), Action::Answer(_)));
    }

    #[test]
    fn changed_letter_case_in_question_fails(c in case(), pick in any::<prop::sample::Index>()) {
        let (_, engine, ex) = setup(&c, Transport::Udp);
        let reply = echo_reply(&ex, &c.ttls);
        let name_len = ex.question().len() - 4;
        let letters: Vec<usize> = (12..12 + name_len)
            .filter(|&i| reply[i].is_ascii_alphabetic())
            .collect();
        prop_assume!(!letters.is_empty());
        let at = letters[pick.index(letters.len())];
        let mut bad = reply.clone();
        bad[at] ^= 0x20;
        prop_assert_eq!(answer(&engine, &ex, &bad), Err(ReplyError::QuestionMismatch));
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
        let engine = engine(&[], 30);
        let a = new_exchange(&engine, &q, Transport::Udp, r1);
        let b = new_exchange(&engine, &q, Transport::Udp, r2);
        // At least 80 letters: the first 64 take their case from one splitmix64 output, which is
        // a bijection of the seed, so different random words always give different spellings.
        prop_assert_ne!(a.question(), b.question());
        prop_assert_ne!(sent(&a), sent(&b));
    }
}
