//! Any bytes as a presentation-format name, with any type and class: the classifier must not panic,
//! and its verdict must not depend on ASCII letter case.
#![no_main]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static CONFIG: OnceLock<acmeforward::Config> = OnceLock::new();

fuzz_target!(|input: (u16, u16, &[u8])| {
    let (qtype, qclass, name) = input;
    let config = CONFIG.get_or_init(common::config);
    let verdict = config.classify(name, qtype, qclass);
    assert_eq!(verdict, config.classify(&name.to_ascii_uppercase(), qtype, qclass));
});
