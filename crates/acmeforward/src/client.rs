//! The client's side of an exchange: what is kept of the client's query (the question, the
//! flags its reply echoes, how big the reply may be), and the sharing of one exchange's answer
//! with other clients who asked the same question while it was in flight.

use core::fmt;

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::exchange::{Exchange, QueryError, name_wire};
use crate::rewrite;
use crate::wire::{
    FLAG_QR, HEADER_LEN, MAX_CLIENT_UDP_PAYLOAD, MIN_UDP_PAYLOAD, OPCODE_MASK, Transport,
};

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
    /// The largest UDP reply the client accepts (512 without EDNS0, clamped to 512..=4096).
    pub(crate) udp_size: u16,
    /// How the query came, and so how the reply goes back.
    pub(crate) transport: Transport,
}

impl Client {
    /// Parses a client's query: one question, opcode QUERY, QR clear. The header checks come
    /// first, on the raw bytes, so that they give the specific error even when the rest of the
    /// message would not parse.
    pub(crate) fn parse(query: &[u8], transport: Transport) -> Result<Client, QueryError> {
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
                Some(e) => e
                    .max_payload()
                    .clamp(MIN_UDP_PAYLOAD, MAX_CLIENT_UDP_PAYLOAD),
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

/// Why [`Exchange::answer_for`] gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShareError {
    /// The other client's query is not one an exchange could take.
    Query(QueryError),
    /// The other client asks another question: name, type, class, DO or CD differ.
    OtherQuestion,
    /// The exchange has no answer to share: it is still running, or it failed.
    NotAnswered,
}

impl ShareError {
    /// A static, operator-readable description (the FFI hands it out as is).
    pub fn as_str(&self) -> &'static str {
        match self {
            ShareError::Query(e) => e.as_str(),
            ShareError::OtherQuestion => {
                "the query asks another question than the exchange's (name, type, class, DO or CD)"
            }
            ShareError::NotAnswered => "the exchange has no answer to share",
        }
    }
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ShareError {}

impl From<QueryError> for ShareError {
    fn from(e: QueryError) -> Self {
        ShareError::Query(e)
    }
}

impl Exchange {
    /// The answer of this exchange for another client that asked the same question while it
    /// was in flight (see [`Exchange::new`] for `query` and `client`), into `out` (cleared
    /// first): rebuilt from the same validated records with that client's ID, letter case, RD
    /// and EDNS0, cut to its own size. One upstream exchange then serves every identical
    /// question in flight at once. Only once [`Exchange::poll`] says [`Action::Answer`]; takes
    /// `&self`, so several threads may call it at once.
    ///
    /// [`Action::Answer`]: crate::Action::Answer
    pub fn answer_for(
        &self,
        query: &[u8],
        client: Transport,
        out: &mut Vec<u8>,
    ) -> Result<(), ShareError> {
        let other = Client::parse(query, client)?;
        let Some(valid) = self.answered() else {
            return Err(ShareError::NotAnswered);
        };
        if !self.client.asks_as(&other) {
            return Err(ShareError::OtherQuestion);
        }
        out.clear();
        // The leader's reply was built from the same records, so this fails only where the
        // leader's would have; it then shares nothing.
        rewrite::client_reply(&other, self.max_ttl, valid, out).map_err(|_| ShareError::NotAnswered)
    }
}
