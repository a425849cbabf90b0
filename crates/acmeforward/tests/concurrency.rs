//! `Engine` shared between threads: several threads classify while others learn through
//! exchanges. Checks safety and the verdicts that cannot depend on the interleaving (no timing
//! assertions).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use acmeforward::{Action, ConfigBuilder, Engine, Exchange, Transport, Verdict};
use common::{CLASS_IN, QNAME_PTR, TYPE_TXT, message, query, question, rr, wire_from_labels};

fn labels(s: &str) -> Vec<Vec<u8>> {
    s.split('.')
        .filter(|l| !l.is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

fn wire(s: &str) -> Vec<u8> {
    wire_from_labels(&labels(s))
}

/// One exchange for `_acme-challenge.w{i}.example.com TXT` answered with a CNAME to
/// `t{i}.acme.example.net` and an authority NS `ns{i}.example.net`.
fn learn_through_exchange(engine: &Engine, learner: usize, i: usize, now: u64) {
    let name = format!("_acme-challenge.w{learner}-{i}.example.com");
    let q = question(&wire(&name), TYPE_TXT, CLASS_IN);
    let mut ex =
        Exchange::new(engine, &query(1, &q, None), Transport::Udp, i as u64, now).expect("query");
    let target = wire(&format!("t{learner}-{i}.acme.example.net"));
    let mut reply = message(
        ex.upstream_id(),
        0x8180,
        ex.question(),
        &[rr(&QNAME_PTR, 5, CLASS_IN, 300, &target)],
        &[],
    );
    reply[9] = 1;
    reply.extend(rr(
        &wire("example.net"),
        2,
        CLASS_IN,
        300,
        &wire(&format!("ns{learner}-{i}.example.net")),
    ));
    ex.on_reply(engine, &reply, now).expect("reply accepted");
    // The internal view is asked about the target and the nameserver host first.
    common::internal_unknown(engine, &mut ex, now);
    assert!(matches!(ex.poll(), Action::Answer(_)));
}

/// Clears `flag` when dropped, also on a panic: the classifying threads stop then, so a
/// failing learner fails the test instead of hanging it.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[test]
fn classify_while_learning() {
    let mut b = ConfigBuilder::new();
    b.zone("example.com").expect("zone");
    b.upstream("192.0.2.53").expect("upstream");
    b.max_learned(64).expect("max_learned");
    let engine = Arc::new(Engine::new(b.build().expect("config")));
    let learning = Arc::new(AtomicBool::new(true));

    const LEARNERS: usize = 2;
    const ROUNDS: usize = 300;
    std::thread::scope(|s| {
        let _stop = ClearOnDrop(&learning);
        let mut learners = Vec::new();
        for learner in 0..LEARNERS {
            let engine = Arc::clone(&engine);
            learners.push(s.spawn(move || {
                for i in 0..ROUNDS {
                    learn_through_exchange(&engine, learner, i, i as u64 * 10);
                    assert!(engine.learned_len() <= 64);
                }
            }));
        }
        for _ in 0..3 {
            let engine = Arc::clone(&engine);
            let learning = Arc::clone(&learning);
            s.spawn(move || {
                let mut rounds = 0u64;
                // At least some rounds, and on until the learners are done.
                while learning.load(Ordering::Acquire) || rounds < 200 {
                    rounds += 1;
                    let now = rounds;
                    // Verdicts that no learned state can change.
                    assert_eq!(
                        engine.classify(b"_acme-challenge.x.example.com.", 16, 1, now),
                        Verdict::Forward
                    );
                    assert_eq!(
                        engine.classify(b"kubernetes.default.svc.cluster.local.", 1, 1, now),
                        Verdict::Pass
                    );
                    assert_eq!(
                        engine.classify(b"t0-1.acme.example.net.", 16, 3, now),
                        Verdict::Pass,
                        "class CH never"
                    );
                    // Learned names: either verdict, depending on the interleaving.
                    let n = (rounds as usize) % ROUNDS;
                    let _ =
                        engine.classify(format!("t0-{n}.acme.example.net.").as_bytes(), 16, 1, now);
                    let _ = engine.classify(format!("ns1-{n}.example.net").as_bytes(), 1, 1, now);
                    let _ = engine.classify(b"acme.example.net", 6, 1, now);
                    let _ = engine.learned_len();
                }
            });
        }
        for l in learners {
            l.join().expect("learner");
        }
        learning.store(false, Ordering::Release);
    });

    // Everything settled: the bound held, and the last names learned are forwarded.
    assert!(engine.learned_len() <= 64);
    let now = ROUNDS as u64 * 10;
    for learner in 0..LEARNERS {
        let last = ROUNDS - 1;
        assert_eq!(
            engine.classify(
                format!("t{learner}-{last}.acme.example.net").as_bytes(),
                16,
                1,
                now
            ),
            Verdict::Forward
        );
    }
    assert_eq!(
        engine.classify(b"acme.example.net.", 6, 1, now),
        Verdict::Forward
    );
}
