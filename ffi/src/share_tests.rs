//! Unit tests of `afwd_exchange_answer_for`, called as C would: one answered exchange answers
//! other clients with the same question (each its own ID), from several threads at once; every
//! other case gets its own result code, and a panic stays inside the boundary.

use std::ptr::{null, null_mut};

use crate::testutil::{
    NOW, QNAME, TXT, check_out_buffer, engine, exchange, poll, query, reply_to, sent_query,
    with_injected_panic,
};
use crate::*;

use afwd_action_kind::*;
use afwd_result::*;

/// Answers the exchange's first send with the TXT "token".
fn answer(x: *mut afwd_exchange) {
    let reply = reply_to(&sent_query(x));
    // SAFETY: live handles; the slice is valid for the call.
    let r =
        unsafe { afwd_exchange_reply(x, reply.as_ptr(), reply.len(), NOW, std::ptr::null_mut()) };
    assert_eq!(r, AFWD_OK);
    assert_eq!(poll(x).0.kind, AFWD_ACTION_ANSWER);
}

/// `afwd_exchange_answer_for` into a fresh buffer: the result and the bytes written.
fn answer_for(x: *const afwd_exchange, q: &[u8], tcp: bool) -> (afwd_result, Vec<u8>) {
    let mut buf = vec![0u8; 4096];
    let mut n = usize::MAX;
    // SAFETY: `x` is live; the slices and the out-pointer are valid for the call.
    let r = unsafe {
        afwd_exchange_answer_for(
            x,
            q.as_ptr(),
            q.len(),
            tcp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut n,
        )
    };
    buf.truncate(if r == AFWD_OK { n } else { 0 });
    (r, buf)
}

#[test]
fn an_answered_exchange_answers_the_same_question_for_others() {
    let e = engine();
    let x = exchange(e, 0x1111);
    let same = query(0x2222, b"_ACME-Challenge.www.EXAMPLE.com.", TXT);
    // Not answered yet.
    assert_eq!(
        answer_for(x, &same, false).0,
        AFWD_ERR_EXCHANGE_NOT_ANSWERED
    );
    answer(x);
    let (r, out) = answer_for(x, &same, false);
    assert_eq!(r, AFWD_OK);
    assert_eq!(&out[..2], &0x2222u16.to_be_bytes());
    assert_eq!(
        &out[13..28],
        b"_ACME-Challenge",
        "the follower's letter case"
    );
    // The leader's own answer is still there.
    let (a, leader) = poll(x);
    assert_eq!(a.kind, AFWD_ACTION_ANSWER);
    assert_eq!(&leader[..2], &0x1111u16.to_be_bytes());
    assert_eq!(leader.len(), out.len());
    // The short-buffer protocol.
    check_out_buffer(&out, |buf, len, n| {
        // SAFETY: `x` is live; `check_out_buffer` passes a valid buffer and out-pointer.
        unsafe { afwd_exchange_answer_for(x, same.as_ptr(), same.len(), false, buf, len, n) }
    });
    // Another question, and a message that is no query.
    let other = query(3, QNAME, 1);
    assert_eq!(
        answer_for(x, &other, false).0,
        AFWD_ERR_QUERY_OTHER_QUESTION
    );
    assert_eq!(answer_for(x, &[0; 5], false).0, AFWD_ERR_QUERY_MALFORMED);
    // SAFETY: live handles, freed once.
    unsafe {
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

#[test]
fn a_failed_exchange_answers_nobody() {
    let e = engine();
    let x = exchange(e, 1);
    // SAFETY: `x` is live.
    unsafe {
        assert_eq!(afwd_exchange_failed(x, NOW), AFWD_OK);
        assert_eq!(afwd_exchange_failed(x, NOW), AFWD_OK);
    }
    assert_eq!(poll(x).0.kind, AFWD_ACTION_FAIL);
    let q = query(2, QNAME, TXT);
    assert_eq!(answer_for(x, &q, false).0, AFWD_ERR_EXCHANGE_NOT_ANSWERED);
    // SAFETY: live handles, freed once.
    unsafe {
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

#[test]
fn threads_share_one_answered_exchange() {
    let e = engine();
    let x = exchange(e, 1);
    answer(x);
    // Raw pointers are not Send; the address is, and the exchange is Sync for this call.
    let addr = x as usize;
    std::thread::scope(|s| {
        for t in 0..4u16 {
            s.spawn(move || {
                for i in 0..200u16 {
                    let id = t * 1000 + i;
                    let (r, out) =
                        answer_for(addr as *const afwd_exchange, &query(id, QNAME, TXT), t == 0);
                    assert_eq!(r, AFWD_OK);
                    assert_eq!(&out[..2], &id.to_be_bytes());
                }
            });
        }
    });
    // SAFETY: live handles, freed once, after every thread ended.
    unsafe {
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}

#[test]
fn null_arguments_and_panics_are_reported() {
    let e = engine();
    let x = exchange(e, 1);
    answer(x);
    let q = query(2, QNAME, TXT);
    let mut buf = [0u8; 512];
    let mut n = 7usize;
    // SAFETY: every pointer is NULL or valid for the call.
    unsafe {
        let (qp, ql, bp, bl) = (q.as_ptr(), q.len(), buf.as_mut_ptr(), buf.len());
        assert_eq!(
            afwd_exchange_answer_for(null(), qp, ql, false, bp, bl, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(n, 0, "len_out is cleared on error");
        assert_eq!(
            afwd_exchange_answer_for(x, null(), ql, false, bp, bl, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_answer_for(x, qp, ql, false, null_mut(), bl, &mut n),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_exchange_answer_for(x, qp, ql, false, bp, bl, null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        n = 7;
        assert_eq!(
            with_injected_panic(|| afwd_exchange_answer_for(x, qp, ql, false, bp, bl, &mut n)),
            AFWD_ERR_PANIC
        );
        assert_eq!(n, 7, "nothing written on a panic");
        // Still usable.
        assert_eq!(
            afwd_exchange_answer_for(x, qp, ql, false, bp, bl, &mut n),
            AFWD_OK
        );
        afwd_exchange_free(x);
        afwd_engine_free(e);
    }
}
