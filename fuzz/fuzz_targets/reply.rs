//! Any bytes as the upstream reply to a fixed challenge query. The exchanges use a fixed seed, so
//! the upstream question bytes are fixed and the fuzzer can learn them; the input's ID is set to
//! the upstream ID so that the fuzzer reaches the section and record checks. on_reply must not
//! panic, and what it accepts must itself parse as a response to the client's query. The same
//! bytes also go to an authoritative-mode exchange (its first step, the SOA sub-query).
#![no_main]
mod common;

use std::sync::OnceLock;

use acmeforward::{Action, Engine, Exchange, Transport};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    engine: Engine,
    authoritative: Engine,
    exchanges: Vec<Exchange>,
    soa: Exchange,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

// _acme-challenge.www.example.com TXT, ID 0x4242, RD, no EDNS.
const CLIENT_QUERY: &[u8] = b"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
\x0f_acme-challenge\x03www\x07example\x03com\x00\x00\x10\x00\x01";

fuzz_target!(|data: &[u8]| {
    let fixture = FIXTURE.get_or_init(|| {
        let engine = common::engine();
        let authoritative = common::authoritative_engine();
        let exchanges = [Transport::Udp, Transport::Tcp]
            .map(|t| Exchange::new(&engine, CLIENT_QUERY, t, 0x5eed, 0).expect("fixture query"))
            .to_vec();
        let soa = Exchange::new(&authoritative, CLIENT_QUERY, Transport::Udp, 0x5eed, 0)
            .expect("fixture query");
        Fixture {
            engine,
            authoritative,
            exchanges,
            soa,
        }
    });
    for exchange in &fixture.exchanges {
        let mut exchange = exchange.clone();
        let mut reply = data.to_vec();
        if reply.len() >= 2 {
            reply[..2].copy_from_slice(&exchange.upstream_id().to_be_bytes());
        }
        if exchange.on_reply(&fixture.engine, &reply, 1).is_ok() {
            let Action::Answer(out) = exchange.poll() else {
                panic!("an accepted reply answers");
            };
            assert_eq!(&out[..2], &CLIENT_QUERY[..2], "client ID restored");
            assert_eq!(out[2] & 0x80, 0x80, "QR set");
        }
    }
    let mut soa = fixture.soa.clone();
    let mut reply = data.to_vec();
    if reply.len() >= 2 {
        reply[..2].copy_from_slice(&soa.upstream_id().to_be_bytes());
    }
    let _ = soa.on_reply(&fixture.authoritative, &reply, 1);
    let _ = soa.poll();
});
