//! The per-query classifier and the forward exchange, each beside a hickory-proto baseline run in
//! the same process: a full message parse of the same bytes. Results: benches/RESULTS.md.

use std::hint::black_box;

use acmeforward::{Action, ConfigBuilder, Engine, Exchange, Fact, Transport};
use acmeforward_benches::{client_query, upstream_txt_reply};
use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

const PASS_NAME: &str = "api.payments.svc.cluster.local.";
const CHALLENGE_NAME: &str = "_acme-challenge.www.example.com.";

fn config() -> acmeforward::Config {
    let mut builder = ConfigBuilder::new();
    builder.zone("example.com").expect("zone");
    builder.zone("example.org").expect("zone");
    builder.upstream("127.0.0.1:5300").expect("upstream");
    builder.build().expect("config")
}

/// An engine with a learned state that every question has to consult: a CNAME target (any type)
/// among `n` learned NS host names and ancestors.
fn learned_engine(n: usize) -> Engine {
    let engine = Engine::new(config());
    engine.learn(
        b"\x05token\x04acme\x07example\x03net\x00",
        Fact::CnameTarget,
        3600,
        0,
    );
    for i in 0..n {
        let host = format!("ns{i}");
        let mut wire = vec![host.len() as u8];
        wire.extend_from_slice(host.as_bytes());
        wire.extend_from_slice(b"\x07example\x03net\x00");
        engine.learn(&wire, Fact::NsHost, 3600, 0);
    }
    engine
}

/// An engine as one CNAME'd challenge leaves it (as the Go benchmark
/// `BenchmarkServeDNSPassLearned` does): `_acme-challenge.www.example.com` answered with a CNAME
/// to `x.auth.example.org`, so the target (any type) and the ancestors of both names are learned.
fn learned_cname_engine() -> Engine {
    let engine = Engine::new(config());
    engine.learn(
        b"\x01x\x04auth\x07example\x03org\x00",
        Fact::CnameTarget,
        3600,
        0,
    );
    for ancestor in [
        &b"\x04auth\x07example\x03org\x00"[..],
        b"\x07example\x03org\x00",
        b"\x03org\x00",
        b"\x03www\x07example\x03com\x00",
        b"\x07example\x03com\x00",
        b"\x03com\x00",
    ] {
        engine.learn(ancestor, Fact::Ancestor, 3600, 0);
    }
    engine
}

fn classify(c: &mut Criterion) {
    let empty = Engine::new(config());
    let learned = learned_engine(1000);
    let learned_cname = learned_cname_engine();
    let mut group = c.benchmark_group("classify");
    for (label, name, qtype) in [
        ("pass", PASS_NAME, RecordType::A),
        ("forward", CHALLENGE_NAME, RecordType::TXT),
    ] {
        for (state, engine) in [
            ("empty", &empty),
            ("learned", &learned),
            ("learned_cname", &learned_cname),
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
    let exchange = Exchange::new(&engine, &query, Transport::Udp, 7, 0).expect("query accepted");
    let Action::Send {
        query: upstream_query,
        ..
    } = exchange.poll()
    else {
        panic!("a new exchange sends first");
    };
    let reply = upstream_txt_reply(upstream_query, "token-0123456789", 300);
    let mut group = c.benchmark_group("exchange");
    group.bench_function("acmeforward/new+on_reply", |b| {
        b.iter(|| {
            let mut exchange =
                Exchange::new(&engine, black_box(&query), Transport::Udp, black_box(7), 0)
                    .expect("query");
            exchange
                .on_reply(&engine, black_box(&reply), 0)
                .expect("reply valid");
            match exchange.poll() {
                Action::Answer(a) => a.len(),
                _ => 0,
            }
        })
    });
    // The HTTP-01 hairpin: an A question for a `hairpin` name with an IP target, answered at once.
    let mut builder = ConfigBuilder::new();
    builder.upstream("127.0.0.1:5300").expect("upstream");
    builder
        .hairpin("www.example.com 10.96.0.80")
        .expect("hairpin");
    let hairpin = Engine::new(builder.build().expect("config"));
    let hairpin_query = client_query("www.example.com.", RecordType::A);
    group.bench_function("acmeforward/hairpin_static", |b| {
        b.iter(|| {
            let exchange = Exchange::new(
                &hairpin,
                black_box(&hairpin_query),
                Transport::Udp,
                black_box(7),
                0,
            )
            .expect("query");
            match exchange.poll() {
                Action::Answer(a) => a.len(),
                _ => 0,
            }
        })
    });
    group.bench_function("hickory_baseline/parse_query+parse_reply+encode", |b| {
        b.iter(|| {
            let q = Message::from_vec(black_box(&query)).expect("query parses");
            let r = Message::from_vec(black_box(&reply)).expect("reply parses");
            (q.metadata.id, r.to_vec().expect("encodes").len())
        })
    });
    group.finish();
}

criterion_group!(benches, classify, exchange);
criterion_main!(benches);
