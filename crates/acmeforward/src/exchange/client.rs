//! The client's side of an exchange: what is kept of the client's query (the question, the
//! flags its reply echoes, how big the reply may be), parsed once with the header checks.

use core::fmt;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

use crate::wire::name::name_wire;
use crate::wire::{FLAG_CD, FLAG_QR, FLAG_RD, HEADER_LEN, MIN_UDP_PAYLOAD, OPCODE_MASK, Transport};

/// What an exchange keeps of the client's query.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    /// The query's ID (and the reply's).
    pub(crate) id: u16,
    /// The question name, exact case.
    pub(crate) name: Name,
    /// The question name, lower-cased wire form.
    pub(crate) wire: Vec<u8>,
    pub(crate) qtype: RecordType,
    pub(crate) qclass: DNSClass,
    pub(crate) rd: bool,
    pub(crate) cd: bool,
    pub(crate) ad: bool,
    /// `Some(dnssec_ok)` when the query had an OPT record.
    pub(crate) edns: Option<bool>,
    /// The largest UDP reply the client accepts: its EDNS0 size (at least 512), 512 without.
    pub(crate) udp_size: u16,
    /// How the query came, and so how the reply goes back.
    pub(crate) transport: Transport,
}

impl Client {
    /// Parses a client's query: one question, opcode QUERY, QR clear. The header checks come
    /// first, on the raw bytes, so that they give the specific error even when the rest of the
    /// message would not parse.
    pub(crate) fn parse(query: &[u8], transport: Transport) -> Result<Client, QueryError> {
        check_header(query)?;
        let msg = Message::from_vec(query).map_err(|_| QueryError::Malformed)?;
        let md = &msg.metadata;
        if md.message_type != MessageType::Query || md.op_code != OpCode::Query {
            // Already checked on the raw header; kept so the parsed view agrees.
            return Err(QueryError::Malformed);
        }
        let question = match msg.queries.as_slice() {
            [q] => q,
            _ => return Err(QueryError::QuestionCount),
        };
        Ok(Client {
            id: md.id,
            name: question.name().clone(),
            wire: name_wire(question.name()),
            qtype: question.query_type(),
            qclass: question.query_class(),
            rd: md.recursion_desired,
            cd: md.checking_disabled,
            ad: md.authentic_data,
            edns: msg.edns.as_ref().map(|e| e.flags().dnssec_ok),
            udp_size: match &msg.edns {
                // As CoreDNS's own replies: whatever the client takes (its `bufsize` plugin
                // lowers the query's size, before this plugin, to cap it).
                Some(e) => e.max_payload().max(MIN_UDP_PAYLOAD),
                None => MIN_UDP_PAYLOAD,
            },
            transport,
        })
    }

    /// The client of the engine's own lookups: `name` (lower-cased wire form) and `qtype`,
    /// class IN, RD, no EDNS0, over UDP.
    pub(crate) fn lookup(name: Name, wire: Vec<u8>, qtype: RecordType) -> Client {
        Client {
            id: 0,
            name,
            wire,
            qtype,
            qclass: DNSClass::IN,
            rd: true,
            cd: false,
            ad: false,
            edns: None,
            udp_size: MIN_UDP_PAYLOAD,
            transport: Transport::Udp,
        }
    }

    /// Whether one exchange answers both clients: the same name (ASCII case-insensitive), type
    /// and class, and the same DO and CD bits, the two flags that change what the upstream
    /// sends (signatures; unvalidated data). ID, letter case, RD, AD, the EDNS0 size and the
    /// transport are each client's own and only shape its reply.
    pub(crate) fn asks_as(&self, other: &Client) -> bool {
        self.wire == other.wire
            && self.qtype == other.qtype
            && self.qclass == other.qclass
            && self.cd == other.cd
            && self.dnssec_ok() == other.dnssec_ok()
    }

    /// The DO bit of the query (clear without EDNS0).
    pub(crate) fn dnssec_ok(&self) -> bool {
        self.edns == Some(true)
    }
}

/// The header checks of a client query, on the raw bytes: QR clear, opcode QUERY, one question.
/// Returns the header.
fn check_header(query: &[u8]) -> Result<[u8; HEADER_LEN], QueryError> {
    let header: [u8; HEADER_LEN] = query
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
    Ok(header)
}

/// The reply to a client query that [`crate::Exchange::new`] refused as
/// [`QueryError::Malformed`]: FORMERR, as RFC 6891 §6.1.1 asks for a query with two OPT
/// records, and as servers answer an OPT record off the root name or outside the additional
/// section. It has the query's ID, RD and CD bits and question (as asked), no records and no
/// OPT (the query's own may be what is wrong). Written into `out`, which is cleared first.
///
/// `Err` when no reply can be made: the header or the question does not parse, or the message
/// is a response (never answered), has another opcode or not exactly one question (the error
/// [`crate::Exchange::new`] gives); `out` is then empty. The rest of the query is not read.
pub fn format_error_reply(query: &[u8], out: &mut Vec<u8>) -> Result<(), QueryError> {
    out.clear();
    let [id_hi, id_lo, flags1, flags2, ..] = check_header(query)?;
    let mut decoder = BinDecoder::new(query);
    let question = decoder
        .read_slice(HEADER_LEN)
        .ok()
        .and_then(|_| Query::read(&mut decoder).ok())
        .ok_or(QueryError::Malformed)?;
    let mut msg = Message::response(u16::from_be_bytes([id_hi, id_lo]), OpCode::Query);
    msg.metadata.response_code = ResponseCode::FormErr;
    msg.metadata.recursion_desired = flags1 & FLAG_RD != 0;
    msg.metadata.checking_disabled = flags2 & FLAG_CD != 0;
    msg.queries.push(question);
    if msg.emit(&mut BinEncoder::new(out)).is_err() {
        // A header and one question that just parsed always encode.
        out.clear();
        return Err(QueryError::Malformed);
    }
    Ok(())
}

/// Why the client's query could not be forwarded. Fieldless: each is one C result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueryError {
    /// The query does not parse as a DNS message ([`format_error_reply`] gives its FORMERR).
    Malformed,
    /// The message is a response (QR set), not a query.
    NotAQuery,
    /// The opcode is not QUERY.
    UnsupportedOpcode,
    /// The query does not have exactly one question.
    QuestionCount,
    /// [`crate::Exchange::classified`]: the query does not ask the question classified, or the
    /// verdict was [`crate::Verdict::Pass`].
    NotClassified,
}

impl QueryError {
    /// A static, operator-readable description (the FFI hands it out as is).
    pub fn as_str(&self) -> &'static str {
        match self {
            QueryError::Malformed => "client query is not a well-formed DNS message",
            QueryError::NotAQuery => "client message is a response (QR set), not a query",
            QueryError::UnsupportedOpcode => "client query opcode is not QUERY",
            QueryError::QuestionCount => "client query must have exactly one question",
            QueryError::NotClassified => {
                "client query is not the question classified, or was classified PASS"
            }
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for QueryError {}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
