//! The queries an exchange sends upstream: header, ID and 0x20 case from the caller's random
//! word, EDNS0.

use hickory_proto::op::Message;

use crate::exchange::query::SplitMix64;
use crate::testutil::*;
use crate::wire::{FLAG_AD, FLAG_CD, FLAG_RD, UPSTREAM_UDP_PAYLOAD};

const QNAME: &str = "_acme-challenge.Www.Example.COM";

#[test]
fn upstream_query_header() {
    let mut q = query(0xbeef, QNAME, TYPE_TXT, None);
    q[2] &= !FLAG_RD; // client did not ask for recursion: upstream still gets RD
    let ex = exchange(&q, 42);
    let u = &sent(&ex);
    assert_eq!(be16(u, 0), ex.upstream_id());
    assert_eq!(ex.client_id(), 0xbeef);
    assert_eq!(u[2], FLAG_RD, "QR clear, opcode QUERY, RD set");
    assert_eq!(u[3], 0);
    assert_eq!(
        [be16(u, 4), be16(u, 6), be16(u, 8), be16(u, 10)],
        [1, 0, 0, 1]
    );
}

#[test]
fn upstream_id_comes_from_random() {
    let q = query(0xbeef, QNAME, TYPE_TXT, None);
    let a = exchange(&q, 1).upstream_id();
    let b = exchange(&q, 2).upstream_id();
    assert_eq!(
        a,
        exchange(&q, 1).upstream_id(),
        "deterministic in `random`"
    );
    assert_ne!(a, b);
    let mut rng = SplitMix64(1);
    assert_eq!(a, rng.next_u64() as u16);
}

#[test]
fn splitmix64_reference_values() {
    // First outputs for seed 0 of the published splitmix64.
    let mut rng = SplitMix64(0);
    assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
    assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
}

#[test]
fn upstream_question_has_random_case_same_type_and_class() {
    let q = query(1, QNAME, 257, None);
    let ex = exchange(&q, 99);
    let sent = ex.question();
    let orig = question(QNAME, 257, CLASS_IN);
    assert_eq!(sent.len(), orig.len());
    assert!(
        sent.eq_ignore_ascii_case(&orig),
        "only letter case may differ"
    );
    assert_ne!(sent, &orig[..], "0x20: some letter case differs");
    // Non-letters (length octets, '_', '-', type and class) are untouched.
    for (s, o) in sent.iter().zip(&orig) {
        if !o.is_ascii_alphabetic() {
            assert_eq!(s, o);
        }
    }
    assert_eq!(&sent[sent.len() - 4..], &[1, 1, 0, 1]);
    // Another random word, another case pattern.
    assert_ne!(exchange(&q, 100).question(), sent);
}

#[test]
fn upstream_case_uses_fresh_bits_past_64_letters() {
    // 120 letters: more than one 64-bit word of case bits.
    let long = format!("_acme-challenge.{}.{}", "a".repeat(60), "b".repeat(60));
    let ex = exchange(&query(1, &long, TYPE_TXT, None), 5);
    let sent = ex.question();
    let upper_in = |range: std::ops::Range<usize>| {
        sent[range]
            .iter()
            .filter(|b| b.is_ascii_uppercase())
            .count()
    };
    // Each 60-letter label gets a mix of cases.
    let first = 17..77;
    let second = 78..138;
    assert!((1..60).contains(&upper_in(first)));
    assert!((1..60).contains(&upper_in(second)));
}

#[test]
fn opt_added_when_client_had_none() {
    let ex = exchange(&query(1, QNAME, TYPE_TXT, None), 3);
    let u = &sent(&ex);
    let opt_rr = &u[12 + ex.question().len()..];
    assert_eq!(opt_rr, &opt(UPSTREAM_UDP_PAYLOAD, false, &[])[..]);
    assert_eq!(ex.client_edns(), None);
    assert_eq!(ex.client_udp_size(), 512);
}

#[test]
fn client_opt_kept_do_bit_options_dropped() {
    let opts = cookie_and_ecs();
    for dnssec_ok in [false, true] {
        let q = query(1, QNAME, TYPE_TXT, Some((4000, dnssec_ok, &opts)));
        let ex = exchange(&q, 3);
        let u = &sent(&ex);
        let opt_rr = &u[12 + ex.question().len()..];
        assert_eq!(opt_rr, &opt(UPSTREAM_UDP_PAYLOAD, dnssec_ok, &[])[..]);
        assert_eq!(ex.client_edns(), Some(dnssec_ok));
        assert_eq!(ex.client_udp_size(), 4000);
    }
}

#[test]
fn ad_and_cd_passed_upstream() {
    let mut q = query(1, QNAME, TYPE_TXT, None);
    q[3] |= FLAG_AD | FLAG_CD;
    let ex = exchange(&q, 3);
    assert_eq!(sent(&ex)[3], FLAG_AD | FLAG_CD);
}

#[test]
fn upstream_query_parses_back() {
    let ex = exchange(&query(7, QNAME, TYPE_TXT, Some((1232, true, &[]))), 11);
    let m = Message::from_vec(&sent(&ex)).ok();
    let m = m.as_ref();
    assert_eq!(m.map(|m| m.queries.len()), Some(1));
    assert_eq!(
        m.and_then(|m| m.queries.first())
            .map(|q| q.name().to_ascii().to_lowercase()),
        Some("_acme-challenge.www.example.com.".to_string())
    );
    assert_eq!(
        m.and_then(|m| m.edns.as_ref()).map(|e| e.max_payload()),
        Some(1232)
    );
    assert_eq!(
        m.and_then(|m| m.edns.as_ref()).map(|e| e.flags().dnssec_ok),
        Some(true)
    );
}
