//! The forwarding rules of the engine, one by one.

use super::*;
use crate::config::builder::ConfigBuilder;
use crate::testutil::wire_name;

fn engine(setup: impl FnOnce(&mut ConfigBuilder)) -> Engine {
    let mut b = ConfigBuilder::new();
    assert!(b.upstream("192.0.2.53").is_ok());
    setup(&mut b);
    match b.build() {
        Ok(c) => Engine::new(c),
        Err(e) => panic!("config: {e}"),
    }
}

fn rule(e: &Engine, name: &str, qtype: u16) -> Option<Rule> {
    e.rule(name.as_bytes(), qtype, 1, 1000)
}

use crate::wire::{
    TYPE_A as A, TYPE_AAAA as AAAA, TYPE_CNAME as CNAME, TYPE_NS as NS, TYPE_SOA as SOA,
    TYPE_TXT as TXT,
};

#[test]
fn rule1_challenge_any_type() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
    });
    for qtype in [A, NS, SOA, TXT, AAAA, 255] {
        assert_eq!(
            rule(&e, "_acme-challenge.www.example.com.", qtype),
            Some(Rule::Challenge)
        );
    }
    assert_eq!(rule(&e, "_acme-challenge.example.org.", TXT), None);
    assert_eq!(
        e.rule(b"_acme-challenge.example.com", TXT, 3, 0),
        None,
        "class IN only"
    );
}

#[test]
fn rule2_soa_ns_in_listed_zones_only() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
    });
    for name in ["example.com.", "www.example.com", "a.b.example.com."] {
        assert_eq!(rule(&e, name, SOA), Some(Rule::Discovery), "{name}");
        assert_eq!(rule(&e, name, NS), Some(Rule::Discovery), "{name}");
        assert_eq!(rule(&e, name, A), None, "{name}");
        assert_eq!(rule(&e, name, TXT), None, "{name}");
    }
    assert_eq!(rule(&e, "com.", SOA), None);
    assert_eq!(rule(&e, "cluster.local.", SOA), None);

    // No zone listed (or only the root): rule 2 matches nothing.
    for e in [
        engine(|_| {}),
        engine(|b| {
            assert!(b.zone(".").is_ok());
        }),
    ] {
        assert_eq!(rule(&e, "example.com.", SOA), None);
        assert_eq!(rule(&e, "cluster.local.", SOA), None);
        assert_eq!(rule(&e, "svc.cluster.local.", NS), None);
    }

    // discovery off.
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
        b.discovery(false);
    });
    assert_eq!(rule(&e, "example.com.", SOA), None);
    assert_eq!(
        rule(&e, "_acme-challenge.example.com.", SOA),
        Some(Rule::Challenge)
    );
}

#[test]
fn rule2_ancestors_of_delegated_zones() {
    let e = engine(|b| {
        assert!(b.delegated("acme.auth.example.net").is_ok());
    });
    for name in ["auth.example.net.", "example.net", "net."] {
        assert_eq!(rule(&e, name, SOA), Some(Rule::Discovery), "{name}");
        assert_eq!(rule(&e, name, NS), Some(Rule::Discovery), "{name}");
        assert_eq!(rule(&e, name, A), None, "{name}");
    }
    assert_eq!(rule(&e, ".", SOA), None, "never the root");
    assert_eq!(rule(&e, "other.example.net.", SOA), None, "not an ancestor");
    let off = engine(|b| {
        assert!(b.delegated("acme.auth.example.net").is_ok());
        b.discovery(false);
    });
    assert_eq!(rule(&off, "example.net.", SOA), None);
}

#[test]
fn rule4_delegated_zone_check_types_only() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.delegated("Acme.Auth.example.NET.").is_ok());
        b.discovery(false);
    });
    for name in [
        "acme.auth.example.net.",
        "x.acme.auth.example.net",
        "A.B.ACME.AUTH.EXAMPLE.NET",
    ] {
        for qtype in [CNAME, SOA, TXT, NS] {
            assert_eq!(
                rule(&e, name, qtype),
                Some(Rule::Delegated),
                "{name} {qtype}"
            );
        }
        for qtype in [A, AAAA, 15, 33, 255, 65535] {
            assert_eq!(rule(&e, name, qtype), None, "{name} {qtype}");
        }
    }
    assert_eq!(rule(&e, "xacme.auth.example.net.", TXT), None);
    assert_eq!(rule(&e, r"x\.acme.auth.example.net.", TXT), None);
}

#[test]
fn learned_rules_3_4_5() {
    let e = engine(|_| {});
    e.update(|l| {
        l.learn(&wire_name("ns1.example.net"), Fact::NsHost, 300, 0);
        l.learn(&wire_name("t.auth.example.org"), Fact::CnameTarget, 300, 0);
        l.learn(&wire_name("example.com"), Fact::Ancestor, 300, 0);
    });
    assert_eq!(e.learned_len(), 3);
    assert_eq!(rule(&e, "NS1.example.net", A), Some(Rule::NsHost));
    assert_eq!(rule(&e, "ns1.example.net.", AAAA), Some(Rule::NsHost));
    assert_eq!(rule(&e, "ns1.example.net.", TXT), None);
    for qtype in [CNAME, TXT, SOA, NS] {
        assert_eq!(
            rule(&e, "t.auth.example.org.", qtype),
            Some(Rule::CnameTarget)
        );
    }
    // Never an application's types: the target may be a name some pod uses.
    for qtype in [A, AAAA, 15, 255] {
        assert_eq!(rule(&e, "t.auth.example.org.", qtype), None, "{qtype}");
    }
    assert_eq!(rule(&e, "u.auth.example.org.", TXT), None);
    assert_eq!(rule(&e, "example.com.", SOA), Some(Rule::Ancestor));
    assert_eq!(rule(&e, "example.com.", NS), Some(Rule::Ancestor));
    assert_eq!(rule(&e, "example.com.", A), None);
    // Expired: nothing forwarded (the entries are still counted).
    assert_eq!(e.rule(b"ns1.example.net", A, 1, 300_000), None);
    assert_eq!(e.rule(b"t.auth.example.org", TXT, 1, 300_000), None);
    assert_eq!(e.rule(b"example.com", SOA, 1, 300_000), None);
    assert_eq!(e.learned_len(), 3);
    assert_eq!(e.purge(300_000), 3);
    assert_eq!(e.learned_len(), 0);
}

#[test]
fn discovery_off_keeps_only_learned_cname_targets() {
    let e = engine(|b| {
        b.discovery(false);
    });
    assert!(e.learn(&wire_name("ns1.example.net"), Fact::NsHost, 300, 0));
    assert!(e.learn(&wire_name("t.example.org"), Fact::CnameTarget, 300, 0));
    assert!(e.learn(&wire_name("example.com"), Fact::Ancestor, 300, 0));
    assert!(!e.learn(b"\x03ab", Fact::Ancestor, 300, 0));
    assert_eq!(rule(&e, "ns1.example.net.", A), None);
    assert_eq!(rule(&e, "example.com.", SOA), None);
    assert_eq!(rule(&e, "t.example.org.", TXT), Some(Rule::CnameTarget));
}

#[test]
fn classify_is_rule_is_some() {
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
    });
    assert_eq!(
        e.classify(b"_acme-challenge.example.com", TXT, 1, 0),
        Verdict::Forward
    );
    assert_eq!(e.classify(b"www.example.com", A, 1, 0), Verdict::Pass);
    assert_eq!(e.classify(b"", A, 1, 0), Verdict::Pass);
    assert_eq!(e.classify(b"a..b", SOA, 1, 0), Verdict::Pass);
}

#[test]
fn engine_is_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
}

/// The verdict carries its rule into the exchange: the question classified starts it, any other
/// question (or a PASS) is refused, and the filter skipped on the caller's word changes nothing.
#[test]
fn classified_question_starts_its_exchange_only() {
    use crate::testutil::query;
    use crate::{Exchange, Transport};
    let e = engine(|b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.hairpin("www.example.com 10.96.0.80").is_ok());
    });
    let challenge = e.classify_question(b"_ACME-challenge.example.com.", TXT, 1, 0, false);
    assert_eq!(challenge.verdict, Verdict::Forward);
    assert_eq!(challenge.rule, Some(Rule::Challenge));
    assert_ne!(challenge.check, 0);
    let hairpin = e.classify_question(b"www.example.com.", A, 1, 0, false);
    assert_eq!((hairpin.verdict, hairpin.rule), (Verdict::Hairpin, None));
    let pass = e.classify_question(b"db.example.com.", A, 1, 0, false);
    assert_eq!(pass, Classified::PASS);

    let start = |c: Classified, name: &str, qtype: u16| {
        Exchange::classified(&e, c, &query(7, name, qtype, None), Transport::Udp, 1, 0)
    };
    assert!(start(challenge, "_acme-challenge.EXAMPLE.com.", TXT).is_ok());
    assert!(start(hairpin, "www.example.com.", A).is_ok());
    for (c, name, qtype) in [
        (challenge, "_acme-challenge.example.com.", A),
        (challenge, "_acme-challenge.www.example.com.", TXT),
        (hairpin, "www.example.com.", AAAA),
        (pass, "db.example.com.", A),
        (
            Classified {
                check: 0,
                ..challenge
            },
            "_acme-challenge.example.com.",
            TXT,
        ),
    ] {
        assert_eq!(
            start(c, name, qtype).err(),
            Some(crate::QueryError::NotClassified),
            "{name} {qtype}"
        );
    }

    // The filter only spares work: applied or not, the same verdicts.
    for name in [
        "_acme-challenge.example.com.",
        "www.example.com.",
        "WWW.Example.COM",
        "db.example.com.",
        "api.svc.cluster.local.",
        r"www.example\.com.",
        ".",
    ] {
        for qtype in [A, AAAA, TXT, NS, SOA, 15] {
            let filtered = e.classify_question(name.as_bytes(), qtype, 1, 0, false);
            let unfiltered = e.classify_question(name.as_bytes(), qtype, 1, 0, true);
            assert_eq!(filtered, unfiltered, "{name} {qtype}");
        }
    }
}
