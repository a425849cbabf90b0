//! Any bytes as a client query: Exchange::new must reject or accept without panicking, and an
//! accepted query always yields an upstream query that is itself a valid query.
#![no_main]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static CONFIG: OnceLock<acmeforward::Config> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let config = CONFIG.get_or_init(common::config);
    if let Ok(exchange) = acmeforward::Exchange::new(config, data, 0x5eed) {
        let upstream = exchange.upstream_query().to_vec();
        assert!(acmeforward::Exchange::new(config, &upstream, 1).is_ok());
    }
});
