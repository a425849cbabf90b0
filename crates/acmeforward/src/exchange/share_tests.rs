//! One exchange's answer shared with other clients that asked the same question while it was in
//! flight: each gets its own ID, letter case, RD and size; a different question, or an exchange
//! without an answer, shares nothing.

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};

use crate::exchange::client::QueryError;
use crate::exchange::machine::{Action, Exchange};
use crate::exchange::share::ShareError;
use crate::testutil::*;
use crate::wire::Transport;

const CHALLENGE: &str = "_acme-challenge.www.example.com";

/// A client query with the given flags word (RD 0x0100, CD 0x0010, AD 0x0020).
fn query_flags(id: u16, name: &str, flags: u16, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut q = query(id, name, TYPE_TXT, edns.map(|(p, d)| (p, d, &[][..])));
    q[2..4].copy_from_slice(&flags.to_be_bytes());
    q
}

/// An exchange for `CHALLENGE` TXT answered with `texts` (nothing to learn: the internal view
/// is never asked).
fn answered(e: &crate::Engine, leader: &[u8], texts: &[&str]) -> Exchange {
    let mut ex = exchange_with(e, leader, Transport::Udp, 11);
    let an = texts.iter().map(|t| txt_at_q(t)).collect();
    let r = reply(&ex, 0, an, vec![], vec![]);
    ok(&mut ex, e, &r, 0);
    assert!(matches!(ex.poll(), Action::Answer(_)), "{:?}", ex.poll());
    ex
}

fn shared(ex: &Exchange, q: &[u8], client: Transport) -> Result<Message, ShareError> {
    let mut out = Vec::new();
    ex.answer_for(q, client, &mut out)?;
    Message::from_vec(&out).map_err(|e| panic!("shared answer does not parse: {e}"))
}

fn texts(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn another_client_gets_its_own_id_case_and_flags() {
    let e = engine(30);
    let ex = answered(&e, &query(0x1111, CHALLENGE, TYPE_TXT, None), &["token"]);
    let follower = query_flags(0x2222, "_ACME-challenge.WWW.example.COM", 0x0000, None);
    let m = match shared(&ex, &follower, Transport::Udp) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(m.metadata.id, 0x2222);
    assert!(
        !m.metadata.recursion_desired,
        "RD is the follower's (clear)"
    );
    let q = &m.queries[0];
    assert_eq!(q.name().to_ascii(), "_ACME-challenge.WWW.example.COM.");
    assert_eq!(q.query_type(), RecordType::TXT);
    assert_eq!(texts(&m), vec!["token".to_string()]);
    assert_eq!(
        m.answers[0].name.to_ascii(),
        "_ACME-challenge.WWW.example.COM.",
        "records on the question name in the follower's case"
    );
    assert!(m.edns.is_none(), "no OPT for a follower that sent none");
    // The leader's own answer is unchanged.
    assert_eq!(answer(&ex).metadata.id, 0x1111);
}

#[test]
fn each_client_gets_its_own_size() {
    let e = engine(30);
    let big: Vec<String> = (0..12)
        .map(|i| format!("{i:02}{}", "x".repeat(60)))
        .collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    let ex = answered(
        &e,
        &query(1, CHALLENGE, TYPE_TXT, Some((4096, false, &[]))),
        &big,
    );
    assert!(!answer(&ex).metadata.truncation, "fits the leader's 4096");
    // Without EDNS0 the follower takes 512 octets over UDP: truncated; over TCP: whole.
    let small = query(2, CHALLENGE, TYPE_TXT, None);
    let udp = shared(&ex, &small, Transport::Udp).map_err(|e| e.to_string());
    assert!(udp.as_ref().is_ok_and(|m| m.metadata.truncation), "{udp:?}");
    let tcp = shared(&ex, &small, Transport::Tcp).map_err(|e| e.to_string());
    assert!(
        tcp.as_ref()
            .is_ok_and(|m| !m.metadata.truncation && texts(m).len() == 12),
        "{tcp:?}"
    );
}

#[test]
fn another_question_shares_nothing() {
    let e = engine(30);
    let leader = query_flags(1, CHALLENGE, 0x0100, Some((1232, false)));
    let ex = answered(&e, &leader, &["token"]);
    let other_name = query_flags(2, "_acme-challenge.ww.example.com", 0x0100, None);
    let mut other_type = query(3, CHALLENGE, TYPE_A, None);
    other_type[2] = 0x01;
    let dnssec_ok = query_flags(4, CHALLENGE, 0x0100, Some((1232, true)));
    let checking_disabled = query_flags(5, CHALLENGE, 0x0110, Some((1232, false)));
    for (what, q) in [
        ("name", other_name),
        ("type", other_type),
        ("DO", dnssec_ok),
        ("CD", checking_disabled),
    ] {
        assert_eq!(
            shared(&ex, &q, Transport::Udp).map(|_| ()),
            Err(ShareError::OtherQuestion),
            "{what}"
        );
    }
    // AD, RD and the EDNS0 size are the follower's own.
    let ad_no_edns = query_flags(6, CHALLENGE, 0x0020, None);
    assert!(shared(&ex, &ad_no_edns, Transport::Udp).is_ok());
}

#[test]
fn nothing_is_shared_before_the_answer_or_after_a_failure() {
    let e = engine(30);
    let q = query(1, CHALLENGE, TYPE_TXT, None);
    let mut ex = exchange_with(&e, &q, Transport::Udp, 3);
    assert_eq!(
        shared(&ex, &q, Transport::Udp).map(|_| ()),
        Err(ShareError::NotAnswered)
    );
    ex.on_failure(10_000);
    assert!(matches!(ex.poll(), Action::Fail(_)));
    assert_eq!(
        shared(&ex, &q, Transport::Udp).map(|_| ()),
        Err(ShareError::NotAnswered)
    );
}

#[test]
fn a_bad_follower_query_is_refused_as_a_query() {
    let e = engine(30);
    let ex = answered(&e, &query(1, CHALLENGE, TYPE_TXT, None), &["t"]);
    let mut response = query(2, CHALLENGE, TYPE_TXT, None);
    response[2] |= 0x80;
    for (q, want) in [
        (vec![0u8; 5], QueryError::Malformed),
        (response, QueryError::NotAQuery),
    ] {
        assert_eq!(
            shared(&ex, &q, Transport::Udp).map(|_| ()),
            Err(ShareError::Query(want))
        );
    }
}

#[test]
fn a_hairpin_answer_is_shared_too() {
    let mut b = crate::ConfigBuilder::new();
    let built = b
        .upstream("192.0.2.53")
        .and_then(|b| b.hairpin("www.example.com 192.0.2.80"))
        .and_then(|b| b.build());
    let e = match built {
        Ok(c) => crate::Engine::new(c),
        Err(err) => panic!("{err}"),
    };
    let leader = query(1, "www.example.com", TYPE_A, None);
    let ex = exchange_with(&e, &leader, Transport::Udp, 5);
    assert!(matches!(ex.poll(), Action::Answer(_)));
    let follower = query(9, "WWW.Example.com", TYPE_A, None);
    let m = match shared(&ex, &follower, Transport::Udp) {
        Ok(m) => m,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(m.metadata.id, 9);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].name.to_ascii(), "WWW.Example.com.");
}

#[test]
fn followers_may_read_an_exchange_from_several_threads() {
    // answer_for takes &self: the exchange must be shareable between threads.
    fn sync<T: Sync>() {}
    sync::<Exchange>();
}
