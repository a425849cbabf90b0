//! Any bytes as a presentation-format name, with any type and class: the classifier (the
//! configuration's rule 1 and the engine's every rule, with a learned state) must not panic, and
//! its verdict must not depend on ASCII letter case.
#![no_main]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static ENGINE: OnceLock<acmeforward::Engine> = OnceLock::new();

fuzz_target!(|input: (u16, u16, &[u8])| {
    let (qtype, qclass, name) = input;
    let engine = ENGINE.get_or_init(common::engine);
    let upper = name.to_ascii_uppercase();
    let verdict = engine.classify(name, qtype, qclass, 1);
    assert_eq!(verdict, engine.classify(&upper, qtype, qclass, 1));
    let config = engine.config();
    let verdict = config.classify(name, qtype, qclass);
    assert_eq!(verdict, config.classify(&upper, qtype, qclass));
});
