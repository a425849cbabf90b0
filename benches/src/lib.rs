//! Wire-format fixtures shared by the benchmarks: a client query and an upstream reply, built with
//! hickory-proto so the inputs do not depend on the code under test.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, NS, TXT};
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

/// The reply an upstream gives to `upstream_query` (an NS question): the same ID and question,
/// and one NS record per host, with `ttl`.
pub fn upstream_ns_reply(upstream_query: &[u8], hosts: &[&str], ttl: u32) -> Vec<u8> {
    let query = Message::from_vec(upstream_query).expect("upstream query parses");
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = true;
    reply.metadata.recursion_available = true;
    let question = query.queries[0].clone();
    let owner = question.name().clone();
    reply.add_query(question);
    for h in hosts {
        let host = Name::from_ascii(h).expect("fixture host");
        reply.add_answer(Record::from_rdata(owner.clone(), ttl, RData::NS(NS(host))));
    }
    reply.set_edns(Edns::new());
    reply.to_vec().expect("fixture reply encodes")
}

/// What a hickory-based forwarder does to build the upstream query for a client query: parse it,
/// make a new query with the same question (and EDNS0), encode it.
pub fn hickory_upstream_query(client_query: &[u8]) -> Vec<u8> {
    let q = Message::from_vec(client_query).expect("query parses");
    let mut out = Message::new(0x1234, MessageType::Query, OpCode::Query);
    out.metadata.recursion_desired = true;
    out.add_query(q.queries[0].clone());
    out.set_edns(Edns::new());
    out.to_vec().expect("encodes")
}

/// What a hickory-based forwarder does with an upstream reply: parse it, rebuild the client's
/// reply (its ID, its question, the answers with TTLs capped), encode it.
pub fn hickory_validate_and_rewrite(client_query: &[u8], reply: &[u8]) -> Vec<u8> {
    let q = Message::from_vec(client_query).expect("query parses");
    let r = Message::from_vec(reply).expect("reply parses");
    let mut out = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    out.metadata.recursion_desired = q.metadata.recursion_desired;
    out.metadata.recursion_available = r.metadata.recursion_available;
    out.add_query(q.queries[0].clone());
    for a in &r.answers {
        let mut a = a.clone();
        a.ttl = a.ttl.min(30);
        out.add_answer(a);
    }
    out.set_edns(Edns::new());
    out.to_vec().expect("encodes")
}

/// What a hickory-based server does to answer an A question from a table: parse it, answer one
/// A record under the question's name, encode it.
pub fn hickory_static_answer(client_query: &[u8], ip: std::net::Ipv4Addr) -> Vec<u8> {
    let q = Message::from_vec(client_query).expect("query parses");
    let mut out = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    out.metadata.recursion_desired = q.metadata.recursion_desired;
    out.metadata.recursion_available = true;
    let question = q.queries[0].clone();
    let owner = question.name().clone();
    out.add_query(question);
    out.add_answer(Record::from_rdata(owner, 30, RData::A(A(ip))));
    out.set_edns(Edns::new());
    out.to_vec().expect("encodes")
}
