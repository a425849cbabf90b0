//! Time and forgeries in the exchange: every try carries its deadline, the exchange has an
//! overall `max_time`, a forged UDP reply never ends a try, and a late reply is dropped.

use std::time::Duration;

use crate::exchange::fail_reason::FailReason;
use crate::exchange::machine::Action;
use crate::exchange::validate::ReplyError;
use crate::testutil::*;
use crate::wire::Transport;

const CHALLENGE: &str = "_acme-challenge.example.com";

fn deadline(ex: &crate::exchange::machine::Exchange) -> u64 {
    match ex.poll() {
        Action::Send { deadline_ms, .. } => deadline_ms,
        other => panic!("expected a send, got {other:?}"),
    }
}

#[test]
fn each_try_ends_at_its_timeout_or_the_exchange_deadline() {
    let e = engine_with(&["192.0.2.1", "192.0.2.2", "192.0.2.3"], |b| {
        assert!(b.timeout(Duration::from_millis(1500)).is_ok());
        assert!(b.max_time(Duration::from_millis(4000)).is_ok());
    });
    let t0 = 10_000;
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, t0);
    assert_eq!(deadline(&ex), t0 + 1500);
    ex.on_failure(t0 + 1500);
    assert_eq!(deadline(&ex), t0 + 3000);
    ex.on_failure(t0 + 3000);
    // The third try gets what is left of max_time.
    assert_eq!(deadline(&ex), t0 + 4000);
    assert_eq!(sending(&ex).0, addr("192.0.2.3:53"));
    ex.on_failure(t0 + 4000);
    assert_eq!(ex.poll(), Action::Fail(FailReason::NoReply));
}

#[test]
fn max_time_ends_the_exchange_before_the_send_budget() {
    let upstreams: Vec<String> = (1..=8).map(|i| format!("192.0.2.{i}")).collect();
    let refs: Vec<&str> = upstreams.iter().map(String::as_str).collect();
    let e = engine_with(&refs, |b| {
        assert!(b.timeout(Duration::from_millis(2000)).is_ok());
        assert!(b.max_time(Duration::from_millis(3000)).is_ok());
    });
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let mut now = 0;
    while let Action::Send { deadline_ms, .. } = ex.poll() {
        assert!(deadline_ms <= 3000);
        now = deadline_ms;
        ex.on_failure(now);
    }
    assert_eq!(ex.poll(), Action::Fail(FailReason::TimeLimit));
    assert_eq!(now, 3000);
    assert_eq!(ex.sends(), 2);
}

#[test]
fn forged_udp_replies_leave_the_try_waiting_for_the_true_one() {
    let e = engine_with(&["192.0.2.53"], |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let true_reply = reply(&ex, 0, vec![txt_at_q("token")], vec![], vec![]);
    // Wrong ID; wrong letter case in the question; QR clear; too short.
    let mut wrong_id = true_reply.clone();
    wrong_id[1] ^= 1;
    let mut wrong_case = true_reply.clone();
    let letter = wrong_case[13..]
        .iter()
        .position(u8::is_ascii_alphabetic)
        .map_or(13, |i| 13 + i);
    wrong_case[letter] ^= 0x20;
    let mut query_back = true_reply.clone();
    query_back[2] &= !0x80;
    for (forged, why) in [
        (wrong_id, ReplyError::IdMismatch),
        (wrong_case, ReplyError::QuestionMismatch),
        (query_back, ReplyError::NotAResponse),
        (true_reply[..7].to_vec(), ReplyError::NotAResponse),
    ] {
        assert_eq!(ex.on_reply(&e, &forged, 10), Err(why));
        assert!(why.is_unsolicited());
        assert!(ex.is_waiting(), "{why:?}");
    }
    ok(&mut ex, &e, &true_reply, 20);
    assert_eq!(answer(&ex).answers.len(), 1);
    assert_eq!(ex.sends(), 1);
}

#[test]
fn forged_tcp_reply_ends_the_try() {
    // Over TCP the connection is the exchange's own: a mismatch means a broken server.
    let e = engine_with(&["192.0.2.53", "192.0.2.54"], |_| {});
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Tcp, 0);
    let mut r = reply(&ex, 0, vec![txt_at_q("token")], vec![], vec![]);
    r[0] ^= 0xff;
    assert_eq!(ex.on_reply(&e, &r, 10), Err(ReplyError::IdMismatch));
    assert_eq!(sending(&ex).0, addr("192.0.2.54:53"));
}

#[test]
fn a_reply_after_its_deadline_is_dropped() {
    let e = engine_with(&["192.0.2.53", "192.0.2.54"], |b| {
        assert!(b.timeout(Duration::from_millis(500)).is_ok());
    });
    let mut ex = new_ex(&e, CHALLENGE, TYPE_TXT, Transport::Udp, 0);
    let late = reply(&ex, 0, vec![txt_at_q("token")], vec![], vec![]);
    assert_eq!(ex.on_reply(&e, &late, 500), Err(ReplyError::Late));
    // Moved on as for a timeout.
    assert_eq!(sending(&ex).0, addr("192.0.2.54:53"));
    assert_eq!(deadline(&ex), 1000);
}
