//! Any bytes as the upstream reply to a fixed challenge query. The exchange uses a fixed seed, so
//! the upstream question bytes are fixed and the fuzzer can learn them; the input's ID is set to
//! the upstream ID so that the fuzzer reaches the section and record checks. finish must not panic,
//! and what it accepts must itself parse as a response to the client's query.
#![no_main]
mod common;

use std::sync::OnceLock;

use acmeforward::{Exchange, Transport};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    exchange: Exchange,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

// _acme-challenge.www.example.com TXT, ID 0x4242, RD, no EDNS.
const CLIENT_QUERY: &[u8] = b"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
\x0f_acme-challenge\x03www\x07example\x03com\x00\x00\x10\x00\x01";

fuzz_target!(|data: &[u8]| {
    let fixture = FIXTURE.get_or_init(|| Fixture {
        exchange: Exchange::new(&common::config(), CLIENT_QUERY, 0x5eed).expect("fixture query"),
    });
    let mut reply = data.to_vec();
    if reply.len() >= 2 {
        reply[..2].copy_from_slice(&fixture.exchange.upstream_query()[..2]);
    }
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        if fixture.exchange.finish(&reply, transport, &mut out).is_ok() {
            assert_eq!(&out[..2], &CLIENT_QUERY[..2], "client ID restored");
            assert_eq!(out[2] & 0x80, 0x80, "QR set");
        }
    }
});
