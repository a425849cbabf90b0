//! The pass filter: whatever the configuration and state, a question it rules out is one the
//! engine passes; and it does rule out the bulk of a cluster's questions.

use crate::config::builder::ConfigBuilder;
use crate::rules::classify::Verdict;
use crate::state::engine::Engine;
use crate::state::filter::PassFilter;
use crate::state::learned::{Fact, PrefetchedZone};
use crate::testutil::{CLASS_CH, CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_NS, TYPE_SOA};
use crate::testutil::{TYPE_TXT, wire_name};
use crate::wire::name;

const NOW: u64 = 1_000_000;

fn built(setup: impl FnOnce(&mut ConfigBuilder) -> Result<(), crate::ConfigError>) -> Engine {
    let mut b = ConfigBuilder::new();
    let built = b
        .upstream("192.0.2.53")
        .map(|_| ())
        .and_then(|()| setup(&mut b))
        .and_then(|()| b.build());
    match built {
        Ok(c) => Engine::new(c),
        Err(e) => panic!("config: {e}"),
    }
}

/// Engines in the states the filter has to cover: zones listed or not, delegated zones,
/// hairpin names, discovery off, and learned and prefetched names.
fn engines() -> Vec<(&'static str, Engine)> {
    let listed = built(|b| b.zone("example.com").map(|_| ()));
    let learned = built(|b| b.zone("example.com").map(|_| ()));
    for (n, fact) in [
        ("ns1.example.net", Fact::NsHost),
        ("token.auth.acme-dns.io", Fact::CnameTarget),
        ("acme-dns.io", Fact::Ancestor),
    ] {
        assert!(learned.learn(&wire_name(n), fact, 300, NOW));
    }
    let prefetched = built(|b| b.zone("example.com").map(|_| ()));
    prefetched.update(|l| {
        l.set_prefetched(
            &wire_name("example.com"),
            Some(PrefetchedZone {
                apex: wire_name("example.com").into(),
                hosts: vec![wire_name("ns.dns-host.org").into()],
                kept: vec![],
                servers: Box::new([]),
                until: NOW + 600_000,
            }),
        )
    });
    vec![
        ("no zones", built(|_| Ok(()))),
        ("listed", listed),
        (
            "delegated",
            built(|b| b.delegated("auth.example.net").map(|_| ())),
        ),
        (
            "hairpin",
            built(|b| {
                b.hairpin("www.example.com *.apps.example.org 10.0.0.80")
                    .map(|_| ())
            }),
        ),
        (
            "discovery off",
            built(|b| {
                b.zone("example.com")
                    .map(|b| b.discovery(false))
                    .map(|_| ())
            }),
        ),
        ("learned", learned),
        ("prefetched", prefetched),
        ("root zone", built(|b| b.zone(".").map(|_| ()))),
    ]
}

/// Names of every shape the filter reads: cluster names, public names under the state's
/// labels and others, escapes, challenge names, the root, odd endings.
const NAMES: &[&str] = &[
    "api.payments.svc.cluster.local.",
    "kubernetes.default.svc.cluster.local",
    "www.example.com.",
    "WWW.EXAMPLE.COM.",
    "example.com.",
    "ns1.example.net.",
    "NS1.Example.NET",
    "x.auth.example.net.",
    "auth.example.net.",
    "example.net.",
    "token.auth.acme-dns.io.",
    "acme-dns.io.",
    "ns.dns-host.org.",
    "foo.apps.example.org.",
    "apps.example.org.",
    "www.google.com.",
    "_acme-challenge.www.example.com.",
    "_acme-challenge.other.org.",
    r"\095acme-challenge.example.com.",
    r"www.example\.com.",
    r"www.example.c\111m.",
    r"www.example.com\.",
    r"a\\.com.",
    ".",
    "",
    "com.",
    "com",
    "a..com.",
    "localhost.",
    "1.0.0.127.in-addr.arpa.",
];

const TYPES: &[u16] = &[
    TYPE_A, TYPE_AAAA, TYPE_NS, TYPE_CNAME, TYPE_SOA, TYPE_TXT, 12, 15, 33, 64, 65, 255, 256, 257,
    65535,
];

#[test]
fn what_the_filter_rules_out_the_engine_passes() {
    let mut checked = 0;
    let mut ruled_out = 0;
    for (state, e) in engines() {
        let f = e.pass_filter();
        for name in NAMES {
            for &qtype in TYPES {
                for qclass in [CLASS_IN, CLASS_CH] {
                    let passes = f.passes(name.as_bytes(), qtype, qclass);
                    let verdict = e.classify(name.as_bytes(), qtype, qclass, NOW);
                    assert!(
                        !passes || verdict == Verdict::Pass,
                        "{state}: {name:?} type {qtype} class {qclass}: filtered out, but {verdict:?}"
                    );
                    checked += 1;
                    ruled_out += usize::from(passes);
                }
            }
        }
    }
    // Not a filter that keeps everything: most of these questions are ruled out.
    assert!(
        ruled_out * 2 > checked,
        "{ruled_out} of {checked} ruled out"
    );
}

#[test]
fn cluster_names_are_ruled_out_in_every_state() {
    for (state, e) in engines() {
        let f = e.pass_filter();
        for qtype in [TYPE_A, TYPE_AAAA, TYPE_TXT, TYPE_SOA, 33] {
            assert!(
                f.passes(b"api.payments.svc.cluster.local.", qtype, CLASS_IN),
                "{state}: type {qtype}"
            );
        }
    }
}

#[test]
fn what_the_state_may_take_is_never_ruled_out() {
    let engines = engines();
    let find = |state: &str| match engines.iter().find(|(s, _)| *s == state) {
        Some((_, e)) => e.pass_filter(),
        None => panic!("{state}"),
    };
    let cases: &[(&str, &str, u16)] = &[
        ("listed", "www.example.com.", TYPE_SOA),
        ("delegated", "x.auth.example.net.", TYPE_TXT),
        ("delegated", "example.net.", TYPE_NS),
        ("hairpin", "www.example.com.", TYPE_A),
        ("hairpin", "foo.apps.example.org.", TYPE_AAAA),
        ("learned", "ns1.example.net.", TYPE_A),
        ("learned", "token.auth.acme-dns.io.", TYPE_TXT),
        ("prefetched", "ns.dns-host.org.", TYPE_AAAA),
        ("no zones", "_acme-challenge.anything.example.", TYPE_TXT),
    ];
    for &(state, name, qtype) in cases {
        assert!(
            !find(state).passes(name.as_bytes(), qtype, CLASS_IN),
            "{state}: {name} type {qtype} ruled out"
        );
    }
    // Discovery off: no rule takes A/AAAA, so they are ruled out even under a listed zone.
    assert!(find("discovery off").passes(b"www.example.com.", TYPE_A, CLASS_IN));
}

#[test]
fn learning_a_name_under_a_new_label_updates_the_filter() {
    let e = built(|b| b.zone("example.com").map(|_| ()));
    let before = e.pass_filter();
    assert!(before.passes(b"token.acme-dns.dev.", TYPE_TXT, CLASS_IN));
    assert!(e.learn(&wire_name("token.acme-dns.dev"), Fact::CnameTarget, 60, NOW));
    let after = e.pass_filter();
    assert!(!after.passes(b"token.acme-dns.dev.", TYPE_TXT, CLASS_IN));
    let generation = e.pass_filter_generation();
    assert_ne!(generation, 0, "a change bumps the generation");
    // Learning again what is known changes nothing.
    assert!(e.learn(&wire_name("token.acme-dns.dev"), Fact::CnameTarget, 60, NOW));
    assert_eq!(e.pass_filter_generation(), generation);
    assert_eq!(
        e.classify(b"token.acme-dns.dev.", TYPE_TXT, CLASS_IN, NOW),
        Verdict::Forward
    );
    // Expired and purged: the label goes again.
    assert!(e.purge(NOW + 61_000 + 1) >= 1);
    assert_eq!(e.pass_filter(), before);
}

#[test]
fn the_label_bit_ignores_letter_case() {
    use crate::state::filter::label_bit;
    assert_eq!(label_bit(b"COM"), label_bit(b"com"));
    assert_ne!(label_bit(b"com"), label_bit(b"net"));
    let wire = wire_name("example.com");
    assert_eq!(name::labels(&wire).last(), Some(&b"com"[..]));
    let mut f = PassFilter {
        types: [u64::MAX; 4],
        labels: [0; 64],
        hairpin_labels: [0; 64],
        pairs: [0; 64],
    };
    f.add_name(&wire);
    assert!(!f.passes(b"www.Example.COM.", TYPE_TXT, CLASS_IN));
    assert!(f.passes(b"www.example.net.", TYPE_TXT, CLASS_IN));
    // A and AAAA also need the first label: a nameserver host's, or a hairpin label.
    assert!(f.passes(b"www.Example.COM.", TYPE_A, CLASS_IN));
    f.pairs = [u64::MAX; 64];
    assert!(!f.passes(b"www.Example.COM.", TYPE_A, CLASS_IN));
}

#[test]
fn addresses_of_public_names_beside_the_nameservers_are_ruled_out() {
    for (state, e) in engines() {
        let f = e.pass_filter();
        let rules_out = f.passes(b"db.internal.example.com.", TYPE_A, CLASS_IN);
        // Only a hairpin name under .com keeps them; no nameserver host starts with `db`.
        assert_eq!(rules_out, state != "hairpin", "{state}");
    }
}
