//! The checks on a reply to a query an exchange sent, and the parts of it that go on. A reply
//! that fails any check is not used; one that is no reply to the query at all (too short, QR
//! clear, another ID, opcode or question) is told apart, so that over UDP the true reply may
//! still come. Of a reply that passes, only what was asked goes on: the CNAME chain and the
//! question's type at its end, and the SOA, NS and glue around them.

use core::fmt;
use std::collections::HashSet;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::wire::{
    FLAG_QR, FLAG_TC, HEADER_LEN, MAX_LABEL_LEN, MAX_UPSTREAM_UDP_REPLY, OPCODE_MASK, TYPE_DNAME,
    Transport,
};

/// Longest CNAME chain followed in a reply (links, not counting the question name).
pub const MAX_CNAME_CHAIN: usize = 32;

/// What a reply is checked against: the query that was sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent<'a> {
    /// The query's ID.
    pub(crate) id: u16,
    /// The query's question section, byte for byte (0x20 case included).
    pub(crate) question: &'a [u8],
    /// How the query went: a UDP reply too big for any payload taken is treated as truncated.
    pub(crate) transport: Transport,
    /// Sent to a zone's nameserver: the reply must have AA set.
    pub(crate) authoritative: bool,
    /// The query had the DO bit (the client's): the answer may keep its RRSIGs.
    pub(crate) dnssec_ok: bool,
}

/// All checks on a reply to the query `p`; returns the parts that go on.
pub(crate) fn validate(reply: &[u8], p: &Sent<'_>) -> Result<Validated, ReplyError> {
    // Too short to carry an ID: nothing says it is a reply to this query.
    let header: [u8; HEADER_LEN] = reply
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(ReplyError::NotAResponse)?;
    let [id_hi, id_lo, flags1, _flags2, qd_hi, qd_lo, ..] = header;
    if flags1 & FLAG_QR == 0 {
        return Err(ReplyError::NotAResponse);
    }
    if u16::from_be_bytes([id_hi, id_lo]) != p.id {
        return Err(ReplyError::IdMismatch);
    }
    if flags1 & OPCODE_MASK != 0 {
        return Err(ReplyError::OpcodeMismatch);
    }
    if u16::from_be_bytes([qd_hi, qd_lo]) != 1 {
        return Err(ReplyError::QuestionMismatch);
    }
    let question = p.question;
    if reply.get(HEADER_LEN..HEADER_LEN + question.len()) != Some(question) {
        return Err(ReplyError::QuestionMismatch);
    }
    // A truncated reply may be cut anywhere: check TC before parsing the records. A UDP
    // reply larger than any UDP payload we take is treated alike: retried over TCP.
    if flags1 & FLAG_TC != 0
        || (p.transport == Transport::Udp && reply.len() > usize::from(MAX_UPSTREAM_UDP_REPLY))
    {
        return Err(ReplyError::Truncated);
    }

    let msg = Message::from_vec(reply).map_err(|_| ReplyError::Malformed)?;
    let Message {
        metadata,
        queries,
        answers,
        authorities,
        additionals,
        ..
    } = msg;
    match metadata.response_code {
        // YXDOMAIN: a DNAME substitution made a name that is too long (RFC 6672 §2.2).
        ResponseCode::NoError | ResponseCode::NXDomain | ResponseCode::YXDomain => {}
        _ => return Err(ReplyError::UpstreamFailure),
    }
    if p.authoritative && !metadata.authoritative {
        return Err(ReplyError::NotAuthoritative);
    }
    let (asked, qtype, qclass) = match queries.first() {
        Some(q) => (q.name(), q.query_type(), q.query_class()),
        None => return Err(ReplyError::QuestionMismatch),
    };

    let chain = cname_chain(asked, &answers)?;
    for record in &answers {
        if record.dns_class != qclass {
            return Err(ReplyError::ForeignRecord);
        }
        if !chain.holds(record) && !chain.dname_above(record) {
            return Err(ReplyError::ForeignRecord);
        }
        if !names_in_rdata_uncompressed(record) {
            return Err(ReplyError::Malformed);
        }
    }
    // The end of the chain is the name NXDOMAIN says does not exist (RFC 6604): a record of it
    // (a DNAME, owned above the names it rewrites, and signatures aside) contradicts the rcode,
    // and no answer can be made of the two.
    if metadata.response_code == ResponseCode::NXDomain
        && let Some(end) = chain.end()
        && answers.iter().any(|r| {
            r.name == *end && !matches!(r.record_type(), RecordType::DNAME | RecordType::RRSIG)
        })
    {
        return Err(ReplyError::NxdomainWithData);
    }
    let kept = answer_section(&answers, &chain, asked, qtype, p.dnssec_ok);

    // Authority: only the SOA / NS of the zone (cut) the chain names are in; the rest is
    // dropped.
    let authorities: Vec<Record> = authorities
        .into_iter()
        .filter(|r| {
            matches!(r.record_type(), RecordType::SOA | RecordType::NS)
                && r.dns_class == qclass
                && chain.names.iter().any(|n| r.name.zone_of(n))
        })
        .collect();
    drop(chain);
    let answers: Vec<Record> = answers
        .into_iter()
        .zip(kept)
        .filter_map(|(r, keep)| keep.then_some(r))
        .collect();

    // Additional: only glue, the A/AAAA of the NS targets kept above.
    let targets: Vec<&Name> = answers
        .iter()
        .chain(&authorities)
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(&ns.0),
            _ => None,
        })
        .collect();
    let additionals: Vec<Record> = if targets.is_empty() {
        Vec::new()
    } else {
        additionals
            .into_iter()
            .filter(|r| {
                matches!(r.data, RData::A(_) | RData::AAAA(_))
                    && r.dns_class == qclass
                    && targets.iter().any(|t| **t == r.name)
            })
            .collect()
    };
    drop(targets);

    Ok(Validated {
        authoritative: metadata.authoritative,
        recursion_available: metadata.recursion_available,
        authentic_data: metadata.authentic_data,
        response_code: metadata.response_code,
        answers,
        authorities,
        additionals,
    })
}

/// The question name and the names its CNAMEs lead to within an answer section.
struct Chain<'a> {
    /// The question name first, then each CNAME target, each name once.
    names: Vec<&'a Name>,
    /// The last CNAME leads back onto the chain: a loop, with no end.
    looped: bool,
}

impl Chain<'_> {
    /// The name the chain ends at, the one the rcode speaks of (none for a loop).
    fn end(&self) -> Option<&Name> {
        if self.looped {
            None
        } else {
            self.names.last().copied()
        }
    }

    /// Whether `record` is owned by a name on the chain.
    fn holds(&self, record: &Record) -> bool {
        self.names.iter().any(|n| **n == record.name)
    }

    /// Whether `record` is a DNAME on a strict ancestor of a chain name: it rewrites that name,
    /// and the synthesized CNAME follows it.
    fn dname_above(&self, record: &Record) -> bool {
        record.record_type() == RecordType::DNAME
            && self
                .names
                .iter()
                .any(|n| **n != record.name && record.name.zone_of(n))
    }

    /// Whether `record` is a CNAME of the chain: from a chain name to a chain name.
    fn link(&self, record: &Record) -> bool {
        match &record.data {
            RData::CNAME(target) => self.holds(record) && self.names.contains(&&target.0),
            _ => false,
        }
    }
}

/// Follows the CNAMEs from the question name through `answers`, one CNAME per name, wherever
/// the records sit; it stops at a name without a CNAME, or at one back onto the chain (a loop:
/// passed on as the upstream gave it, for the client to see). Longer than [`MAX_CNAME_CHAIN`]
/// links: refused.
fn cname_chain<'a>(asked: &'a Name, answers: &'a [Record]) -> Result<Chain<'a>, ReplyError> {
    let mut chain = Chain {
        names: vec![asked],
        looped: false,
    };
    let mut current = asked;
    while let Some(target) = answers.iter().find_map(|r| match &r.data {
        RData::CNAME(t) if r.name == *current => Some(&t.0),
        _ => None,
    }) {
        if chain.names.contains(&target) {
            chain.looped = true;
            break;
        }
        if chain.names.len() > MAX_CNAME_CHAIN {
            return Err(ReplyError::ForeignRecord);
        }
        chain.names.push(target);
        current = target;
    }
    Ok(chain)
}

/// Which records of `answers` make the answer section the client gets: the chain's CNAMEs and
/// DNAMEs and the records of the question's type at the chain's end (of every type for ANY; for
/// a CNAME question, the question name's CNAME alone), with their signatures when the query had
/// DO. Every other record an upstream added (another type, the question's type on a name inside
/// the chain, an RRSIG nobody asked for) is dropped, as resolvers drop what they were not asked.
fn answer_section(
    answers: &[Record],
    chain: &Chain<'_>,
    asked: &Name,
    qtype: RecordType,
    dnssec_ok: bool,
) -> Vec<bool> {
    let end = chain.end();
    let asked_data = |r: &Record| {
        let rtype = r.record_type();
        if chain.dname_above(r) {
            return true;
        }
        if qtype == RecordType::CNAME {
            return rtype == RecordType::CNAME && r.name == *asked;
        }
        if chain.link(r) {
            return true;
        }
        end.is_some_and(|end| r.name == *end)
            && rtype != RecordType::CNAME
            && (rtype == qtype || (qtype == RecordType::ANY && rtype != RecordType::RRSIG))
    };
    let mut kept: Vec<bool> = answers.iter().map(asked_data).collect();
    if dnssec_ok {
        // A signature stays with the records it signs (same owner, its type covered). A set,
        // so that a reply of many records and signatures costs one pass over each.
        let signed: HashSet<(&Name, RecordType)> = answers
            .iter()
            .zip(&kept)
            .filter(|&(_, &k)| k)
            .map(|(r, _)| (&r.name, r.record_type()))
            .collect();
        for (r, k) in answers.iter().zip(kept.iter_mut()) {
            *k = *k
                || rrsig_type_covered(r)
                    .is_some_and(|covered| signed.contains(&(&r.name, covered)));
        }
    }
    kept
}

/// The type an RRSIG record covers: the first field of its data (RFC 4034 §3.1), which hickory
/// (without its DNSSEC feature) keeps as opaque bytes.
fn rrsig_type_covered(record: &Record) -> Option<RecordType> {
    match &record.data {
        RData::Unknown { code, rdata } if *code == RecordType::RRSIG => match rdata.anything[..] {
            [hi, lo, ..] => Some(RecordType::from(u16::from_be_bytes([hi, lo]))),
            _ => None,
        },
        _ => None,
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
        TYPE_DNAME => Some(1),
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
            if usize::from(len) > MAX_LABEL_LEN {
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

/// The parts of a validated reply that go on (to the client, or to the next discovery step).
#[derive(Debug, Clone)]
pub(crate) struct Validated {
    pub(crate) authoritative: bool,
    pub(crate) recursion_available: bool,
    pub(crate) authentic_data: bool,
    pub(crate) response_code: ResponseCode,
    pub(crate) answers: Vec<Record>,
    pub(crate) authorities: Vec<Record>,
    /// Glue: A/AAAA of the NS targets in `answers` and `authorities`.
    pub(crate) additionals: Vec<Record>,
}

/// Why a reply was not used. The exchange has already moved on (to the next server; for
/// [`ReplyError::Truncated`] over UDP, to the same server over TCP).
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
    /// NXDOMAIN with a record (other than a DNAME) of the name it says does not exist: the end
    /// of the CNAME chain, or the question name itself.
    NxdomainWithData,
    /// SERVFAIL, REFUSED, NOTIMP, FORMERR (or another rcode unusable for an answer) from upstream.
    UpstreamFailure,
    /// Authoritative mode: the nameserver's reply does not have the AA bit set.
    NotAuthoritative,
    /// [`crate::Exchange::on_reply`] when the exchange was not waiting for a reply: nothing changed.
    ExchangeDone,
    /// The reply came at or after its try's deadline: dropped; the exchange moved on as for
    /// a timeout.
    Late,
}

impl ReplyError {
    /// Whether the message is no reply to the query at all (too short, QR clear, another ID,
    /// opcode or question): forged, stale or stray. Over UDP such a message leaves the
    /// exchange waiting for the true reply until the try's deadline; any other error ends the
    /// try.
    pub fn is_unsolicited(&self) -> bool {
        matches!(
            self,
            ReplyError::NotAResponse
                | ReplyError::IdMismatch
                | ReplyError::OpcodeMismatch
                | ReplyError::QuestionMismatch
        )
    }

    /// A static, operator-readable description (the FFI hands it out as is).
    pub fn as_str(&self) -> &'static str {
        match self {
            ReplyError::Truncated => "upstream reply truncated (TC set): retry over TCP",
            ReplyError::Malformed => "upstream reply is not a well-formed DNS message",
            ReplyError::NotAResponse => {
                "upstream reply is not a response (QR clear, or too short for a header)"
            }
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
            ReplyError::NxdomainWithData => {
                "upstream reply is NXDOMAIN but has records of the name it says does not exist"
            }
            ReplyError::UpstreamFailure => {
                "upstream failed (SERVFAIL, REFUSED, NOTIMP or FORMERR): trying the next upstream"
            }
            ReplyError::NotAuthoritative => {
                "nameserver reply is not authoritative (AA clear): trying the next nameserver"
            }
            ReplyError::ExchangeDone => "the exchange is not waiting for a reply",
            ReplyError::Late => "upstream reply came after the try's deadline: dropped",
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
#[path = "validate_tests.rs"]
mod tests;
