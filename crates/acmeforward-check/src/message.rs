//! The DNS messages of one lookup, without I/O: the query for a [`Question`] (recursion
//! desired, EDNS0 with acmeforward's upstream payload), whether a response answers it, and the
//! [`Reply`] read from it.

use acmeforward::UPSTREAM_UDP_PAYLOAD;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query as HickoryQuery};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::model::{Question, Record, Reply};

/// One query: its ID, its bytes, and what a response must echo.
#[derive(Debug, Clone)]
pub struct Query {
    id: u16,
    question: Question,
    bytes: Vec<u8>,
}

impl Query {
    /// The query for `q` under `id`; an error says why the question cannot be put on the wire.
    pub fn new(id: u16, q: &Question) -> Result<Query, String> {
        let name = Name::from_ascii(&q.name).map_err(|e| e.to_string())?;
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(HickoryQuery::query(name, RecordType::from(q.qtype.code())));
        let mut edns = Edns::new();
        edns.set_max_payload(UPSTREAM_UDP_PAYLOAD);
        m.set_edns(edns);
        let bytes = m.to_vec().map_err(|e| e.to_string())?;
        Ok(Query {
            id,
            question: q.clone(),
            bytes,
        })
    }

    /// The message on the wire.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether `m` is the response to this query: our ID and our question (name compared ASCII
    /// case-insensitively).
    pub fn answered_by(&self, m: &Message) -> bool {
        m.metadata.id == self.id
            && m.metadata.message_type == MessageType::Response
            && m.queries.len() == 1
            && m.queries[0].query_type == RecordType::from(self.question.qtype.code())
            && m.queries[0]
                .name
                .to_ascii()
                .eq_ignore_ascii_case(&self.question.name)
    }
}

/// The response in the library's terms: RCODE and the answer section, TXT strings joined.
pub fn reply(m: &Message) -> Reply {
    let records = m
        .answers
        .iter()
        .map(|r| {
            let data = match &r.data {
                RData::TXT(txt) => txt
                    .txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
                other => other.to_string(),
            };
            Record::new(&r.name.to_ascii(), &r.record_type().to_string(), &data)
        })
        .collect();
    Reply::Answer {
        rcode: u16::from(m.metadata.response_code),
        records,
    }
}
