//! Hairpin answers: the HAIRPIN configuration of common.rs (IP targets, a name target looked up
//! through the internal view, a wildcard) and client queries from the input's frames; the
//! internal view's replies to Action::Internal are the other frames, arbitrary (its ID and
//! question copied in unless the frame's kind says otherwise). Forwarded questions of the same
//! input run as in the reply target.
//!
//! Invariants: beyond those of every answer (common.rs), a hairpin exchange never sends
//! upstream, asks the internal view in lower case, and answers NOERROR with only records of the
//! asked family under the client's own name.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let engine = common::configured(common::HAIRPIN);
    let mut session = common::Session::new(&engine, 1);
    session.run(data);
});
