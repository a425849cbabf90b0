//! Fixtures shared by the benchmarks: wire-format client queries and upstream replies, built with
//! hickory-proto so the inputs do not depend on the code under test, and engines in the states a
//! live server goes through (empty, prefetched, learned).

use acmeforward::{ConfigBuilder, Engine, Fact, Prefetch, PrefetchAction};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
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

/// A cluster name: what most of a cluster's questions look like.
pub const CLUSTER_NAME: &str = "api.payments.svc.cluster.local.";
/// A public name beside a listed zone (same last label as the zone).
pub const ZONE_NAME: &str = "www.internal.example.com.";
/// The challenge names, by kind: dns-01, dns-persist-01, dns-account-01.
pub const CHALLENGE_NAMES: [(&str, &str); 3] = [
    ("challenge", "_acme-challenge.www.example.com."),
    ("persist", "_validation-persist.www.example.com."),
    (
        "account",
        "_ujmmovf2vn55tgye._acme-challenge.www.example.com.",
    ),
];

/// Five listed zones, one upstream.
pub fn config() -> acmeforward::Config {
    let mut builder = ConfigBuilder::new();
    for zone in [
        "example.com",
        "example.net",
        "example.org",
        "example.io",
        "example.dev",
    ] {
        builder.zone(zone).expect("zone");
    }
    builder.upstream("127.0.0.1:5300").expect("upstream");
    builder.build().expect("config")
}

/// An engine whose prefetch found each zone's nameservers (two hosts per zone), driven through
/// the real `Prefetch` with replies built by hickory.
pub fn prefetched_engine() -> Engine {
    let engine = Engine::new(config());
    let mut prefetch = Prefetch::new(&engine, 7);
    for _ in 0..64 {
        let reply = match prefetch.poll(&engine, 0) {
            PrefetchAction::Send { query, .. } => {
                let q = Message::from_vec(query).expect("prefetch query");
                let zone = q.queries[0].name().to_ascii();
                let hosts = [format!("ns1.{zone}"), format!("ns2.{zone}")];
                let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
                upstream_ns_reply(query, &hosts, 3600)
            }
            // The internal view knows none of the hosts.
            PrefetchAction::Internal { query, .. } => {
                let mut reply = Message::from_vec(&upstream_ns_reply(query, &[], 0))
                    .expect("fixture reply parses");
                reply.metadata.response_code = ResponseCode::NXDomain;
                reply.to_vec().expect("fixture reply encodes")
            }
            PrefetchAction::Sleep { .. } => break,
        };
        prefetch
            .on_reply(&engine, &reply, 0)
            .expect("prefetch reply");
    }
    assert_eq!(
        engine.classify(b"ns1.example.com.", 1, 1, 0),
        acmeforward::Verdict::Forward,
        "prefetched"
    );
    engine
}

/// The prefetched engine after one CNAME'd challenge: `_acme-challenge.www.example.com` answered
/// with a CNAME to `x.auth.example.org`, so the target (any type) and its ancestors (SOA/NS) are
/// learned, as an exchange learns them with zones listed.
pub fn learned_engine() -> Engine {
    let engine = prefetched_engine();
    engine.learn(
        b"\x01x\x04auth\x07example\x03org\x00",
        Fact::CnameTarget,
        3600,
        0,
    );
    for ancestor in [
        &b"\x04auth\x07example\x03org\x00"[..],
        b"\x07example\x03org\x00",
    ] {
        engine.learn(ancestor, Fact::Ancestor, 3600, 0);
    }
    engine
}
