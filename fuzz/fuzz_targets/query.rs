//! Any bytes as a client query, over UDP and TCP, to every configuration of common.rs:
//! Exchange::new must accept or reject without panicking. An accepted query is then driven to its
//! end with every try timing out (failover, authoritative discovery, the send budget).
//!
//! Invariants: every query sent upstream or to the internal view parses with hickory-proto, has
//! exactly one question, and carries the ID and question the exchange checks the reply against;
//! the exchange ends within its send budget; a hairpin answer (IP targets) is a well-formed reply
//! to the client's question and never goes upstream.
#![no_main]
mod common;

use std::sync::OnceLock;

use acmeforward::{Engine, Transport};
use libfuzzer_sys::fuzz_target;

static ENGINES: OnceLock<Vec<Engine>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
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
