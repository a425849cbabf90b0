//! Hand-made wire messages for the unit tests (exact bytes, no library in between).

use std::net::SocketAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::config::Config;
use crate::config::builder::ConfigBuilder;
use crate::exchange::machine::{Action, Exchange};
use crate::exchange::validate::ReplyError;
use crate::rules::classify::Verdict;
use crate::state::engine::Engine;
use crate::wire::{FLAG_AA, FLAG_QR, FLAG_RA, FLAG_RD, Transport};

pub(crate) use crate::wire::{
    CLASS_CH, CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_DNAME, TYPE_MX, TYPE_NS, TYPE_NSEC,
    TYPE_OPT, TYPE_RRSIG, TYPE_SOA, TYPE_TXT,
};

/// QR | AA (RD clear, RA clear), as an authoritative server answers.
pub(crate) const AA: u16 = u16::from_be_bytes([FLAG_QR | FLAG_AA, 0]);
/// QR | RD | RA, as a resolver answers.
pub(crate) const RA: u16 = u16::from_be_bytes([FLAG_QR | FLAG_RD, FLAG_RA]);

/// A compression pointer to offset 12: the question name.
pub(crate) const QNAME_PTR: [u8; 2] = [0xc0, 0x0c];

/// Wire form of a plain dotted name, case kept ("." is the root).
pub(crate) fn wire_name(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in s.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

pub(crate) fn rr(owner: &[u8], rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut out = owner.to_vec();
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

pub(crate) fn txt_rdata(s: &str) -> Vec<u8> {
    let mut out = vec![s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

pub(crate) fn soa_rdata(zone: &str, minimum: u32) -> Vec<u8> {
    let mut out = wire_name(&format!("ns1.{zone}"));
    out.extend(wire_name(&format!("hostmaster.{zone}")));
    for v in [2024010101u32, 7200, 3600, 1209600, minimum] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

pub(crate) fn opt(payload: u16, dnssec_ok: bool, options: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&payload.to_be_bytes());
    out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0]);
    out.extend_from_slice(&(options.len() as u16).to_be_bytes());
    out.extend_from_slice(options);
    out
}

/// An EDNS cookie option (code 10) and an ECS option (code 8), as a client might send.
pub(crate) fn cookie_and_ecs() -> Vec<u8> {
    let mut o = vec![0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    o.extend_from_slice(&[0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2]);
    o
}

/// A message from parts; `flags` is the 16-bit flags word.
pub(crate) struct Wire {
    pub(crate) id: u16,
    pub(crate) flags: u16,
    pub(crate) qd: Vec<Vec<u8>>,
    pub(crate) an: Vec<Vec<u8>>,
    pub(crate) ns: Vec<Vec<u8>>,
    pub(crate) ar: Vec<Vec<u8>>,
}

impl Wire {
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for section in [&self.qd, &self.an, &self.ns, &self.ar] {
            out.extend_from_slice(&(section.len() as u16).to_be_bytes());
        }
        for section in [&self.qd, &self.an, &self.ns, &self.ar] {
            for part in section {
                out.extend_from_slice(part);
            }
        }
        out
    }
}

pub(crate) fn question(name: &str, qtype: u16, qclass: u16) -> Vec<u8> {
    let mut q = wire_name(name);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&qclass.to_be_bytes());
    q
}

/// A client query with RD set; `edns` is (payload, DO, options).
pub(crate) fn query(id: u16, name: &str, qtype: u16, edns: Option<(u16, bool, &[u8])>) -> Vec<u8> {
    Wire {
        id,
        flags: 0x0100,
        qd: vec![question(name, qtype, CLASS_IN)],
        an: vec![],
        ns: vec![],
        ar: edns.map(|(p, d, o)| vec![opt(p, d, o)]).unwrap_or_default(),
    }
    .bytes()
}

/// The upstream's reply to `ex`: its ID, QR|RD|RA plus `rcode`, the question byte for byte.
pub(crate) fn reply(
    ex: &Exchange,
    rcode: u16,
    an: Vec<Vec<u8>>,
    ns: Vec<Vec<u8>>,
    ar: Vec<Vec<u8>>,
) -> Vec<u8> {
    Wire {
        id: ex.upstream_id(),
        flags: 0x8180 | rcode,
        qd: vec![ex.question().to_vec()],
        an,
        ns,
        ar,
    }
    .bytes()
}

pub(crate) fn config(max_ttl: u32) -> Config {
    let mut b = ConfigBuilder::new();
    let built = b
        .upstream("192.0.2.53")
        .and_then(|b| b.max_ttl(max_ttl))
        .and_then(|b| b.build());
    match built {
        Ok(c) => c,
        Err(e) => panic!("test config: {e}"),
    }
}

pub(crate) fn engine(max_ttl: u32) -> Engine {
    Engine::new(config(max_ttl))
}

/// A recursive-mode exchange over UDP at time 0.
pub(crate) fn exchange(query: &[u8], random: u64) -> Exchange {
    exchange_with(&engine(30), query, Transport::Udp, random)
}

pub(crate) fn exchange_with(
    engine: &Engine,
    query: &[u8],
    client: Transport,
    random: u64,
) -> Exchange {
    match Exchange::new(engine, query, client, random, 0) {
        Ok(ex) => ex,
        Err(e) => panic!("test exchange: {e}"),
    }
}

/// The query the exchange wants sent now (empty when it is done).
pub(crate) fn sent(ex: &Exchange) -> Vec<u8> {
    match ex.poll() {
        Action::Send { query, .. } => query.to_vec(),
        _ => Vec::new(),
    }
}

/// Feeds `reply` to a copy of `ex` as if the client came over `client`, and returns the answer
/// for the client (any question to the internal view about a CNAME target goes unanswered:
/// nothing is learned).
pub(crate) fn finish(
    ex: &Exchange,
    engine: &Engine,
    reply: &[u8],
    client: Transport,
) -> Result<Vec<u8>, ReplyError> {
    let mut ex = ex.clone();
    ex.client.transport = client;
    ex.on_reply(engine, reply, 0)?;
    while matches!(ex.poll(), Action::Internal(_)) {
        ex.on_failure(0);
    }
    match ex.poll() {
        Action::Answer(a) => Ok(a.to_vec()),
        other => panic!("valid reply but no answer: {other:?}"),
    }
}

/// The question name (lower case, dotted) and type of a query.
pub(crate) fn question_of(query: &[u8]) -> (String, u16) {
    let mut labels = Vec::new();
    let mut i = 12;
    while let Some(&len) = query.get(i) {
        if len == 0 {
            break;
        }
        let l = query.get(i + 1..i + 1 + usize::from(len)).unwrap_or(&[]);
        labels.push(String::from_utf8_lossy(l).to_ascii_lowercase());
        i += 1 + usize::from(len);
    }
    let qtype = query
        .get(i + 1..i + 3)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    (labels.join("."), qtype)
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

// ---- exchanges driven with hand-built replies --------------------------------------------

pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

pub(crate) fn engine_with(upstreams: &[&str], setup: impl FnOnce(&mut ConfigBuilder)) -> Engine {
    let mut b = ConfigBuilder::new();
    for u in upstreams {
        assert!(b.upstream(u).is_ok(), "{u}");
    }
    setup(&mut b);
    match b.build() {
        Ok(c) => Engine::new(c),
        Err(e) => panic!("config: {e}"),
    }
}

pub(crate) fn new_ex(
    engine: &Engine,
    name: &str,
    qtype: u16,
    client: Transport,
    now: u64,
) -> Exchange {
    match Exchange::new(engine, &query(0x1234, name, qtype, None), client, 7, now) {
        Ok(ex) => ex,
        Err(e) => panic!("exchange: {e}"),
    }
}

/// The pending send: server, transport, and the parsed query.
pub(crate) fn send_of(ex: &Exchange) -> (SocketAddr, Transport, Message) {
    match ex.poll() {
        Action::Send {
            server,
            transport,
            query,
            ..
        } => match Message::from_vec(query) {
            Ok(m) => (server, transport, m),
            Err(e) => panic!("query does not parse: {e}"),
        },
        other => panic!("expected a send, got {other:?}"),
    }
}

/// (server, transport, lower-cased question name, type, RD) of the pending send.
pub(crate) fn sending(ex: &Exchange) -> (SocketAddr, Transport, String, RecordType, bool) {
    let (server, transport, m) = send_of(ex);
    let q = m
        .queries
        .first()
        .map(|q| (q.name().to_ascii().to_lowercase(), q.query_type()));
    let (name, qtype) = q.unwrap_or_else(|| (String::new(), RecordType::NULL));
    (server, transport, name, qtype, m.metadata.recursion_desired)
}

/// A reply to the pending send with the given flags word.
pub(crate) fn reply_with(
    ex: &Exchange,
    flags: u16,
    an: Vec<Vec<u8>>,
    ns: Vec<Vec<u8>>,
    ar: Vec<Vec<u8>>,
) -> Vec<u8> {
    Wire {
        id: ex.upstream_id(),
        flags,
        qd: vec![ex.question().to_vec()],
        an,
        ns,
        ar,
    }
    .bytes()
}

pub(crate) fn soa(owner: &str, ttl: u32) -> Vec<u8> {
    rr(
        &wire_name(owner),
        TYPE_SOA,
        CLASS_IN,
        ttl,
        &soa_rdata(owner, 60),
    )
}

pub(crate) fn ns(owner: &str, target: &str, ttl: u32) -> Vec<u8> {
    rr(
        &wire_name(owner),
        TYPE_NS,
        CLASS_IN,
        ttl,
        &wire_name(target),
    )
}

pub(crate) fn a(owner: &str, ip: [u8; 4], ttl: u32) -> Vec<u8> {
    rr(&wire_name(owner), TYPE_A, CLASS_IN, ttl, &ip)
}

pub(crate) fn aaaa(owner: &str, last: u8, ttl: u32) -> Vec<u8> {
    let mut ip = [0u8; 16];
    ip[0] = 0x20;
    ip[1] = 0x01;
    ip[2] = 0x0d;
    ip[3] = 0xb8;
    ip[15] = last;
    rr(&wire_name(owner), TYPE_AAAA, CLASS_IN, ttl, &ip)
}

pub(crate) fn ok(ex: &mut Exchange, engine: &Engine, reply: &[u8], now: u64) {
    if let Err(e) = ex.on_reply(engine, reply, now) {
        panic!("reply rejected: {e}");
    }
}

/// Answers the pending question to the internal view (the probe of a CNAME target) with
/// `rcode`: NXDOMAIN (3) lets the target be learned.
pub(crate) fn internal_says(ex: &mut Exchange, e: &Engine, rcode: u16, now: u64) {
    assert!(
        matches!(ex.poll(), Action::Internal(_)),
        "expected a question to the internal view, got {:?}",
        ex.poll()
    );
    let r = reply(ex, rcode, vec![], vec![], vec![]);
    ok(ex, e, &r, now);
}

/// Answers every pending question to the internal view NXDOMAIN (it knows none of the names
/// asked about, so they are learned), until the exchange moves on.
pub(crate) fn internal_unknown(ex: &mut Exchange, e: &Engine, now: u64) {
    while matches!(ex.poll(), Action::Internal(_)) {
        internal_says(ex, e, 3, now);
    }
}

pub(crate) fn classify(e: &Engine, name: &str, qtype: u16, now: u64) -> Verdict {
    e.classify(name.as_bytes(), qtype, 1, now)
}

pub(crate) fn answer(ex: &Exchange) -> Message {
    match ex.poll() {
        Action::Answer(a) => match Message::from_vec(a) {
            Ok(m) => m,
            Err(e) => panic!("answer does not parse: {e}"),
        },
        other => panic!("expected an answer, got {other:?}"),
    }
}

/// A TXT answer on the question name (a compression pointer to it).
pub(crate) fn txt_at_q(text: &str) -> Vec<u8> {
    rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 120, &txt_rdata(text))
}
