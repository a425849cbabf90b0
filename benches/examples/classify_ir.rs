//! Runs `Engine::classify` a fixed number of times per case, for counting instructions with
//! callgrind (repeatable where wall-clock timings on a shared machine are not):
//!
//!   benches/profile/classify.sh
//!
//! Each case runs in a function of its own (`case_<state>_<name>`), so callgrind's per-function
//! counts divided by ROUNDS are the instructions per question.

use std::hint::black_box;

use acmeforward::Engine;
use acmeforward_benches::{
    CHALLENGE_NAMES, CLUSTER_NAME, ZONE_NAME, config, learned_engine, prefetched_engine,
};

/// Questions per case.
pub const ROUNDS: u32 = 100_000;

#[inline(never)]
fn run(engine: &Engine, name: &str, qtype: u16) -> u32 {
    let mut forwarded = 0;
    for _ in 0..ROUNDS {
        let v = engine.classify(
            black_box(name.as_bytes()),
            black_box(qtype),
            black_box(1),
            1_000,
        );
        forwarded += u32::from(v != acmeforward::Verdict::Pass);
    }
    forwarded
}

/// Without an argument: every case, one line each. With one (`state/name`): that case only.
fn main() {
    let only = std::env::args().nth(1);
    let empty = Engine::new(config());
    let prefetched = prefetched_engine();
    let learned = learned_engine();
    let names = [("cluster", CLUSTER_NAME, 1), ("zone", ZONE_NAME, 1)]
        .into_iter()
        .chain(CHALLENGE_NAMES.map(|(label, name)| (label, name, 16)));
    for (label, name, qtype) in names {
        for (state, engine) in [
            ("empty", &empty),
            ("prefetched", &prefetched),
            ("learned", &learned),
        ] {
            let case = format!("{state}/{label}");
            if only.as_ref().is_some_and(|o| *o != case) {
                continue;
            }
            let forwarded = run(engine, name, qtype);
            println!("{case}: {forwarded} of {ROUNDS} not passed");
        }
    }
}
