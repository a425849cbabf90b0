//! The client's query: what `Exchange::new` refuses, and what it keeps (EDNS0 size).

use crate::client::QueryError;
use crate::exchange::Exchange;
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
        (65535, 4096),
    ] {
        let ex = exchange(
            &query(1, QNAME, TYPE_TXT, Some((advertised, false, &[]))),
            3,
        );
        assert_eq!(ex.client_udp_size(), want, "advertised {advertised}");
    }
}
