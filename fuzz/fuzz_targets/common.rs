// Shared by the targets (included with `mod common;`) and by the seed generator
// (examples/seeds/): the configurations under test, the input format of the targets that drive
// exchanges, the driver, and the invariants every reply and every sent query must keep.
#![allow(dead_code)] // not every target uses every helper

use acmeforward::{
    Action, Config, ConfigBuilder, Engine, Exchange, Fact, MAX_SENDS, Transport, UpstreamMode,
    Verdict,
};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;

// ---- configurations ----------------------------------------------------------------------

pub fn config() -> Config {
    let mut builder = ConfigBuilder::new();
    builder.zone("example.com").expect("zone");
    builder.zone("sub.example.org.").expect("zone");
    builder.delegated("auth.example.net").expect("delegated");
    upstreams(&mut builder);
    builder.max_ttl(30).expect("max_ttl");
    builder.build().expect("config")
}

/// Two resolvers, so that failover is reachable.
fn upstreams(builder: &mut ConfigBuilder) {
    builder.upstream("127.0.0.1:53").expect("upstream");
    builder.upstream("[::1]:5353").expect("upstream");
}

/// An engine in recursive mode that has learned a few names (so classify consults the learned
/// state for every question).
pub fn engine() -> Engine {
    let engine = Engine::new(config());
    engine.learn(
        b"\x01t\x04acme\x07example\x03net\x00",
        Fact::CnameTarget,
        300,
        0,
    );
    engine.learn(b"\x03ns1\x07example\x03com\x00", Fact::NsHost, 300, 0);
    engine.learn(b"\x07example\x03org\x00", Fact::Ancestor, 300, 0);
    engine
}

pub const LISTED: usize = 0;
pub const NONE: usize = 1;
pub const DELEGATED: usize = 2;
pub const HAIRPIN: usize = 3;
pub const PROTECT: usize = 4;
pub const AUTHORITATIVE: usize = 5;
pub const DISCOVERY_OFF: usize = 6;
/// How many configurations [`configured`] knows.
pub const CONFIGS: usize = 7;

/// The hairpin lines of the HAIRPIN configuration: IP targets, a name target (looked up
/// through the internal view), a wildcard.
pub const HAIRPIN_LINES: [&str; 3] = [
    "www.example.com shop.example.com 192.0.2.10 2001:db8::10",
    "*.apps.example.com ingress-nginx-controller.ingress-nginx.svc.cluster.local",
    "gw.example.org 10.0.0.5",
];

/// A fresh engine (nothing learned but what `engine()` learns) for configuration `which`
/// (modulo [`CONFIGS`]): zones listed, none, delegated only, hairpin, extra protected zones,
/// authoritative mode, discovery off.
pub fn configured(which: usize) -> Engine {
    let which = which % CONFIGS;
    if which == LISTED {
        return engine();
    }
    let mut b = ConfigBuilder::new();
    upstreams(&mut b);
    match which {
        NONE => {}
        DELEGATED => {
            b.delegated("auth.example.net").expect("delegated");
            b.delegated("acme-dns.io").expect("delegated");
        }
        HAIRPIN => {
            b.zone("example.com").expect("zone");
            for line in HAIRPIN_LINES {
                b.hairpin(line).expect("hairpin");
            }
            b.max_ttl(60).expect("max_ttl");
        }
        PROTECT => {
            b.zone("example.com").expect("zone");
            b.delegated("auth.example.net").expect("delegated");
            b.protect("corp.internal").expect("protect");
            // Protected inside a listed zone: the listed zone's rules must not reach it.
            b.protect("internal.example.com").expect("protect");
        }
        AUTHORITATIVE => {
            b.zone("example.com").expect("zone");
            b.delegated("auth.example.net").expect("delegated");
            b.upstream_mode(UpstreamMode::Authoritative);
            b.allow_ns("10.53.0.0/16").expect("allow_ns");
            b.max_learned(16).expect("max_learned");
        }
        _ => {
            b.zone("example.com").expect("zone");
            b.delegated("auth.example.net").expect("delegated");
            b.discovery(false);
            b.max_ttl(0).expect("max_ttl");
        }
    }
    Engine::new(b.build().expect("config"))
}

// ---- names -------------------------------------------------------------------------------

/// Whether lower-cased wire-form `wire` is at or below `zone` (label-aligned suffix).
pub fn at_or_below(wire: &[u8], zone: &[u8]) -> bool {
    let mut at = 0usize;
    loop {
        if wire.get(at..) == Some(zone) {
            return true;
        }
        match wire.get(at) {
            Some(&len) if len != 0 && len & 0xc0 == 0 => at += 1 + usize::from(len),
            _ => return false,
        }
    }
}

/// Whether lower-cased wire-form `wire` is at or below a protected zone of `config`.
pub fn is_protected(config: &Config, wire: &[u8]) -> bool {
    config
        .protected()
        .iter()
        .any(|p| at_or_below(wire, p.wire()))
}

/// Lower-cased wire form of a parsed name.
pub fn lower_wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}

/// Presentation format of wire-form labels, case kept, every octet that is not a letter, digit,
/// `-` or `_` written as `\DDD` (so that it scans back to the same octets).
pub fn presentation(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(&len) = wire.get(at) {
        if len == 0 || len & 0xc0 != 0 {
            break;
        }
        let label = wire.get(at + 1..at + 1 + usize::from(len)).unwrap_or(&[]);
        for &b in label {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                out.push(b);
            } else {
                out.extend_from_slice(format!("\\{b:03}").as_bytes());
            }
        }
        out.push(b'.');
        at += 1 + usize::from(len);
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

fn labels_exact(a: &Name, b: &Name) -> bool {
    a.iter().eq(b.iter())
}

fn labels_lower(n: &Name) -> bool {
    n.iter().all(|l| !l.iter().any(u8::is_ascii_uppercase))
}

/// Names inside the default protected zones (and `corp.internal`, protected in some
/// configurations) that replies may try to make forwardable.
pub const DEFAULT_PROTECTED_NAMES: [&str; 8] = [
    "cluster.local",
    "kube-dns.kube-system.svc.cluster.local.",
    "_acme-challenge.www.svc.cluster.local",
    "10.in-addr.arpa",
    "_acme-challenge.1.0.0.0.ip6.arpa.",
    "localhost",
    "_acme-challenge.db.corp.internal",
    "ns1.corp.internal.",
];

/// The question types a propagation check, a hairpin client or anything else may ask.
pub const QTYPES: [u16; 7] = [
    TYPE_A, TYPE_AAAA, TYPE_TXT, TYPE_CNAME, TYPE_SOA, TYPE_NS, TYPE_ANY,
];

/// Rule 0: a name (lower-cased wire form) at or below a protected zone is never forwarded,
/// whatever was learned, and nothing is learned about it. One type per group of rules: A (rule
/// 3), TXT (rules 1 and 4), SOA (rules 2 and 5); the classify target covers every type.
pub fn assert_protected_stays_internal(engine: &Engine, wire: &[u8], now_ms: u64) {
    if !is_protected(engine.config(), wire) {
        return;
    }
    let text = presentation(wire);
    for qtype in [TYPE_A, TYPE_TXT, TYPE_SOA] {
        assert_ne!(
            engine.classify(&text, qtype, CLASS_IN, now_ms),
            Verdict::Forward,
            "protected name {} type {qtype} forwarded",
            String::from_utf8_lossy(&text)
        );
    }
    assert!(
        engine.learned_facts(wire, now_ms).is_empty(),
        "a fact about protected name {} was learned",
        String::from_utf8_lossy(&text)
    );
}

/// Every name in a message (owners and names in record data), lower-cased wire form.
pub fn names_in(message: &[u8], out: &mut Vec<Vec<u8>>) {
    let Ok(msg) = Message::from_vec(message) else {
        return;
    };
    let mut add = |n: &Name| {
        let w = lower_wire(n);
        if out.len() < 64 && !out.contains(&w) {
            out.push(w);
        }
    };
    for q in &msg.queries {
        add(q.name());
    }
    for r in msg
        .answers
        .iter()
        .chain(&msg.authorities)
        .chain(&msg.additionals)
    {
        add(&r.name);
        for n in rdata_names(r) {
            add(n);
        }
    }
}

fn rdata_names(r: &Record) -> Vec<&Name> {
    match &r.data {
        RData::CNAME(n) => vec![&n.0],
        RData::NS(n) => vec![&n.0],
        RData::PTR(n) => vec![&n.0],
        RData::SOA(soa) => vec![&soa.mname, &soa.rname],
        RData::MX(mx) => vec![&mx.exchange],
        RData::SRV(srv) => vec![&srv.target],
        _ => Vec::new(),
    }
}

// ---- input format ------------------------------------------------------------------------
//
// The targets that drive exchanges read `selector frame*`, where a frame is
// `ctl:u8 len:u16be bytes[len]` (a short last frame takes what is left). Replies are taken as
// whole messages, so that the seeds are real DNS messages; by default the harness copies the ID
// and the question of the query being answered into them (a real upstream echoes both, and the
// fuzzer could not guess the 0x20 letter case), so that mutations reach the sections.

/// What a frame is (`ctl & 7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A reply; ID and question section replaced by those of the query it answers.
    Reply,
    /// No reply: a timeout, or the internal view wrote nothing. The bytes are ignored.
    NoReply,
    /// A reply; only the ID replaced.
    ReplyKeepQuestion,
    /// A reply exactly as given.
    Raw,
    /// A client query that starts a new exchange, over UDP or TCP.
    Query(Transport),
}

#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub kind: Kind,
    /// How far the clock moves before this frame (`ctl >> 3`, see [`clock_step`]).
    pub step: u8,
    pub bytes: &'a [u8],
}

pub fn frames(mut data: &[u8]) -> impl Iterator<Item = Frame<'_>> {
    std::iter::from_fn(move || {
        let (&ctl, rest) = data.split_first()?;
        let len = match rest {
            [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
            _ => 0,
        };
        let rest = rest.get(2..).unwrap_or(&[]);
        let (bytes, tail) = rest.split_at(len.min(rest.len()));
        data = tail;
        let kind = match ctl & 7 {
            1 => Kind::NoReply,
            2 => Kind::ReplyKeepQuestion,
            3 => Kind::Raw,
            4 => Kind::Query(Transport::Udp),
            5 => Kind::Query(Transport::Tcp),
            _ => Kind::Reply,
        };
        Some(Frame {
            kind,
            step: ctl >> 3,
            bytes,
        })
    })
}

/// Encodes a frame (for the seed generator). `ctl` is the kind, 0..=5.
pub fn frame(ctl: u8, step: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![ctl | (step << 3)];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

/// The clock moves by 0, by 2^(step+4) ms (32 ms up to about 200 days), or, for step 31, by a
/// quarter of the clock's range, so that saturating arithmetic near `u64::MAX` is reached too.
pub fn clock_step(now: u64, step: u8) -> u64 {
    match step {
        0 => now,
        31 => now.saturating_add(u64::MAX / 4),
        s => now.saturating_add(1u64 << (u32::from(s) + 4)),
    }
}

/// The end of the question section of a message (one question), if it is all there.
fn question_end(msg: &[u8]) -> Option<usize> {
    let mut at = 12usize;
    loop {
        let len = *msg.get(at)?;
        if len == 0 {
            at += 1;
            break;
        }
        if len & 0xc0 == 0xc0 {
            at += 2;
            break;
        }
        at += 1 + usize::from(len);
    }
    (at + 4 <= msg.len()).then_some(at + 4)
}

/// The reply bytes a frame stands for, as an answer to `sent`.
pub fn fit(frame: &Frame<'_>, sent: &[u8]) -> Vec<u8> {
    let mut out = frame.bytes.to_vec();
    if matches!(frame.kind, Kind::Reply | Kind::ReplyKeepQuestion) && out.len() >= 2 {
        out[..2].copy_from_slice(&sent[..2]);
    }
    if frame.kind == Kind::Reply
        && let (Some(sent_end), Some(reply_end)) = (question_end(sent), question_end(&out))
    {
        let mut spliced = out[..12].to_vec();
        spliced.extend_from_slice(&sent[12..sent_end]);
        spliced.extend_from_slice(&out[reply_end..]);
        out = spliced;
    }
    out
}

// ---- invariants --------------------------------------------------------------------------

/// A query the exchange wants sent (upstream, or to the internal view) is a well-formed query
/// with exactly one question, the ID and question the exchange will check the reply against.
pub fn check_sent(ex: &Exchange, query: &[u8], internal: bool) {
    let msg = Message::from_vec(query)
        .unwrap_or_else(|e| panic!("sent query does not parse: {e}: {query:02x?}"));
    assert_eq!(msg.metadata.message_type, MessageType::Query);
    assert_eq!(msg.queries.len(), 1, "one question");
    assert!(msg.answers.is_empty() && msg.authorities.is_empty());
    assert_eq!(msg.metadata.id, ex.upstream_id());
    assert_eq!(query.get(12..12 + ex.question().len()), Some(ex.question()));
    if internal {
        // The internal view gets lower case: no 0x20 spelling inside the process.
        assert!(
            labels_lower(msg.queries[0].name()),
            "internal query in mixed case"
        );
    }
}

/// The client's answer: a DNS response that parses, with the client's ID and question (its own
/// letter case), TTLs capped by max_ttl, no 0x20 spelling leaked into other names, no OPT the
/// client did not send, and within the client's UDP size.
pub fn check_answer(engine: &Engine, client: &Client, answer: &[u8]) -> Message {
    let query = Message::from_vec(&client.query).expect("the client query parsed before");
    let asked = &query.queries[0];
    let msg = Message::from_vec(answer)
        .unwrap_or_else(|e| panic!("answer does not parse: {e}: {answer:02x?}"));
    assert_eq!(msg.metadata.id, query.metadata.id, "client ID");
    assert_eq!(msg.metadata.message_type, MessageType::Response);
    assert_eq!(msg.queries.len(), 1, "one question");
    let q = &msg.queries[0];
    assert!(
        q.name()
            .iter()
            .map(<[u8]>::to_ascii_lowercase)
            .eq(asked.name().iter().map(<[u8]>::to_ascii_lowercase)),
        "answer question {} is not the client's {}",
        q.name(),
        asked.name()
    );
    assert!(labels_exact(q.name(), asked.name()), "client's letter case");
    assert_eq!(q.query_type(), asked.query_type());
    assert_eq!(q.query_class(), asked.query_class());
    if client.transport == Transport::Udp {
        assert!(
            answer.len() <= usize::from(client.ex.client_udp_size()),
            "fits the client's UDP size"
        );
    }
    assert!(
        msg.edns.is_none() || query.edns.is_some(),
        "OPT the client did not send"
    );
    // The answer section holds what was asked: the CNAME chain (and DNAMEs), the asked type
    // (every type for ANY; the CNAME itself for a CNAME question), signatures only with DO;
    // an NXDOMAIN no data at all.
    let dnssec_ok = query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    let qtype = asked.query_type();
    for r in &msg.answers {
        let rtype = r.record_type();
        let chain = matches!(rtype, RecordType::CNAME | RecordType::DNAME);
        let data = rtype == qtype || (qtype == RecordType::ANY && rtype != RecordType::RRSIG);
        let signature = dnssec_ok && rtype == RecordType::RRSIG;
        assert!(
            chain || signature || (data && msg.metadata.response_code != ResponseCode::NXDomain),
            "{rtype} record in the {} answer to a {qtype} question (DO {dnssec_ok})",
            msg.metadata.response_code
        );
    }
    let max_ttl = engine.config().max_ttl();
    for r in msg
        .answers
        .iter()
        .chain(&msg.authorities)
        .chain(&msg.additionals)
    {
        assert!(r.ttl <= max_ttl, "TTL {} above max_ttl {max_ttl}", r.ttl);
        if let RData::SOA(soa) = &r.data {
            assert!(soa.minimum <= max_ttl, "SOA MINIMUM above max_ttl");
        }
        assert!(
            labels_exact(&r.name, asked.name()) || labels_lower(&r.name),
            "owner {} in 0x20 case",
            r.name
        );
        for n in rdata_names(r) {
            assert!(labels_lower(n), "record data name {n} in 0x20 case");
        }
    }
    msg
}

/// A hairpin answer: NOERROR, only addresses of the asked family under the client's own name.
fn check_hairpin_answer(msg: &Message, client: &Client) {
    let query = Message::from_vec(&client.query).expect("the client query parsed before");
    let asked = &query.queries[0];
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(!msg.metadata.authoritative);
    assert!(msg.authorities.is_empty() && msg.additionals.is_empty());
    for r in &msg.answers {
        assert_eq!(
            r.record_type(),
            asked.query_type(),
            "hairpin record of another type"
        );
        assert!(
            labels_exact(&r.name, asked.name()),
            "hairpin record on another name"
        );
        assert!(matches!(r.record_type(), RecordType::A | RecordType::AAAA));
    }
}

// ---- the driver ----------------------------------------------------------------------------

/// The answer shared with another client that asked the same question (another ID, the name in
/// the other letter case, over the other transport) passes the same checks as the first
/// client's.
fn check_shared(engine: &Engine, client: &Client) {
    let mut query = client.query.clone();
    if let Some(id) = query.first_mut() {
        *id ^= 0xff;
    }
    let mut at = 12;
    while let Some(&len) = query.get(at) {
        let len = usize::from(len);
        if len == 0 || len >= 64 || at + len >= query.len() {
            break;
        }
        for b in &mut query[at + 1..=at + len] {
            if b.is_ascii_alphabetic() {
                *b ^= 0x20;
            }
        }
        at += 1 + len;
    }
    let transport = match client.transport {
        Transport::Udp => Transport::Tcp,
        Transport::Tcp => Transport::Udp,
    };
    let mut answer = Vec::new();
    if let Err(e) = client.ex.answer_for(&query, transport, &mut answer) {
        panic!("an answered exchange did not share its answer for the same question: {e}");
    }
    let other = Client {
        ex: client.ex.clone(),
        query,
        transport,
        hairpin: client.hairpin,
    };
    let msg = check_answer(engine, &other, &answer);
    if client.hairpin {
        check_hairpin_answer(&msg, &other);
    }
}

/// One client exchange in progress.
pub struct Client {
    pub ex: Exchange,
    pub query: Vec<u8>,
    pub transport: Transport,
    /// Answered from the hairpin table: nothing may ever go upstream.
    pub hairpin: bool,
}

/// Runs client exchanges on one engine, one at a time, checking every query sent and every
/// answer.
pub struct Session<'e> {
    pub engine: &'e Engine,
    pub now: u64,
    client: Option<Client>,
    exchanges: u64,
    pub answers: usize,
}

impl<'e> Session<'e> {
    pub fn new(engine: &'e Engine, now: u64) -> Self {
        Session {
            engine,
            now,
            client: None,
            exchanges: 0,
            answers: 0,
        }
    }

    /// Whether an exchange waits for a reply.
    pub fn waiting(&self) -> bool {
        self.client.as_ref().is_some_and(|c| c.ex.is_waiting())
    }

    /// Ends the exchange in progress (every further try times out), then starts one for `query`;
    /// false when Exchange::new refused it.
    pub fn start(&mut self, query: &[u8], transport: Transport) -> bool {
        self.finish();
        self.exchanges += 1;
        let random = 0x5eed_u64.wrapping_mul(self.exchanges);
        let Ok(ex) = Exchange::new(self.engine, query, transport, random, self.now) else {
            return false;
        };
        let hairpin = !matches!(ex.poll(), Action::Send { .. });
        self.client = Some(Client {
            ex,
            query: query.to_vec(),
            transport,
            hairpin,
        });
        self.settle();
        true
    }

    /// Hands a reply frame (or a timeout) to the waiting exchange.
    pub fn deliver(&mut self, frame: &Frame<'_>) {
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let sent = match client.ex.poll() {
            Action::Send { query, .. } | Action::Internal(query) => query.to_vec(),
            _ => return,
        };
        match frame.kind {
            Kind::NoReply => client.ex.on_failure(self.now),
            _ => {
                let reply = fit(frame, &sent);
                let _ = client.ex.on_reply(self.engine, &reply, self.now);
            }
        }
        self.settle();
    }

    /// Lets every remaining try of the exchange in progress time out.
    pub fn finish(&mut self) {
        let mut guard = 0;
        while self.waiting() {
            guard += 1;
            assert!(guard <= 2 * MAX_SENDS, "exchange does not end");
            if let Some(client) = self.client.as_mut() {
                client.ex.on_failure(self.now);
            }
            self.settle();
        }
        self.client = None;
    }

    /// Checks what the exchange does next; drops it once it is done.
    fn settle(&mut self) {
        let Some(client) = self.client.as_ref() else {
            return;
        };
        assert!(client.ex.sends() <= MAX_SENDS, "send budget");
        match client.ex.poll() {
            Action::Send { query, .. } => {
                assert!(!client.hairpin, "a hairpin answer went upstream");
                check_sent(&client.ex, query, false);
            }
            Action::Internal(query) => check_sent(&client.ex, query, true),
            Action::Answer(answer) => {
                let msg = check_answer(self.engine, client, answer);
                if client.hairpin {
                    check_hairpin_answer(&msg, client);
                }
                check_shared(self.engine, client);
                self.answers += 1;
                self.client = None;
            }
            Action::Fail(_) => self.client = None,
        }
    }

    /// One frame: a client query starts an exchange, anything else answers the exchange in
    /// progress. False when no exchange waits for the frame (the caller may use it elsewhere).
    pub fn step(&mut self, frame: &Frame<'_>) -> bool {
        self.now = clock_step(self.now, frame.step);
        match frame.kind {
            Kind::Query(transport) => {
                self.start(frame.bytes, transport);
                true
            }
            _ if self.waiting() => {
                self.deliver(frame);
                true
            }
            _ => false,
        }
    }

    /// Runs every frame, then finishes the last exchange.
    pub fn run(&mut self, data: &[u8]) {
        for frame in frames(data) {
            self.step(&frame);
        }
        self.finish();
    }
}

/// A presentation-format name as ASCII text that scans to the same octets: every octet above
/// 0x7f becomes `\DDD` (after a `\`, the escape's octet itself), so that names that are not
/// UTF-8 can be compared through `Zone::parse`.
pub fn ascii_text(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    let mut bytes = name.iter().copied();
    while let Some(b) = bytes.next() {
        let b = if b == b'\\' {
            match bytes.next() {
                Some(n) if n.is_ascii() => {
                    out.push('\\');
                    n
                }
                Some(n) => n,
                None => {
                    out.push('\\');
                    break;
                }
            }
        } else {
            b
        };
        if b.is_ascii() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out
}
