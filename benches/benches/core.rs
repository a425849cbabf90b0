//! The core's per-query work, each beside a hickory-proto baseline doing the same job in the same
//! process. Results: benches/RESULTS.md.
//!
//! * `classify`: every question of a cluster; in three states (nothing learned; nameservers
//!   prefetched, as a live server always has them; a CNAME'd challenge learned on top) for a
//!   cluster name, a public name beside the zone and a challenge name. Baseline: hickory parsing
//!   the same question, the least a classifier that parses does.
//! * `query`: parsing the client's query and building the upstream query (`Exchange::new`).
//! * `reply`: validating an upstream reply and rewriting it for the client (`on_reply`).
//! * `hairpin`: parsing an A question and synthesising its hairpin answer (`static_target`, the
//!   exchange's way), and the classification with the answer's addresses that the shim uses for
//!   IP targets instead (`classify+addrs`; the shim builds the message).

use std::hint::black_box;
use std::net::Ipv4Addr;

use acmeforward::{Action, ConfigBuilder, Engine, Exchange, Transport};
use acmeforward_benches::{
    CHALLENGE_NAMES, CLUSTER_NAME, ZONE_NAME, client_query, config, hickory_static_answer,
    hickory_upstream_query, hickory_validate_and_rewrite, learned_engine, prefetched_engine,
    upstream_txt_reply,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

const CHALLENGE_NAME: &str = CHALLENGE_NAMES[0].1;

fn classify(c: &mut Criterion) {
    let empty = Engine::new(config());
    let prefetched = prefetched_engine();
    let learned = learned_engine();
    let mut group = c.benchmark_group("classify");
    let names = [
        ("cluster", CLUSTER_NAME, RecordType::A),
        ("zone", ZONE_NAME, RecordType::A),
    ]
    .into_iter()
    .chain(CHALLENGE_NAMES.map(|(label, name)| (label, name, RecordType::TXT)));
    for (label, name, qtype) in names {
        for (state, engine) in [
            ("empty", &empty),
            ("prefetched", &prefetched),
            ("learned", &learned),
        ] {
            group.bench_function(format!("acmeforward/{state}/{label}"), |b| {
                b.iter(|| {
                    engine.classify(
                        black_box(name.as_bytes()),
                        black_box(u16::from(qtype)),
                        black_box(1),
                        black_box(1_000),
                    )
                })
            });
        }
        let query = client_query(name, qtype);
        group.bench_function(format!("hickory_parse_baseline/{label}"), |b| {
            b.iter(|| Message::from_vec(black_box(&query)).expect("parses"))
        });
    }
    group.finish();
}

fn exchange(c: &mut Criterion) {
    let engine = Engine::new(config());
    let query = client_query(CHALLENGE_NAME, RecordType::TXT);
    let first = Exchange::new(&engine, &query, Transport::Udp, 7, 0).expect("query accepted");
    let Action::Send {
        query: upstream_query,
        ..
    } = first.poll()
    else {
        panic!("a new exchange sends first");
    };
    let reply = upstream_txt_reply(upstream_query, "token-0123456789", 300);

    let mut group = c.benchmark_group("query");
    group.bench_function("acmeforward/Exchange::new", |b| {
        b.iter(|| {
            let ex = Exchange::new(&engine, black_box(&query), Transport::Udp, black_box(7), 0)
                .expect("query");
            match ex.poll() {
                Action::Send { query, .. } => query.len(),
                _ => 0,
            }
        })
    });
    group.bench_function("hickory_baseline/parse+build+encode", |b| {
        b.iter(|| hickory_upstream_query(black_box(&query)).len())
    });
    group.finish();

    let mut group = c.benchmark_group("reply");
    group.bench_function("acmeforward/on_reply", |b| {
        b.iter_batched(
            || first.clone(),
            |mut ex| {
                ex.on_reply(&engine, black_box(&reply), 0)
                    .expect("reply valid");
                match ex.poll() {
                    Action::Answer(a) => a.len(),
                    _ => 0,
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hickory_baseline/parse+rebuild+encode", |b| {
        b.iter(|| hickory_validate_and_rewrite(black_box(&query), black_box(&reply)).len())
    });
    group.finish();

    // The HTTP-01 hairpin: an A question for a `hairpin` name with an IP target, answered at once.
    let mut builder = ConfigBuilder::new();
    builder.upstream("127.0.0.1:5300").expect("upstream");
    builder
        .hairpin("www.example.com 10.96.0.80")
        .expect("hairpin");
    let hairpin = Engine::new(builder.build().expect("config"));
    let hairpin_query = client_query("www.example.com.", RecordType::A);
    let mut group = c.benchmark_group("hairpin");
    group.bench_function("acmeforward/static_target", |b| {
        b.iter(|| {
            let ex = Exchange::new(
                &hairpin,
                black_box(&hairpin_query),
                Transport::Udp,
                black_box(7),
                0,
            )
            .expect("query");
            match ex.poll() {
                Action::Answer(a) => a.len(),
                _ => 0,
            }
        })
    });
    // What the shim asks for an IP target: the verdict and the answer's addresses, no message.
    group.bench_function("acmeforward/classify+addrs", |b| {
        b.iter(|| {
            let name = black_box(&b"www.example.com."[..]);
            let c = hairpin.classify_question(name, 1, 1, 0, false);
            match hairpin.hairpin_addrs(name, 1) {
                Some((addrs, ttl)) if c.verdict == acmeforward::Verdict::Hairpin => {
                    addrs.count() as u32 + ttl
                }
                _ => 0,
            }
        })
    });
    group.bench_function("hickory_baseline/parse+answer+encode", |b| {
        b.iter(|| {
            hickory_static_answer(black_box(&hairpin_query), Ipv4Addr::new(10, 96, 0, 80)).len()
        })
    });
    group.finish();
}

criterion_group!(benches, classify, exchange);
criterion_main!(benches);
