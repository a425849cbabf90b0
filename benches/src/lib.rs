//! Wire-format fixtures shared by the benchmarks: a client query and an upstream reply, built with
//! hickory-proto so the inputs do not depend on the code under test.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// A recursive client query for `name`/`qtype` with EDNS0, as a stub resolver sends it.
pub fn client_query(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut msg = Message::new(0x4242, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(
        Name::from_ascii(name).expect("fixture name"),
        qtype,
    ));
    msg.set_edns(Edns::new());
    msg.to_vec().expect("fixture query encodes")
}

/// The reply an upstream gives to `upstream_query`: the same header ID and question bytes, QR set,
/// and one TXT answer with `ttl`.
pub fn upstream_txt_reply(upstream_query: &[u8], token: &str, ttl: u32) -> Vec<u8> {
    let query = Message::from_vec(upstream_query).expect("upstream query parses");
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = true;
    reply.metadata.recursion_available = true;
    let question = query.queries[0].clone();
    let owner = question.name().clone();
    reply.add_query(question);
    reply.add_answer(Record::from_rdata(
        owner,
        ttl,
        RData::TXT(TXT::new(vec![token.to_owned()])),
    ));
    reply.set_edns(Edns::new());
    reply.to_vec().expect("fixture reply encodes")
}
