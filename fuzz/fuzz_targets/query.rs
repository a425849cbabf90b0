//! Any bytes as a client query: Exchange::new must reject or accept without panicking, and an
//! accepted query always yields a first upstream query that is itself a valid query.
#![no_main]
mod common;

use std::sync::OnceLock;

use acmeforward::{Action, Engine, Exchange, Transport};
use libfuzzer_sys::fuzz_target;

static ENGINES: OnceLock<[Engine; 2]> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let engines = ENGINES.get_or_init(|| [common::engine(), common::authoritative_engine()]);
    for engine in engines {
        if let Ok(exchange) = Exchange::new(engine, data, Transport::Udp, 0x5eed, 0) {
            let Action::Send { query, .. } = exchange.poll() else {
                panic!("a new exchange sends first");
            };
            assert!(Exchange::new(engine, query, Transport::Tcp, 1, 0).is_ok());
        }
    }
});
