//! The DNS messages of one lookup, without I/O: the query for a [`Question`] (recursion
//! desired, EDNS0 with acmeforward's upstream payload), whether a response answers it, and the
//! [`Reply`] read from it.

use acmeforward::UPSTREAM_UDP_PAYLOAD;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query as HickoryQuery};
use hickory_proto::rr::rdata::{CNAME, NS, PTR};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::model::{Question, Record, Reply};
use crate::name::{labels, presentation};

/// One query: its ID, its bytes, and what a response must echo.
#[derive(Debug, Clone)]
pub struct Query {
    id: u16,
    name: Name,
    qtype: RecordType,
    bytes: Vec<u8>,
}

impl Query {
    /// The query for `q` under `id`: the name's label octets as they are, whatever they hold.
    /// An error says why the question cannot be put on the wire (every name the check reads
    /// from a reply, and every NAME it accepts, can be).
    pub fn new(id: u16, q: &Question) -> Result<Query, String> {
        let cannot = |e: &dyn std::fmt::Display| format!("cannot ask {q}: {e}");
        let name =
            Name::from_labels(labels(&q.name).map_err(|e| cannot(&e))?).map_err(|e| cannot(&e))?;
        let qtype = RecordType::from(q.qtype.code());
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(HickoryQuery::query(name.clone(), qtype));
        let mut edns = Edns::new();
        edns.set_max_payload(UPSTREAM_UDP_PAYLOAD);
        m.set_edns(edns);
        let bytes = m.to_vec().map_err(|e| cannot(&e))?;
        Ok(Query {
            id,
            name,
            qtype,
            bytes,
        })
    }

    /// The message on the wire.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether `m` is the response to this query: our ID and our question (the name's octets
    /// compared ASCII case-insensitively).
    pub fn answered_by(&self, m: &Message) -> bool {
        m.metadata.id == self.id
            && m.metadata.message_type == MessageType::Response
            && m.queries.len() == 1
            && m.queries[0].query_type == self.qtype
            && m.queries[0].name == self.name
    }
}

/// The response in the library's terms: RCODE and the answer section, TXT strings joined, the
/// names of owners and of CNAME, NS, PTR and SOA data in the check's form ([`crate::name`]).
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
                RData::CNAME(CNAME(n)) | RData::NS(NS(n)) | RData::PTR(PTR(n)) => text(n),
                RData::SOA(soa) => format!(
                    "{} {} {} {} {} {} {}",
                    text(&soa.mname),
                    text(&soa.rname),
                    soa.serial,
                    soa.refresh,
                    soa.retry,
                    soa.expire,
                    soa.minimum
                ),
                other => other.to_string(),
            };
            Record::new(&text(&r.name), &r.record_type().to_string(), &data)
        })
        .collect();
    Reply::Answer {
        rcode: u16::from(m.metadata.response_code),
        records,
    }
}

fn text(n: &Name) -> String {
    presentation(n.iter())
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::Record as HickoryRecord;
    use hickory_proto::rr::rdata::SOA;

    use super::*;
    use crate::model::QType;

    /// A name from raw label octets, as a message carries it.
    fn wire_name(labels: &[&[u8]]) -> Name {
        Name::from_labels(labels.iter().copied()).expect("test name")
    }

    /// The response to `q` with these answers.
    fn response(query: &Query, answers: Vec<HickoryRecord>) -> Message {
        let sent = Message::from_vec(query.bytes()).expect("our query parses");
        let mut m = Message::new(sent.metadata.id, MessageType::Response, OpCode::Query);
        m.metadata.response_code = ResponseCode::NoError;
        m.add_queries(sent.queries.clone());
        m.add_answers(answers);
        m
    }

    fn asked_labels(query: &Query) -> Vec<Vec<u8>> {
        let sent = Message::from_vec(query.bytes()).expect("our query parses");
        sent.queries[0].name.iter().map(<[u8]>::to_vec).collect()
    }

    /// A CNAME target with a space, `/`, `*`, `"`, `\` and non-ASCII octets in a label: the
    /// reply reads it as dig prints it, and the next question asks those very octets.
    #[test]
    fn an_escaped_cname_target_is_read_and_asked_with_its_octets() {
        let challenge = Question::new("_acme-challenge.www.example.com", QType::Cname);
        let query = Query::new(7, &challenge).expect("challenge query");
        let label: &[u8] = b"A b/*\"\\\xc3\xa9";
        let target = wire_name(&[label, b"auth", b"example", b"net"]);
        let m = response(
            &query,
            vec![HickoryRecord::from_rdata(
                Name::from_ascii("_acme-challenge.www.example.com.").expect("owner"),
                60,
                RData::CNAME(CNAME(target)),
            )],
        );
        assert!(query.answered_by(&m));
        let r = reply(&m);
        let data = &r.answer()[0].data;
        assert_eq!(data, "a\\032b/*\\\"\\\\\\195\\169.auth.example.net.");
        let next = Query::new(8, &Question::new(data, QType::Txt)).expect("target query");
        assert_eq!(
            asked_labels(&next),
            [&b"a b/*\"\\\xc3\xa9"[..], b"auth", b"example", b"net"]
        );
        let echoed = response(&next, Vec::new());
        assert!(next.answered_by(&echoed));
    }

    /// Every octet survives the trip from a reply's name to the next question (ASCII letters in
    /// lower case: names compare case-insensitively).
    #[test]
    fn every_octet_round_trips() {
        for b in 0..=255u8 {
            let query = Query::new(1, &Question::new("example.com", QType::Ns)).expect("query");
            let host = wire_name(&[&[b'x', b, b'y'], b"example", b"com"]);
            let m = response(
                &query,
                vec![HickoryRecord::from_rdata(
                    Name::from_ascii("example.com.").expect("owner"),
                    60,
                    RData::NS(NS(host)),
                )],
            );
            let r = reply(&m);
            let data = &r.answer()[0].data;
            let next = Query::new(2, &Question::new(data, QType::A))
                .unwrap_or_else(|e| panic!("octet {b}: {data}: {e}"));
            assert_eq!(
                asked_labels(&next)[0],
                [b'x', b.to_ascii_lowercase(), b'y'],
                "octet {b}: {data}"
            );
        }
    }

    /// Owners and the names in SOA data print with decimal escapes, as dig prints them.
    #[test]
    fn names_in_owners_and_soa_data_print_as_dig_prints_them() {
        let query = Query::new(3, &Question::new("ex\\032ample.com", QType::Soa)).expect("query");
        let apex = wire_name(&[b"ex ample", b"com"]);
        let soa = SOA::new(
            wire_name(&[b"ns(1)", b"com"]),
            wire_name(&[b"host.master", b"com"]),
            1,
            2,
            3,
            4,
            5,
        );
        let m = response(
            &query,
            vec![HickoryRecord::from_rdata(apex, 60, RData::SOA(soa))],
        );
        let r = reply(&m);
        assert_eq!(r.answer()[0].owner, "ex\\032ample.com.");
        assert_eq!(
            r.answer()[0].data,
            "ns\\(1\\).com. host\\.master.com. 1 2 3 4 5"
        );
    }
}
