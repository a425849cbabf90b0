//! The client's query: what `Exchange::new` refuses, and what it keeps (EDNS0 size).

use crate::exchange::client::{QueryError, format_error_reply};
use crate::exchange::machine::Exchange;
use crate::testutil::*;
use crate::wire::{FLAG_QR, Transport};

const QNAME: &str = "_acme-challenge.Www.Example.COM";

fn new_err(q: &[u8]) -> Option<QueryError> {
    Exchange::new(&engine(30), q, Transport::Udp, 7, 0).err()
}

// ---- Exchange::new -------------------------------------------------------------------

#[test]
fn new_rejects_malformed() {
    assert_eq!(new_err(&[]), Some(QueryError::Malformed));
    assert_eq!(new_err(&[0; 11]), Some(QueryError::Malformed));
    // QDCOUNT says 1 but there is no question.
    assert_eq!(
        new_err(&[0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
        Some(QueryError::Malformed)
    );
    // A question name running off the end.
    let mut q = query(1, QNAME, TYPE_TXT, None);
    q.truncate(20);
    assert_eq!(new_err(&q), Some(QueryError::Malformed));
}

#[test]
fn new_rejects_responses() {
    let mut q = query(1, QNAME, TYPE_TXT, None);
    q[2] |= FLAG_QR;
    assert_eq!(new_err(&q), Some(QueryError::NotAQuery));
}

#[test]
fn new_rejects_other_opcodes() {
    for opcode in [1u8, 2, 4, 5, 15] {
        let mut q = query(1, QNAME, TYPE_TXT, None);
        q[2] |= opcode << 3;
        assert_eq!(
            new_err(&q),
            Some(QueryError::UnsupportedOpcode),
            "opcode {opcode}"
        );
    }
}

#[test]
fn new_requires_exactly_one_question() {
    let none = Wire {
        id: 1,
        flags: 0x0100,
        qd: vec![],
        an: vec![],
        ns: vec![],
        ar: vec![],
    };
    assert_eq!(new_err(&none.bytes()), Some(QueryError::QuestionCount));
    let two = Wire {
        id: 1,
        flags: 0x0100,
        qd: vec![
            question(QNAME, TYPE_TXT, CLASS_IN),
            question("a.example", TYPE_A, CLASS_IN),
        ],
        an: vec![],
        ns: vec![],
        ar: vec![],
    };
    assert_eq!(new_err(&two.bytes()), Some(QueryError::QuestionCount));
}

#[test]
fn client_udp_size_clamped() {
    for (advertised, want) in [
        (0u16, 512u16),
        (100, 512),
        (512, 512),
        (1232, 1232),
        (4096, 4096),
        (8192, 8192),
        (65535, 65535),
    ] {
        let ex = exchange(
            &query(1, QNAME, TYPE_TXT, Some((advertised, false, &[]))),
            3,
        );
        assert_eq!(ex.client_udp_size(), want, "advertised {advertised}");
    }
}

// ---- the FORMERR reply ---------------------------------------------------------------

/// The client queries with broken EDNS0 that RFC 6891 §6.1.1 answers with FORMERR: two OPT
/// records, an OPT record off the root name, an OPT record in the answer or authority section.
fn bad_edns_queries() -> Vec<(&'static str, Vec<u8>)> {
    let with = |an: Vec<Vec<u8>>, ns: Vec<Vec<u8>>, ar: Vec<Vec<u8>>| {
        Wire {
            id: 0x4a7d,
            flags: 0x0110, // RD, CD
            qd: vec![question(QNAME, TYPE_TXT, CLASS_IN)],
            an,
            ns,
            ar,
        }
        .bytes()
    };
    let mut off_root = opt(1232, false, &[]);
    off_root.splice(..1, wire_name("example.com"));
    vec![
        (
            "two OPT records",
            with(
                vec![],
                vec![],
                vec![opt(1232, false, &[]), opt(4096, true, &[])],
            ),
        ),
        ("OPT off the root", with(vec![], vec![], vec![off_root])),
        (
            "OPT in the answer section",
            with(vec![opt(1232, false, &[])], vec![], vec![]),
        ),
        (
            "OPT in the authority section",
            with(vec![], vec![opt(1232, false, &[])], vec![]),
        ),
    ]
}

#[test]
fn broken_edns_is_malformed_and_answered_formerr() {
    for (what, q) in bad_edns_queries() {
        assert_eq!(new_err(&q), Some(QueryError::Malformed), "{what}");
        let mut out = vec![0xee; 3];
        assert_eq!(format_error_reply(&q, &mut out), Ok(()), "{what}");
        // The query's ID; QR, opcode QUERY, RD and CD echoed, RCODE FORMERR; the question as
        // asked; no records and no OPT.
        let mut want = vec![0x4a, 0x7d, 0x81, 0x11, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend(question(QNAME, TYPE_TXT, CLASS_IN));
        assert_eq!(out, want, "{what}");
    }
}

#[test]
fn formerr_only_where_a_reply_can_name_the_question() {
    let mut out = Vec::new();
    let mut cut = query(1, QNAME, TYPE_TXT, None);
    cut.truncate(20);
    let mut response = query(1, QNAME, TYPE_TXT, None);
    response[2] |= FLAG_QR;
    let mut notify = query(1, QNAME, TYPE_SOA, None);
    notify[2] |= 4 << 3;
    let none = Wire {
        id: 1,
        flags: 0x0100,
        qd: vec![],
        an: vec![],
        ns: vec![],
        ar: vec![],
    };
    for (q, want) in [
        (vec![0; 11], QueryError::Malformed),
        (cut, QueryError::Malformed),
        // Never a reply to a reply.
        (response, QueryError::NotAQuery),
        (notify, QueryError::UnsupportedOpcode),
        (none.bytes(), QueryError::QuestionCount),
    ] {
        assert_eq!(format_error_reply(&q, &mut out), Err(want));
        assert!(out.is_empty());
    }
}
