//! Any bytes as a client query, over UDP and TCP, to every configuration of common.rs:
//! Exchange::new must accept or reject without panicking. An accepted query is then driven to its
//! end with every try timing out (failover, authoritative discovery, the send budget).
//!
//! Invariants: every query sent upstream or to the internal view parses with hickory-proto, has
//! exactly one question, and carries the ID and question the exchange checks the reply against;
//! the exchange ends within its send budget; a hairpin answer (IP targets) is a well-formed reply
//! to the client's question and never goes upstream; the FORMERR of a query refused as malformed
//! parses, with the query's ID and one question.
#![no_main]
mod common;

use std::sync::OnceLock;

use acmeforward::{Engine, Transport};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use libfuzzer_sys::fuzz_target;

static ENGINES: OnceLock<Vec<Engine>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    check_formerr(data);
    // Timeouts teach nothing, so the engines can be shared by every input.
    let engines = ENGINES.get_or_init(|| (0..common::CONFIGS).map(common::configured).collect());
    for engine in engines {
        for transport in [Transport::Udp, Transport::Tcp] {
            let mut session = common::Session::new(engine, 1);
            if !session.start(data, transport) {
                // Refusals depend on the bytes alone.
                return;
            }
            session.finish();
        }
    }
});

/// The FORMERR the core gives a query it refuses as malformed: a response with the query's ID,
/// RCODE FORMERR, one question and nothing else; or no reply at all.
fn check_formerr(query: &[u8]) {
    let mut out = Vec::new();
    if acmeforward::format_error_reply(query, &mut out).is_err() {
        assert!(out.is_empty(), "no reply, nothing written");
        return;
    }
    let msg = Message::from_vec(&out)
        .unwrap_or_else(|e| panic!("FORMERR does not parse: {e}: {out:02x?}"));
    assert_eq!(msg.metadata.message_type, MessageType::Response);
    assert_eq!(msg.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(&out[..2], &query[..2], "the query's ID");
    assert_eq!(msg.queries.len(), 1, "one question");
    assert!(msg.answers.is_empty() && msg.authorities.is_empty() && msg.edns.is_none());
    assert!(msg.additionals.is_empty());
}
