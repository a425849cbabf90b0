//! The core's per-query work, each beside a hickory-proto baseline doing the same job in the same
//! process. Results: benches/RESULTS.md.
//!
//! * `classify`: every question of a cluster; in three states (nothing learned; nameservers
//!   prefetched, as a live server always has them; a CNAME'd challenge learned on top) for a
//!   cluster name, a public name beside the zone and a challenge name. Baseline: hickory parsing
//!   the same question, the least a classifier that parses does.
//! * `query`: parsing the client's query and building the upstream query (`Exchange::new`).
//! * `reply`: validating an upstream reply and rewriting it for the client (`on_reply`).
//! * `hairpin`: parsing an A question and synthesising its hairpin answer.

use std::hint::black_box;
use std::net::Ipv4Addr;

use acmeforward::{
    Action, ConfigBuilder, Engine, Exchange, Fact, Prefetch, PrefetchAction, Transport,
};
use acmeforward_benches::{
    client_query, hickory_static_answer, hickory_upstream_query, hickory_validate_and_rewrite,
    upstream_ns_reply, upstream_txt_reply,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

const CLUSTER_NAME: &str = "api.payments.svc.cluster.local.";
const ZONE_NAME: &str = "www.internal.example.com.";
const CHALLENGE_NAME: &str = "_acme-challenge.www.example.com.";

fn config() -> acmeforward::Config {
    let mut builder = ConfigBuilder::new();
    for zone in [
        "example.com",
        "example.net",
        "example.org",
        "example.io",
        "example.dev",
    ] {
        builder.zone(zone).expect("zone");
    }
    builder.upstream("127.0.0.1:5300").expect("upstream");
    builder.build().expect("config")
}

/// An engine whose prefetch found each zone's nameservers (two hosts per zone), driven through
/// the real `Prefetch` with replies built by hickory.
fn prefetched_engine() -> Engine {
    let engine = Engine::new(config());
    let mut prefetch = Prefetch::new(&engine, 7);
    for _ in 0..64 {
        let reply = match prefetch.poll(&engine, 0) {
            PrefetchAction::Send { query, .. } => {
                let q = Message::from_vec(query).expect("prefetch query");
                let zone = q.queries[0].name().to_ascii();
                let hosts = [format!("ns1.{zone}"), format!("ns2.{zone}")];
                let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
                upstream_ns_reply(query, &hosts, 3600)
            }
            PrefetchAction::Sleep { .. } => break,
        };
        prefetch
            .on_reply(&engine, &reply, 0)
            .expect("prefetch reply");
    }
    assert_eq!(
        engine.classify(b"ns1.example.com.", 1, 1, 0),
        acmeforward::Verdict::Forward,
        "prefetched"
    );
    engine
}

/// The prefetched engine after one CNAME'd challenge: `_acme-challenge.www.example.com` answered
/// with a CNAME to `x.auth.example.org`, so the target (any type) and its ancestors (SOA/NS) are
/// learned, as an exchange learns them with zones listed.
fn learned_engine() -> Engine {
    let engine = prefetched_engine();
    engine.learn(
        b"\x01x\x04auth\x07example\x03org\x00",
        Fact::CnameTarget,
        3600,
        0,
    );
    for ancestor in [
        &b"\x04auth\x07example\x03org\x00"[..],
        b"\x07example\x03org\x00",
    ] {
        engine.learn(ancestor, Fact::Ancestor, 3600, 0);
    }
    engine
}

fn classify(c: &mut Criterion) {
    let empty = Engine::new(config());
    let prefetched = prefetched_engine();
    let learned = learned_engine();
    let mut group = c.benchmark_group("classify");
    for (label, name, qtype) in [
        ("cluster", CLUSTER_NAME, RecordType::A),
        ("zone", ZONE_NAME, RecordType::A),
        ("challenge", CHALLENGE_NAME, RecordType::TXT),
    ] {
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
    group.bench_function("hickory_baseline/parse+answer+encode", |b| {
        b.iter(|| {
            hickory_static_answer(black_box(&hairpin_query), Ipv4Addr::new(10, 96, 0, 80)).len()
        })
    });
    group.finish();
}

criterion_group!(benches, classify, exchange);
criterion_main!(benches);
