//! Wire-format builders shared by the integration tests.
#![allow(dead_code)]

use acmeforward::{Action, Config, ConfigBuilder, Engine, Exchange, ReplyError, Transport};

pub const TYPE_TXT: u16 = 16;
pub const CLASS_IN: u16 = 1;
/// A compression pointer to offset 12: the question name.
pub const QNAME_PTR: [u8; 2] = [0xc0, 0x0c];

/// Wire form of labels given as raw bytes (case kept).
pub fn wire_from_labels(labels: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in labels {
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    out
}

pub fn question(name_wire: &[u8], qtype: u16, qclass: u16) -> Vec<u8> {
    let mut q = name_wire.to_vec();
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&qclass.to_be_bytes());
    q
}

pub fn rr(owner: &[u8], rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut out = owner.to_vec();
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

pub fn opt(payload: u16, dnssec_ok: bool) -> Vec<u8> {
    let mut out = vec![0, 0, 41];
    out.extend_from_slice(&payload.to_be_bytes());
    out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    out
}

/// Header + sections; `flags` is the 16-bit flags word.
pub fn message(id: u16, flags: u16, qd: &[u8], an: &[Vec<u8>], ar: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for n in [1, an.len(), 0, ar.len()] {
        out.extend_from_slice(&(n as u16).to_be_bytes());
    }
    out.extend_from_slice(qd);
    for r in an.iter().chain(ar) {
        out.extend_from_slice(r);
    }
    out
}

/// A client query with RD set, optional OPT (payload, DO).
pub fn query(id: u16, question: &[u8], edns: Option<(u16, bool)>) -> Vec<u8> {
    let ar: Vec<Vec<u8>> = edns.map(|(p, d)| vec![opt(p, d)]).unwrap_or_default();
    message(id, 0x0100, question, &[], &ar)
}

/// The upstream's answer: the upstream query echoed as a response (QR|RD|RA), with TXT answers
/// on the question name (compressed to a pointer), and an OPT of its own.
pub fn echo_reply(ex: &Exchange, ttls: &[u32]) -> Vec<u8> {
    let an: Vec<Vec<u8>> = ttls
        .iter()
        .map(|&ttl| {
            rr(
                &QNAME_PTR,
                TYPE_TXT,
                CLASS_IN,
                ttl,
                &[5, b't', b'o', b'k', b'e', b'n'],
            )
        })
        .collect();
    message(
        ex.upstream_id(),
        0x8180,
        ex.question(),
        &an,
        &[opt(1232, false)],
    )
}

pub fn config(zones: &[&str], max_ttl: u32) -> Config {
    let mut b = ConfigBuilder::new();
    for z in zones {
        b.zone(z).expect("zone");
    }
    b.upstream("192.0.2.53").expect("upstream");
    b.max_ttl(max_ttl).expect("max_ttl");
    b.build().expect("config")
}

pub fn engine(zones: &[&str], max_ttl: u32) -> Engine {
    Engine::new(config(zones, max_ttl))
}

/// The query the exchange wants sent now (empty when it is done).
pub fn sent(ex: &Exchange) -> Vec<u8> {
    match ex.poll() {
        Action::Send { query, .. } => query.to_vec(),
        _ => Vec::new(),
    }
}

/// Answers every question the exchange asks the internal view (about a name it may learn)
/// NXDOMAIN at `now`: this internal view knows no name, so they are learned.
pub fn internal_unknown(engine: &Engine, ex: &mut Exchange, now: u64) {
    while let Action::Internal(q) = ex.poll() {
        let mut nx = q.to_vec();
        nx[2] |= 0x80;
        nx[3] = 0x83;
        ex.on_reply(engine, &nx, now)
            .expect("internal reply accepted");
    }
}

/// Feeds `reply` to a copy of `ex`; the answer for the client, or why the reply was rejected.
pub fn answer(engine: &Engine, ex: &Exchange, reply: &[u8]) -> Result<Vec<u8>, ReplyError> {
    let mut ex = ex.clone();
    ex.on_reply(engine, reply, 0)?;
    internal_unknown(engine, &mut ex, 0);
    match ex.poll() {
        Action::Answer(a) => Ok(a.to_vec()),
        other => panic!("accepted reply but no answer: {other:?}"),
    }
}

pub fn new_exchange(engine: &Engine, query: &[u8], client: Transport, random: u64) -> Exchange {
    Exchange::new(engine, query, client, random, 0).expect("query accepted")
}
