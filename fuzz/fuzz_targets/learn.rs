//! Learning and prefetch: one engine per input (configuration selector first), its Prefetch, and
//! client exchanges, all fed from the input's frames (common.rs). A frame that no client
//! exchange waits for goes to the prefetch (which is polled at the frame's clock, sleeping
//! through to its next refresh when it has nothing to send); frames also move the clock, by up
//! to the saturation of u64. The internal view's answers to the exchanges' Action::Internal
//! (the question asked before a CNAME target or nameserver host is learned) are arbitrary
//! frames too.
//!
//! Invariants: after every frame, no name at or below a protected zone (the defaults, the
//! configuration's own, and every name seen in any reply) is forwarded or has a learned fact;
//! every query the prefetch or an exchange sends parses with one question; answers as in the
//! reply target. The prefetch's questions to the internal view get arbitrary frames like its
//! sends.
#![no_main]
mod common;

use acmeforward::{Prefetch, PrefetchAction, Zone};
use common::{Frame, Kind, Session};
use hickory_proto::op::{Message, MessageType};
use libfuzzer_sys::fuzz_target;

/// Hands an idle frame to the prefetch: the reply (or timeout) of its send in flight, or of the
/// send it starts now (at its next refresh time if that is later than the clock).
fn prefetch_step(prefetch: &mut Prefetch, session: &mut Session<'_>, frame: &Frame<'_>) {
    let engine = session.engine;
    for _ in 0..4 {
        let sent = match prefetch.poll(engine, session.now) {
            PrefetchAction::Send { query, .. } | PrefetchAction::Internal { query, .. } => {
                query.to_vec()
            }
            PrefetchAction::Sleep { until_ms: u64::MAX } => return,
            PrefetchAction::Sleep { until_ms } => {
                session.now = session.now.max(until_ms);
                continue;
            }
        };
        let msg = Message::from_vec(&sent)
            .unwrap_or_else(|e| panic!("prefetch query does not parse: {e}: {sent:02x?}"));
        assert_eq!(msg.metadata.message_type, MessageType::Query);
        assert_eq!(msg.queries.len(), 1, "one question");
        match frame.kind {
            Kind::NoReply => prefetch.on_failure(session.now),
            _ => {
                let reply = common::fit(frame, &sent);
                let _ = prefetch.on_reply(engine, &reply, session.now);
            }
        }
        return;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frames)) = data.split_first() else {
        return;
    };
    let engine = common::configured(usize::from(selector));
    let mut prefetch = Prefetch::new(&engine, 0x5eed);
    let mut names: Vec<Vec<u8>> = common::DEFAULT_PROTECTED_NAMES
        .iter()
        .filter_map(|n| Zone::parse(n).ok())
        .chain(engine.config().protected().iter().cloned())
        .map(|z| z.wire().to_vec())
        .collect();
    for frame in common::frames(frames) {
        common::names_in(frame.bytes, &mut names);
    }
    let mut session = Session::new(&engine, 1);
    let check = |session: &Session<'_>| {
        for name in &names {
            common::assert_protected_stays_internal(session.engine, name, session.now);
        }
    };
    for frame in common::frames(frames) {
        if !session.step(&frame) {
            prefetch_step(&mut prefetch, &mut session, &frame);
        }
        check(&session);
    }
    session.finish();
    check(&session);
});
