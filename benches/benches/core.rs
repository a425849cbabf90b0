//! The per-query classifier and the forward exchange, each beside a hickory-proto baseline run in
//! the same process: a full message parse of the same bytes. Results: benches/RESULTS.md.

use std::hint::black_box;

use acmeforward::{ConfigBuilder, Exchange, Transport};
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

fn classify(c: &mut Criterion) {
    let config = config();
    let mut group = c.benchmark_group("classify");
    for (label, name, qtype) in [
        ("pass", PASS_NAME, RecordType::A),
        ("forward", CHALLENGE_NAME, RecordType::TXT),
    ] {
        group.bench_function(format!("acmeforward/{label}"), |b| {
            b.iter(|| {
                config.classify(
                    black_box(name.as_bytes()),
                    black_box(u16::from(qtype)),
                    black_box(1),
                )
            })
        });
        let query = client_query(name, qtype);
        group.bench_function(format!("hickory_parse_baseline/{label}"), |b| {
            b.iter(|| Message::from_vec(black_box(&query)).expect("parses"))
        });
    }
    group.finish();
}

fn exchange(c: &mut Criterion) {
    let config = config();
    let query = client_query(CHALLENGE_NAME, RecordType::TXT);
    let exchange = Exchange::new(&config, &query, 7).expect("query accepted");
    let reply = upstream_txt_reply(exchange.upstream_query(), "token-0123456789", 300);
    let mut group = c.benchmark_group("exchange");
    group.bench_function("acmeforward/new+finish", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            let exchange = Exchange::new(&config, black_box(&query), black_box(7)).expect("query");
            exchange
                .finish(black_box(&reply), Transport::Udp, &mut out)
                .expect("reply valid");
            out.len()
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
