//! DNS messages for the seeds, byte by byte: names, records, OPT, client queries and upstream
//! replies (real wire format, no parser involved, so a seed can also be what a parser rejects).

use crate::common::CLASS_IN;

pub const TYPE_DNAME: u16 = 39;
const TYPE_OPT: u16 = 41;
pub const CLASS_CH: u16 = 3;
/// QR | RD | RA: a resolver's answer.
pub const RA: u16 = 0x8180;
/// QR | AA: an authoritative server's answer.
pub const AA: u16 = 0x8400;
pub const TC: u16 = 0x0200;
pub const NXDOMAIN: u16 = 3;
pub const SERVFAIL: u16 = 2;
/// A compression pointer to the question name.
pub const QNAME: &[u8] = &[0xc0, 0x0c];

/// Wire form of a dotted name, case kept ("." is the root).
pub fn name(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in s.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

pub fn rr(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut out = owner.to_vec();
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

pub fn txt(s: &str) -> Vec<u8> {
    let mut out = vec![s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

pub fn soa(zone: &str, minimum: u32) -> Vec<u8> {
    let mut out = name(&format!("ns1.{zone}"));
    out.extend(name(&format!("hostmaster.{zone}")));
    for v in [2024010101u32, 7200, 3600, 1209600, minimum] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

pub fn opt(payload: u16, dnssec_ok: bool, options: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&payload.to_be_bytes());
    out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0]);
    out.extend_from_slice(&(options.len() as u16).to_be_bytes());
    out.extend_from_slice(options);
    out
}

fn message(id: u16, flags: u16, question: (&str, u16, u16), sections: [&[Vec<u8>]; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    for s in sections {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    }
    out.extend(name(question.0));
    out.extend_from_slice(&question.1.to_be_bytes());
    out.extend_from_slice(&question.2.to_be_bytes());
    for s in sections {
        for r in s {
            out.extend_from_slice(r);
        }
    }
    out
}

/// A client query, RD set; `edns`: (UDP size, DO).
pub fn query(id: u16, qname: &str, qtype: u16, edns: Option<(u16, bool)>) -> Vec<u8> {
    let ar: Vec<Vec<u8>> = edns.map(|(p, d)| opt(p, d, &[])).into_iter().collect();
    message(id, 0x0100, (qname, qtype, CLASS_IN), [&[], &[], &ar])
}

/// A reply (ID 0: the harness copies in the ID and question of the query it answers).
pub fn reply(
    flags: u16,
    qname: &str,
    qtype: u16,
    an: &[Vec<u8>],
    ns: &[Vec<u8>],
    ar: &[Vec<u8>],
) -> Vec<u8> {
    message(0, flags, (qname, qtype, CLASS_IN), [an, ns, ar])
}
