//! Exchanges driven by arbitrary upstream replies: the input is a configuration selector and
//! frames (common.rs): client queries that start exchanges, then replies to what they send. A
//! reply frame gets the ID and question of the query it answers copied in unless its kind says
//! otherwise, so mutations reach the sections (records off the question's name and CNAME chain,
//! bad rcodes, TC, authority and glue, DNAME, OPT, oversized answers). Each input gets a fresh
//! engine: what one exchange learns changes how the next one of the same input is routed.
//!
//! Invariants (checked in common.rs): every query sent parses and has one question; an Answer
//! always parses, has the client's ID and question (name equal ignoring case, and in fact in
//! the client's own case), only the CNAME chain and the asked type in its answer section
//! (signatures only with DO, no data with NXDOMAIN), TTLs capped, no 0x20 spelling leaked, fits
//! the client's UDP size; the
//! same holds for the answer shared with another client asking the same question
//! (`Exchange::answer_for`: another ID, letter case and transport); the exchange ends within its
//! send budget.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frames)) = data.split_first() else {
        return;
    };
    let engine = common::configured(usize::from(selector));
    let mut session = common::Session::new(&engine, 1);
    session.run(frames);
});
