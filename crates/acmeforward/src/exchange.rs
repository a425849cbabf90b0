//! The forward exchange: build the upstream query from the client's, then validate the upstream
//! reply and rewrite it for the client (the rewriting itself is in `rewrite.rs`).
//!
//! Sans-IO: the caller sends [`Exchange::upstream_query`] and hands every reply it receives to
//! [`Exchange::finish`]. The only randomness is the `random` argument of [`Exchange::new`].

use core::fmt;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::config::Config;
use crate::rewrite;

/// The EDNS0 UDP payload size advertised upstream and to clients (DNS flag day 2020).
pub const UPSTREAM_UDP_PAYLOAD: u16 = 1232;

/// A DNS message's limit over UDP without EDNS0, and the smallest EDNS0 size honoured (RFC 6891).
pub const MIN_UDP_PAYLOAD: u16 = 512;

/// The largest client EDNS0 UDP size honoured; a bigger advertised size is clamped to this.
pub const MAX_CLIENT_UDP_PAYLOAD: u16 = 4096;

/// A DNS message's limit over TCP.
pub const MAX_TCP_MESSAGE: u16 = 65535;

/// Longest CNAME chain followed in a reply (links, not counting the question name).
pub const MAX_CNAME_CHAIN: usize = 32;

const HEADER_LEN: usize = 12;

// Header flag bits, first flags octet.
const FLAG_QR: u8 = 0x80;
pub(crate) const FLAG_TC: u8 = 0x02;
const FLAG_RD: u8 = 0x01;
const OPCODE_MASK: u8 = 0x78;
// Second flags octet.
const FLAG_AD: u8 = 0x20;
const FLAG_CD: u8 = 0x10;

/// How the client's query arrived (and so how big its answer may be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: the reply must fit the client's EDNS0 size, or 512 without EDNS0.
    Udp,
    /// TCP: the reply must fit 65535 octets.
    Tcp,
}

/// One forwarded query: what was sent upstream, and what is needed to check the reply and answer
/// the client.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The upstream query, wire format.
    pub(crate) upstream_query: Vec<u8>,
    /// Length of the question section, which is `upstream_query[12..12 + question_len]`.
    pub(crate) question_len: usize,
    pub(crate) upstream_id: u16,
    pub(crate) client_id: u16,
    /// The client's question name, exact case.
    pub(crate) client_name: Name,
    pub(crate) qtype: RecordType,
    pub(crate) qclass: DNSClass,
    pub(crate) client_rd: bool,
    pub(crate) client_cd: bool,
    pub(crate) client_ad: bool,
    /// `Some(dnssec_ok)` when the client sent an OPT record.
    pub(crate) client_edns: Option<bool>,
    /// The largest UDP reply the client accepts (512 without EDNS0, clamped to 512..=4096).
    pub(crate) client_udp_size: u16,
    pub(crate) max_ttl: u32,
}

/// splitmix64: expands the caller's one random word into as many as needed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Exchange {
    /// Parse the client's query and build the upstream query: fresh ID and 0x20 letter case
    /// from `random` (expanded with a small PRNG), RD set, EDNS0 kept (DO bit kept, options
    /// dropped) or added, UDP payload UPSTREAM_UDP_PAYLOAD.
    pub fn new(config: &Config, client_query: &[u8], random: u64) -> Result<Exchange, QueryError> {
        // Header checks first, on the raw bytes, so that they give the specific error even when
        // the rest of the message would not parse.
        let header: [u8; HEADER_LEN] = client_query
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(QueryError::Malformed)?;
        let [_, _, flags1, _, qd_hi, qd_lo, ..] = header;
        if flags1 & FLAG_QR != 0 {
            return Err(QueryError::NotAQuery);
        }
        if flags1 & OPCODE_MASK != 0 {
            return Err(QueryError::UnsupportedOpcode);
        }
        if u16::from_be_bytes([qd_hi, qd_lo]) != 1 {
            return Err(QueryError::QuestionCount);
        }
        let msg = Message::from_vec(client_query).map_err(|_| QueryError::Malformed)?;
        let md = &msg.metadata;
        if md.message_type != MessageType::Query || md.op_code != OpCode::Query {
            // Already checked on the raw header; kept so the parsed view agrees.
            return Err(QueryError::Malformed);
        }
        let question = match msg.queries.as_slice() {
            [q] => q,
            _ => return Err(QueryError::QuestionCount),
        };

        let client_edns = msg.edns.as_ref().map(|e| e.flags().dnssec_ok);
        let client_udp_size = match &msg.edns {
            Some(e) => e
                .max_payload()
                .clamp(MIN_UDP_PAYLOAD, MAX_CLIENT_UDP_PAYLOAD),
            None => MIN_UDP_PAYLOAD,
        };

        let mut rng = SplitMix64(random);
        // The ID takes the low 16 bits of the first word; the case bits start on a fresh word.
        let upstream_id = rng.next_u64() as u16;

        let mut q = Vec::with_capacity(HEADER_LEN + 255 + 4 + 11);
        // Header: ID, flags (QUERY, RD; AD and CD as the client asked), QD=1, AN=0, NS=0, AR=1.
        q.extend_from_slice(&upstream_id.to_be_bytes());
        q.push(FLAG_RD);
        let mut flags2 = 0u8;
        if md.authentic_data {
            flags2 |= FLAG_AD;
        }
        if md.checking_disabled {
            flags2 |= FLAG_CD;
        }
        q.push(flags2);
        q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);

        // Question: the client's name with random letter case (DNS 0x20), same type and class.
        let mut bits = rng.next_u64();
        let mut bits_left = 64u32;
        for label in question.name().iter() {
            // Hickory only decodes labels of at most 63 octets.
            q.push(u8::try_from(label.len()).map_err(|_| QueryError::Malformed)?);
            for &b in label {
                if b.is_ascii_alphabetic() {
                    if bits_left == 0 {
                        bits = rng.next_u64();
                        bits_left = 64;
                    }
                    let flip = (bits & 1) as u8;
                    bits >>= 1;
                    bits_left -= 1;
                    q.push(b ^ (flip << 5));
                } else {
                    q.push(b);
                }
            }
        }
        q.push(0);
        q.extend_from_slice(&u16::from(question.query_type()).to_be_bytes());
        q.extend_from_slice(&u16::from(question.query_class()).to_be_bytes());
        let question_len = q.len() - HEADER_LEN;

        // OPT: root owner, type 41, class = payload, TTL = ext-rcode 0, version 0, DO, no options.
        q.push(0);
        q.extend_from_slice(&u16::from(RecordType::OPT).to_be_bytes());
        q.extend_from_slice(&UPSTREAM_UDP_PAYLOAD.to_be_bytes());
        let do_bit = if client_edns == Some(true) { 0x80 } else { 0 };
        q.extend_from_slice(&[0, 0, do_bit, 0, 0, 0]);

        Ok(Exchange {
            upstream_query: q,
            question_len,
            upstream_id,
            client_id: md.id,
            client_name: question.name().clone(),
            qtype: question.query_type(),
            qclass: question.query_class(),
            client_rd: md.recursion_desired,
            client_cd: md.checking_disabled,
            client_ad: md.authentic_data,
            client_edns,
            client_udp_size,
            max_ttl: config.max_ttl(),
        })
    }

    /// The query to send to each upstream, wire format (prefix it with its length over TCP).
    pub fn upstream_query(&self) -> &[u8] {
        &self.upstream_query
    }

    /// The ID of the upstream query.
    pub fn upstream_id(&self) -> u16 {
        self.upstream_id
    }

    /// The ID of the client's query (and of the reply to it).
    pub fn client_id(&self) -> u16 {
        self.client_id
    }

    /// The question section sent upstream, byte for byte (name with its 0x20 case, type, class).
    pub fn question(&self) -> &[u8] {
        self.upstream_query
            .get(HEADER_LEN..HEADER_LEN + self.question_len)
            .unwrap_or(&[])
    }

    /// The largest reply the client takes over UDP: its EDNS0 size clamped to 512..=4096, or 512.
    pub fn client_udp_size(&self) -> u16 {
        self.client_udp_size
    }

    /// `Some(dnssec_ok)` when the client's query had an OPT record, `None` otherwise.
    pub fn client_edns(&self) -> Option<bool> {
        self.client_edns
    }

    /// Validate the upstream reply (QR, ID, opcode, question byte-exact incl. case, all sections
    /// parse, answer records only on the question name and its CNAME chain, upstream rcode usable)
    /// and rewrite it for the client (client ID and name case, TTLs and SOA MINIMUM capped by
    /// max_ttl, OPT only if the client sent one, TC when it does not fit the client's UDP size).
    ///
    /// `out` is cleared first; on success it holds the reply for the client, on error it is empty.
    pub fn finish(
        &self,
        reply: &[u8],
        client: Transport,
        out: &mut Vec<u8>,
    ) -> Result<(), ReplyError> {
        out.clear();
        let result = self
            .validate(reply)
            .and_then(|valid| rewrite::client_reply(self, &valid, client, out));
        if result.is_err() {
            out.clear();
        }
        result
    }

    /// All checks on the upstream reply; returns the parts that go to the client.
    pub(crate) fn validate(&self, reply: &[u8]) -> Result<Validated, ReplyError> {
        let header: [u8; HEADER_LEN] = reply
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(ReplyError::Malformed)?;
        let [id_hi, id_lo, flags1, _flags2, qd_hi, qd_lo, ..] = header;
        if flags1 & FLAG_QR == 0 {
            return Err(ReplyError::NotAResponse);
        }
        if u16::from_be_bytes([id_hi, id_lo]) != self.upstream_id {
            return Err(ReplyError::IdMismatch);
        }
        if flags1 & OPCODE_MASK != 0 {
            return Err(ReplyError::OpcodeMismatch);
        }
        if u16::from_be_bytes([qd_hi, qd_lo]) != 1 {
            return Err(ReplyError::QuestionMismatch);
        }
        let question = self.question();
        if reply.get(HEADER_LEN..HEADER_LEN + question.len()) != Some(question) {
            return Err(ReplyError::QuestionMismatch);
        }
        // A truncated reply may be cut anywhere: check TC before parsing the records.
        if flags1 & FLAG_TC != 0 {
            return Err(ReplyError::Truncated);
        }

        let msg = Message::from_vec(reply).map_err(|_| ReplyError::Malformed)?;
        let Message {
            metadata,
            answers,
            authorities,
            ..
        } = msg;
        match metadata.response_code {
            // YXDOMAIN: a DNAME substitution made a name that is too long (RFC 6672 §2.2).
            ResponseCode::NoError | ResponseCode::NXDomain | ResponseCode::YXDomain => {}
            _ => return Err(ReplyError::UpstreamFailure),
        }

        let chain = self.cname_chain(&answers)?;
        for record in &answers {
            if record.dns_class != self.qclass {
                return Err(ReplyError::ForeignRecord);
            }
            let on_chain = chain.iter().any(|n| **n == record.name);
            // A DNAME on an ancestor of a chain name rewrites it; the synthesized CNAME follows.
            let dname_above = record.record_type() == RecordType::DNAME
                && chain
                    .iter()
                    .any(|n| **n != record.name && record.name.zone_of(n));
            if !on_chain && !dname_above {
                return Err(ReplyError::ForeignRecord);
            }
            if !names_in_rdata_uncompressed(record) {
                return Err(ReplyError::Malformed);
            }
        }

        // Authority: only the SOA / NS of the zone (cut) the chain names are in; the rest is
        // dropped, as is the whole additional section.
        let authorities = authorities
            .into_iter()
            .filter(|r| {
                matches!(r.record_type(), RecordType::SOA | RecordType::NS)
                    && r.dns_class == self.qclass
                    && chain.iter().any(|n| r.name.zone_of(n))
            })
            .collect();
        drop(chain);

        Ok(Validated {
            authoritative: metadata.authoritative,
            recursion_available: metadata.recursion_available,
            authentic_data: metadata.authentic_data,
            response_code: metadata.response_code,
            answers,
            authorities,
        })
    }

    /// The question name and the CNAME targets reachable from it within `answers`.
    fn cname_chain<'a>(&'a self, answers: &'a [Record]) -> Result<Vec<&'a Name>, ReplyError> {
        let mut chain: Vec<&Name> = vec![&self.client_name];
        // Follow the chain; repeat so that records out of order still link up.
        loop {
            let mut grew = false;
            for record in answers {
                let RData::CNAME(target) = &record.data else {
                    continue;
                };
                if chain.iter().any(|n| **n == record.name)
                    && !chain.iter().any(|n| **n == target.0)
                {
                    if chain.len() > MAX_CNAME_CHAIN {
                        return Err(ReplyError::ForeignRecord);
                    }
                    chain.push(&target.0);
                    grew = true;
                }
            }
            if !grew {
                return Ok(chain);
            }
        }
    }
}

/// Types from RFC 1035 whose RDATA holds domain names (which may be compressed, RFC 3597 §4) but
/// that hickory keeps as opaque bytes, with how many names each holds; plus DNAME, which some
/// old servers compress. A compressed name in opaque bytes would point at the wrong place once
/// the message is rebuilt, so such records are refused unless their names are uncompressed.
fn opaque_name_count(rtype: u16) -> Option<usize> {
    match rtype {
        3 | 4 | 7 | 8 | 9 => Some(1), // MD, MF, MB, MG, MR
        14 => Some(2),                // MINFO
        39 => Some(1),                // DNAME
        _ => None,
    }
}

fn names_in_rdata_uncompressed(record: &Record) -> bool {
    let RData::Unknown { code, rdata } = &record.data else {
        return true;
    };
    let Some(count) = opaque_name_count(u16::from(*code)) else {
        return true;
    };
    let mut rest = rdata.anything.as_slice();
    for _ in 0..count {
        // Labels until the root; any pointer (or reserved label type) fails.
        loop {
            let Some((&len, tail)) = rest.split_first() else {
                return false;
            };
            if len == 0 {
                rest = tail;
                break;
            }
            if len > 63 {
                return false;
            }
            let Some(after) = tail.get(usize::from(len)..) else {
                return false;
            };
            rest = after;
        }
    }
    rest.is_empty()
}

/// The parts of a validated reply that go to the client.
#[derive(Debug)]
pub(crate) struct Validated {
    pub(crate) authoritative: bool,
    pub(crate) recursion_available: bool,
    pub(crate) authentic_data: bool,
    pub(crate) response_code: ResponseCode,
    pub(crate) answers: Vec<Record>,
    pub(crate) authorities: Vec<Record>,
}

/// Why the client's query could not be forwarded. Fieldless: each is one C result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueryError {
    /// The query does not parse as a DNS message.
    Malformed,
    /// The message is a response (QR set), not a query.
    NotAQuery,
    /// The opcode is not QUERY.
    UnsupportedOpcode,
    /// The query does not have exactly one question.
    QuestionCount,
}

impl QueryError {
    /// A static, operator-readable description (the FFI hands it out as is).
    pub fn as_str(&self) -> &'static str {
        match self {
            QueryError::Malformed => "client query is not a well-formed DNS message",
            QueryError::NotAQuery => "client message is a response (QR set), not a query",
            QueryError::UnsupportedOpcode => "client query opcode is not QUERY",
            QueryError::QuestionCount => "client query must have exactly one question",
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for QueryError {}

/// Why an upstream reply was not used. Every one means: try the next upstream (for
/// [`ReplyError::Truncated`] over UDP, first retry the same upstream over TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplyError {
    /// TC set: retry over TCP (over TCP already: try the next upstream).
    Truncated,
    /// The reply does not parse (or holds a record that cannot be passed on safely).
    Malformed,
    /// QR clear: the upstream sent a query, not a response.
    NotAResponse,
    /// The reply's ID is not the upstream query's: stale or spoofed.
    IdMismatch,
    /// The reply's opcode is not QUERY.
    OpcodeMismatch,
    /// The reply's question is not byte for byte the one sent (letter case included): spoofed.
    QuestionMismatch,
    /// An answer record is not on the question name or its CNAME chain.
    ForeignRecord,
    /// SERVFAIL, REFUSED, NOTIMP, FORMERR (or another rcode unusable for an answer) from upstream.
    UpstreamFailure,
}

impl ReplyError {
    /// A static, operator-readable description (the FFI hands it out as is).
    pub fn as_str(&self) -> &'static str {
        match self {
            ReplyError::Truncated => "upstream reply truncated (TC set): retry over TCP",
            ReplyError::Malformed => "upstream reply is not a well-formed DNS message",
            ReplyError::NotAResponse => "upstream reply is not a response (QR clear)",
            ReplyError::IdMismatch => {
                "upstream reply ID does not match the query: stale or spoofed"
            }
            ReplyError::OpcodeMismatch => "upstream reply opcode is not QUERY",
            ReplyError::QuestionMismatch => {
                "upstream reply question differs from the one sent (name, case, type or class): spoofed or broken upstream"
            }
            ReplyError::ForeignRecord => {
                "upstream reply has an answer record outside the question name and its CNAME chain"
            }
            ReplyError::UpstreamFailure => {
                "upstream failed (SERVFAIL, REFUSED, NOTIMP or FORMERR): trying the next upstream"
            }
        }
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ReplyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    const QNAME: &str = "_acme-challenge.Www.Example.COM";

    fn new_err(q: &[u8]) -> Option<QueryError> {
        Exchange::new(&config(30), q, 7).err()
    }

    fn validate_err(ex: &Exchange, reply: &[u8]) -> Option<ReplyError> {
        ex.validate(reply).err()
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
    fn upstream_query_header() {
        let mut q = query(0xbeef, QNAME, TYPE_TXT, None);
        q[2] &= !FLAG_RD; // client did not ask for recursion: upstream still gets RD
        let ex = exchange(&q, 42);
        let u = ex.upstream_query();
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
        let u = ex.upstream_query();
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
            let u = ex.upstream_query();
            let opt_rr = &u[12 + ex.question().len()..];
            assert_eq!(opt_rr, &opt(UPSTREAM_UDP_PAYLOAD, dnssec_ok, &[])[..]);
            assert_eq!(ex.client_edns(), Some(dnssec_ok));
            assert_eq!(ex.client_udp_size(), 4000);
        }
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

    #[test]
    fn ad_and_cd_passed_upstream() {
        let mut q = query(1, QNAME, TYPE_TXT, None);
        q[3] |= FLAG_AD | FLAG_CD;
        let ex = exchange(&q, 3);
        assert_eq!(ex.upstream_query()[3], FLAG_AD | FLAG_CD);
    }

    #[test]
    fn upstream_query_parses_back() {
        let ex = exchange(&query(7, QNAME, TYPE_TXT, Some((1232, true, &[]))), 11);
        let m = Message::from_vec(ex.upstream_query()).ok();
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

    // ---- header and question checks ------------------------------------------------------

    fn ex() -> Exchange {
        exchange(&query(0x1234, QNAME, TYPE_TXT, None), 0xfeed)
    }

    fn txt_answer() -> Vec<u8> {
        rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token"))
    }

    #[test]
    fn valid_reply_validates() {
        let ex = ex();
        let r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        let v = ex.validate(&r);
        assert_eq!(v.as_ref().map(|v| v.answers.len()).ok(), Some(1));
        assert_eq!(
            v.as_ref().map(|v| v.response_code).ok(),
            Some(ResponseCode::NoError)
        );
    }

    #[test]
    fn short_reply_is_malformed() {
        let ex = ex();
        assert_eq!(validate_err(&ex, &[]), Some(ReplyError::Malformed));
        let r = reply(&ex, 0, vec![], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r[..11]), Some(ReplyError::Malformed));
    }

    #[test]
    fn qr_must_be_set() {
        let ex = ex();
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[2] &= !FLAG_QR;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::NotAResponse));
        // An echo of the query itself is not a response.
        assert_eq!(
            validate_err(&ex, ex.upstream_query()),
            Some(ReplyError::NotAResponse)
        );
    }

    #[test]
    fn id_must_match() {
        let ex = ex();
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[1] ^= 1;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::IdMismatch));
        // The client's ID is not the upstream ID.
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[..2].copy_from_slice(&ex.client_id().to_be_bytes());
        if ex.client_id() != ex.upstream_id() {
            assert_eq!(validate_err(&ex, &r), Some(ReplyError::IdMismatch));
        }
    }

    #[test]
    fn opcode_must_be_query() {
        let ex = ex();
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[2] |= 4 << 3;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::OpcodeMismatch));
    }

    #[test]
    fn question_must_match_byte_for_byte() {
        let ex = ex();
        let good = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);

        // Letter case of any letter.
        let letters: Vec<usize> = (12..12 + ex.question().len() - 4)
            .filter(|&i| good[i].is_ascii_alphabetic())
            .collect();
        assert!(!letters.is_empty());
        for i in letters {
            let mut r = good.clone();
            r[i] ^= 0x20;
            assert_eq!(
                validate_err(&ex, &r),
                Some(ReplyError::QuestionMismatch),
                "byte {i}"
            );
        }
        // Type and class.
        let qtype_at = 12 + ex.question().len() - 4;
        for at in [qtype_at + 1, qtype_at + 3] {
            let mut r = good.clone();
            r[at] ^= 0x02;
            assert_eq!(validate_err(&ex, &r), Some(ReplyError::QuestionMismatch));
        }
        // No question, or two.
        let mut r = good.clone();
        r[5] = 0;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::QuestionMismatch));
        let mut r = good.clone();
        r[5] = 2;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::QuestionMismatch));
        // A reply cut inside the question.
        assert_eq!(
            validate_err(&ex, &good[..20]),
            Some(ReplyError::QuestionMismatch)
        );
        // The client's own spelling is not what was sent.
        let client_case = Wire {
            id: ex.upstream_id(),
            flags: 0x8180,
            qd: vec![question(QNAME, TYPE_TXT, CLASS_IN)],
            an: vec![txt_answer()],
            ns: vec![],
            ar: vec![],
        };
        if client_case.qd[0] != ex.question() {
            assert_eq!(
                validate_err(&ex, &client_case.bytes()),
                Some(ReplyError::QuestionMismatch)
            );
        }
    }

    #[test]
    fn truncated_checked_before_records() {
        let ex = ex();
        let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        r[2] |= FLAG_TC;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Truncated));
        // Cut in the middle of the answer: still Truncated, not Malformed.
        let cut = r.len() - 3;
        assert_eq!(validate_err(&ex, &r[..cut]), Some(ReplyError::Truncated));
        // And with a foreign record: still Truncated.
        let foreign = rr(
            &wire_name("evil.example"),
            TYPE_A,
            CLASS_IN,
            300,
            &[192, 0, 2, 1],
        );
        let mut r = reply(&ex, 0, vec![foreign], vec![], vec![]);
        r[2] |= FLAG_TC;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Truncated));
    }

    #[test]
    fn unparsable_sections_are_malformed() {
        let ex = ex();
        let r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
        // Answer cut short.
        assert_eq!(
            validate_err(&ex, &r[..r.len() - 2]),
            Some(ReplyError::Malformed)
        );
        // ANCOUNT larger than the records present.
        let mut more = r.clone();
        more[7] = 2;
        assert_eq!(validate_err(&ex, &more), Some(ReplyError::Malformed));
        // A bad authority record (pointer forward).
        let bad_ns = rr(
            &[0xc0, 0xff],
            TYPE_NS,
            CLASS_IN,
            1,
            &wire_name("ns.example"),
        );
        let r = reply(&ex, 0, vec![], vec![bad_ns], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
        // Two OPT records in the additional section.
        let r = reply(
            &ex,
            0,
            vec![],
            vec![],
            vec![opt(1232, false, &[]), opt(1232, false, &[])],
        );
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    }

    #[test]
    fn failure_rcodes() {
        let ex = ex();
        // FORMERR, SERVFAIL, NOTIMP, REFUSED, and rcodes that never answer a query.
        for rcode in [1u16, 2, 4, 5, 7, 8, 9, 10, 11, 15] {
            let r = reply(&ex, rcode, vec![], vec![], vec![]);
            assert_eq!(
                validate_err(&ex, &r),
                Some(ReplyError::UpstreamFailure),
                "rcode {rcode}"
            );
        }
        // An extended rcode (BADVERS: high bits in the OPT record).
        let mut ext = opt(1232, false, &[]);
        ext[5] = 1;
        let r = reply(&ex, 0, vec![], vec![], vec![ext]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::UpstreamFailure));
    }

    #[test]
    fn usable_rcodes() {
        let ex = ex();
        for (rcode, want) in [
            (0u16, ResponseCode::NoError),
            (3, ResponseCode::NXDomain),
            (6, ResponseCode::YXDomain),
        ] {
            let r = reply(&ex, rcode, vec![], vec![], vec![]);
            assert_eq!(ex.validate(&r).map(|v| v.response_code).ok(), Some(want));
        }
    }

    // ---- answer records ------------------------------------------------------------------

    #[test]
    fn answers_on_other_names_are_foreign() {
        let ex = ex();
        for owner in [
            "evil.example",
            "www.example.com",
            "x._acme-challenge.www.example.com",
            "_acme-challenge.example.com",
        ] {
            let a = rr(&wire_name(owner), TYPE_TXT, CLASS_IN, 300, &txt_rdata("x"));
            let r = reply(&ex, 0, vec![txt_answer(), a], vec![], vec![]);
            assert_eq!(
                validate_err(&ex, &r),
                Some(ReplyError::ForeignRecord),
                "{owner}"
            );
        }
    }

    #[test]
    fn answer_owner_compared_case_insensitively() {
        let ex = ex();
        for owner in [
            QNAME.to_string(),
            QNAME.to_lowercase(),
            QNAME.to_uppercase(),
        ] {
            let a = rr(&wire_name(&owner), TYPE_TXT, CLASS_IN, 300, &txt_rdata("x"));
            let r = reply(&ex, 0, vec![a], vec![], vec![]);
            assert!(ex.validate(&r).is_ok(), "{owner}");
        }
    }

    #[test]
    fn answer_class_must_match() {
        let ex = ex();
        let a = rr(&QNAME_PTR, TYPE_TXT, CLASS_CH, 300, &txt_rdata("x"));
        let r = reply(&ex, 0, vec![a], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
    }

    #[test]
    fn cname_chain_followed() {
        let ex = ex();
        let a = wire_name("Target-A.example.net");
        let b = wire_name("target-b.example.org");
        let answers = vec![
            rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &a),
            rr(
                &wire_name("target-a.EXAMPLE.net"),
                TYPE_CNAME,
                CLASS_IN,
                300,
                &b,
            ),
            rr(&b, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
        ];
        let r = reply(&ex, 0, answers.clone(), vec![], vec![]);
        assert_eq!(ex.validate(&r).map(|v| v.answers.len()).ok(), Some(3));

        // Out of order still links up.
        let mut shuffled = answers.clone();
        shuffled.reverse();
        let r = reply(&ex, 0, shuffled, vec![], vec![]);
        assert!(ex.validate(&r).is_ok());

        // A record on a name the chain does not reach is foreign.
        let mut extra = answers;
        extra.push(rr(
            &wire_name("target-c.example.org"),
            TYPE_TXT,
            CLASS_IN,
            300,
            &txt_rdata("x"),
        ));
        let r = reply(&ex, 0, extra, vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
    }

    #[test]
    fn cname_from_unrelated_name_does_not_extend_chain() {
        let ex = ex();
        let answers = vec![
            rr(
                &wire_name("other.example"),
                TYPE_CNAME,
                CLASS_IN,
                300,
                &wire_name("x.example"),
            ),
            rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
        ];
        let r = reply(&ex, 0, answers, vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
    }

    #[test]
    fn cname_chain_length_capped() {
        let ex = ex();
        let mut answers = vec![rr(
            &QNAME_PTR,
            TYPE_CNAME,
            CLASS_IN,
            1,
            &wire_name("c0.example"),
        )];
        for i in 0..MAX_CNAME_CHAIN + 1 {
            answers.push(rr(
                &wire_name(&format!("c{i}.example")),
                TYPE_CNAME,
                CLASS_IN,
                1,
                &wire_name(&format!("c{}.example", i + 1)),
            ));
        }
        let r = reply(&ex, 0, answers.clone(), vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
        answers.truncate(MAX_CNAME_CHAIN);
        let r = reply(&ex, 0, answers, vec![], vec![]);
        assert!(ex.validate(&r).is_ok());
    }

    #[test]
    fn cname_loop_terminates() {
        let ex = ex();
        let answers = vec![
            rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 1, &wire_name("a.example")),
            rr(
                &wire_name("a.example"),
                TYPE_CNAME,
                CLASS_IN,
                1,
                &wire_name(QNAME),
            ),
        ];
        let r = reply(&ex, 0, answers, vec![], vec![]);
        assert_eq!(ex.validate(&r).map(|v| v.answers.len()).ok(), Some(2));
    }

    #[test]
    fn dname_on_ancestor_accepted() {
        let ex = ex();
        // example.COM DNAME example.net; synthesized CNAME; the answer at the target.
        let target = wire_name("_acme-challenge.www.example.net");
        let answers = vec![
            rr(
                &wire_name("example.COM"),
                TYPE_DNAME,
                CLASS_IN,
                300,
                &wire_name("example.net"),
            ),
            rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target),
            rr(&target, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
        ];
        let r = reply(&ex, 0, answers, vec![], vec![]);
        assert_eq!(ex.validate(&r).map(|v| v.answers.len()).ok(), Some(3));
    }

    #[test]
    fn dname_elsewhere_is_foreign() {
        let ex = ex();
        for owner in [
            "example.org",
            "sub._acme-challenge.www.example.com",
            "badexample.com",
        ] {
            let d = rr(
                &wire_name(owner),
                TYPE_DNAME,
                CLASS_IN,
                300,
                &wire_name("example.net"),
            );
            let r = reply(&ex, 0, vec![d, txt_answer()], vec![], vec![]);
            assert_eq!(
                validate_err(&ex, &r),
                Some(ReplyError::ForeignRecord),
                "{owner}"
            );
        }
    }

    #[test]
    fn compressed_names_in_opaque_rdata_refused() {
        let ex = ex();
        // DNAME whose target is a pointer: cannot be re-encoded safely.
        let d = rr(
            &wire_name("example.com"),
            TYPE_DNAME,
            CLASS_IN,
            300,
            &[3, b'n', b'e', b't', 0xc0, 0x0c],
        );
        let r = reply(&ex, 0, vec![d], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
        // MB (7) at the question name, compressed vs plain.
        let mb = rr(&QNAME_PTR, 7, CLASS_IN, 300, &[0xc0, 0x0c]);
        let r = reply(&ex, 0, vec![mb], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
        let mb = rr(&QNAME_PTR, 7, CLASS_IN, 300, &wire_name("mail.example"));
        let r = reply(&ex, 0, vec![mb], vec![], vec![]);
        assert!(ex.validate(&r).is_ok());
        // MINFO (14) holds two names.
        let mut two = wire_name("a.example");
        two.extend(wire_name("b.example"));
        let minfo = rr(&QNAME_PTR, 14, CLASS_IN, 300, &two);
        let r = reply(&ex, 0, vec![minfo], vec![], vec![]);
        assert!(ex.validate(&r).is_ok());
        let minfo = rr(&QNAME_PTR, 14, CLASS_IN, 300, &wire_name("a.example"));
        let r = reply(&ex, 0, vec![minfo], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    }

    // ---- authority and additional --------------------------------------------------------

    #[test]
    fn authority_keeps_zone_soa_and_ns_only() {
        let ex = ex();
        let ns = vec![
            rr(
                &wire_name("example.com"),
                TYPE_SOA,
                CLASS_IN,
                300,
                &soa_rdata("example.com", 60),
            ),
            rr(
                &wire_name("Example.com"),
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns1.example.com"),
            ),
            rr(
                &wire_name("www.example.com"),
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns1.example.com"),
            ),
            // Not ancestors of the question name:
            rr(
                &wire_name("example.org"),
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns1.example.org"),
            ),
            rr(
                &wire_name("evil.example.com"),
                TYPE_SOA,
                CLASS_IN,
                300,
                &soa_rdata("evil.example.com", 1),
            ),
            rr(
                &wire_name("x._acme-challenge.www.example.com"),
                TYPE_NS,
                CLASS_IN,
                300,
                &wire_name("ns.x"),
            ),
            // Not SOA or NS:
            rr(
                &wire_name("example.com"),
                TYPE_NSEC,
                CLASS_IN,
                300,
                &[0, 0, 1, 0x40],
            ),
            rr(
                &wire_name("example.com"),
                TYPE_A,
                CLASS_IN,
                300,
                &[192, 0, 2, 1],
            ),
            // Wrong class:
            rr(
                &wire_name("example.com"),
                TYPE_NS,
                CLASS_CH,
                300,
                &wire_name("ns1.example.com"),
            ),
        ];
        let r = reply(&ex, 3, vec![], ns, vec![]);
        let kept: Vec<(String, RecordType)> = ex
            .validate(&r)
            .map(|v| {
                v.authorities
                    .iter()
                    .map(|r| (r.name.to_ascii().to_lowercase(), r.record_type()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            kept,
            vec![
                ("example.com.".to_string(), RecordType::SOA),
                ("example.com.".to_string(), RecordType::NS),
                ("www.example.com.".to_string(), RecordType::NS),
            ]
        );
    }

    #[test]
    fn authority_soa_above_cname_target_kept() {
        let ex = ex();
        let target = wire_name("token.acme-dns.example.net");
        let an = vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target)];
        let ns = vec![rr(
            &wire_name("acme-dns.example.net"),
            TYPE_SOA,
            CLASS_IN,
            300,
            &soa_rdata("acme-dns.example.net", 5),
        )];
        let r = reply(&ex, 3, an, ns, vec![]);
        assert_eq!(ex.validate(&r).map(|v| v.authorities.len()).ok(), Some(1));
    }

    #[test]
    fn record_types_hickory_refuses_in_answers_are_malformed() {
        let ex = ex();
        // OPT outside the additional section.
        let r = reply(&ex, 0, vec![opt(1232, false, &[])], vec![], vec![]);
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    }

    #[test]
    fn every_type_and_class_value_round_trips() {
        // The upstream question is rebuilt from hickory's parsed type and class: every u16 must
        // come back unchanged, or the byte-exact question check would reject honest replies.
        for v in 0..=u16::MAX {
            assert_eq!(u16::from(RecordType::from(v)), v);
            assert_eq!(u16::from(DNSClass::from(v)), v);
        }
    }

    #[test]
    fn config_and_exchange_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Config>();
        send_sync::<Exchange>();
    }

    #[test]
    fn errors_have_distinct_messages() {
        let q = [
            QueryError::Malformed,
            QueryError::NotAQuery,
            QueryError::UnsupportedOpcode,
            QueryError::QuestionCount,
        ];
        let r = [
            ReplyError::Truncated,
            ReplyError::Malformed,
            ReplyError::NotAResponse,
            ReplyError::IdMismatch,
            ReplyError::OpcodeMismatch,
            ReplyError::QuestionMismatch,
            ReplyError::ForeignRecord,
            ReplyError::UpstreamFailure,
        ];
        let mut msgs: Vec<&str> = q
            .iter()
            .map(QueryError::as_str)
            .chain(r.iter().map(ReplyError::as_str))
            .collect();
        let n = msgs.len();
        msgs.sort_unstable();
        msgs.dedup();
        assert_eq!(msgs.len(), n);
        assert_eq!(
            ReplyError::IdMismatch.to_string(),
            ReplyError::IdMismatch.as_str()
        );
    }
}
