//! Rule 1 on the configuration alone: challenge names in the zones, escapes, classes, no zone.

use super::*;
use crate::config::Config;
use crate::config::builder::ConfigBuilder;

fn config(zones: &[&str]) -> Config {
    let mut b = ConfigBuilder::new();
    for z in zones {
        assert!(b.zone(z).is_ok(), "{z}");
    }
    assert!(b.upstream("192.0.2.53").is_ok());
    match b.build() {
        Ok(c) => c,
        Err(e) => panic!("config: {e}"),
    }
}

fn verdict(c: &Config, name: &str) -> Verdict {
    c.classify(name.as_bytes(), 16, 1)
}

#[test]
fn forwards_challenge_names_in_zone() {
    let c = config(&["example.com"]);
    for name in [
        "_acme-challenge.example.com",
        "_acme-challenge.example.com.",
        "_acme-challenge.www.example.com.",
        "_ACME-Challenge.Example.COM.",
        r"\095acme-challenge.example.com.",
        r"\_acme-challenge.example.com.",
        r"_acme\-challenge.example.com.",
        r"\095\097\099\109\101-challenge.example.com",
    ] {
        assert_eq!(verdict(&c, name), Verdict::Forward, "{name}");
    }
}

#[test]
fn forwards_dns_persist_01_names_in_zone() {
    let c = config(&["example.com"]);
    for name in [
        "_validation-persist.example.com",
        "_validation-persist.www.example.com.",
        "_Validation-PERSIST.Example.COM.",
        r"\095validation-persist.example.com.",
        r"\_validation-persist.www.example.com",
        r"_validation\-persist.example.com.",
    ] {
        assert_eq!(verdict(&c, name), Verdict::Forward, "{name}");
    }
    for name in [
        "_validation-persist.example.org.",
        "_validation-persistx.example.com.",
        "_validation.example.com.",
        "x._validation-persist.example.com.",
        r"_validation-persist\.example.com.",
    ] {
        assert_eq!(verdict(&c, name), Verdict::Pass, "{name}");
    }
    let c = config(&[]);
    assert_eq!(
        verdict(&c, "_validation-persist.any.example."),
        Verdict::Forward
    );
    assert_eq!(
        verdict(&c, "_validation-persist.x.svc.cluster.local."),
        Verdict::Pass,
        "protected"
    );
}

#[test]
fn forwards_dns_account_01_names_in_zone() {
    let c = config(&["example.com"]);
    for name in [
        "_ujmmovf2vn55tgye._acme-challenge.example.com",
        "_ujmmovf2vn55tgye._acme-challenge.www.example.com.",
        "_abcdefghijklmnop._acme-challenge.example.com.",
        "_qrstuvwxyz234567._acme-challenge.example.com.",
        // DNS compares names ASCII case-insensitively: an upper-case account label matches.
        "_UJMMOVF2VN55TGYE._ACME-Challenge.example.com.",
        r"\095ujmmovf2vn55tgye._acme-challenge.example.com.",
        r"_ujmmovf2vn55tgy\101._acme-challenge.example.com.",
    ] {
        assert_eq!(verdict(&c, name), Verdict::Forward, "{name}");
    }
    for name in [
        // Not the account shape: the rule-1 exception for deeper names stays.
        "foo._acme-challenge.example.com.",
        "_foo._acme-challenge.example.com.",
        "_ujmmovf2vn55tgy._acme-challenge.example.com.",
        "_ujmmovf2vn55tgyee._acme-challenge.example.com.",
        "_ujmmovf2vn55tgy1._acme-challenge.example.com.",
        "_ujmmovf2vn55tgy8._acme-challenge.example.com.",
        "_ujmmovf2vn55tgy-._acme-challenge.example.com.",
        "ujmmovf2vn55tgyea._acme-challenge.example.com.",
        "_ujmmovf2vn55tgye._validation-persist.example.com.",
        "_ujmmovf2vn55tgye.x._acme-challenge.example.com.",
        "_ujmmovf2vn55tgye.example.com.",
        r"_ujmmovf2vn55tgye\._acme-challenge.example.com.",
        "_ujmmovf2vn55tgye._acme-challenge.example.org.",
        "x._ujmmovf2vn55tgye._acme-challenge.example.com.",
    ] {
        assert_eq!(verdict(&c, name), Verdict::Pass, "{name}");
    }
}

fn config_labels(zones: &[&str], labels: &[&str]) -> Config {
    let mut b = ConfigBuilder::new();
    for z in zones {
        assert!(b.zone(z).is_ok(), "{z}");
    }
    for l in labels {
        assert!(b.label(l).is_ok(), "{l}");
    }
    assert!(b.upstream("192.0.2.53").is_ok());
    match b.build() {
        Ok(c) => c,
        Err(e) => panic!("config: {e}"),
    }
}

#[test]
fn labels_replace_the_defaults() {
    let c = config_labels(&["example.com"], &["_Custom-1"]);
    assert_eq!(c.labels().collect::<Vec<_>>(), ["_custom-1"]);
    assert_eq!(verdict(&c, "_custom-1.example.com."), Verdict::Forward);
    assert_eq!(verdict(&c, "_CUSTOM-1.www.example.com."), Verdict::Forward);
    assert_eq!(verdict(&c, r"\095custom-1.example.com."), Verdict::Forward);
    assert_eq!(verdict(&c, "_custom-1.example.org."), Verdict::Pass);
    for name in [
        "_acme-challenge.example.com.",
        "_validation-persist.example.com.",
        // dns-account-01 follows `_acme-challenge`.
        "_ujmmovf2vn55tgye._acme-challenge.example.com.",
    ] {
        assert_eq!(verdict(&c, name), Verdict::Pass, "{name}");
    }

    let c = config_labels(&[], &["_acme-challenge"]);
    assert_eq!(verdict(&c, "_acme-challenge.x."), Verdict::Forward);
    assert_eq!(
        verdict(&c, "_ujmmovf2vn55tgye._acme-challenge.x."),
        Verdict::Forward
    );
    assert_eq!(verdict(&c, "_validation-persist.x."), Verdict::Pass);

    // Short labels: the length pre-check follows the shortest.
    let c = config_labels(&[], &["_a", "_validation-persist"]);
    assert_eq!(verdict(&c, "_a"), Verdict::Forward);
    assert_eq!(verdict(&c, "_a.b"), Verdict::Forward);
    assert_eq!(verdict(&c, "_validation-persist.b"), Verdict::Forward);
    assert_eq!(verdict(&c, "_b.b"), Verdict::Pass);
    assert_eq!(verdict(&c, "_acme-challenge.b"), Verdict::Pass);
}

#[test]
fn zone_apex_itself_when_it_is_the_challenge_name() {
    let c = config(&["_acme-challenge.example.com"]);
    assert_eq!(
        verdict(&c, "_acme-challenge.example.com."),
        Verdict::Forward
    );
    assert_eq!(verdict(&c, "_acme-challenge.other.com."), Verdict::Pass);
}

#[test]
fn passes_other_names() {
    let c = config(&["example.com"]);
    for name in [
        "example.com.",
        "www.example.com.",
        "x_acme-challenge.example.com.",
        "foo._acme-challenge.example.com.",
        "_acme-challenge-x.example.com.",
        "_acme-challeng.example.com.",
        r"_acme-challenge\.foo.example.com.",
        r"foo\._acme-challenge.example.com.",
        "_acme-challenge.badexample.com.",
        "_acme-challenge.example.org.",
        "_acme-challenge.com.",
        "_acme-challenge.",
        "_acme-challenge",
        ".",
        "",
        "_",
    ] {
        assert_eq!(verdict(&c, name), Verdict::Pass, "{name}");
    }
}

#[test]
fn escaped_dot_does_not_cross_into_zone() {
    let c = config(&["example.com"]);
    // One label "foo.example" followed by "com": not under example.com.
    assert_eq!(
        verdict(&c, r"_acme-challenge.foo\.example.com."),
        Verdict::Pass
    );
    // And the zone written with an escaped dot is a single label.
    let c = config(&[r"foo\.example.com"]);
    assert_eq!(
        verdict(&c, r"_acme-challenge.foo\.example.com."),
        Verdict::Forward
    );
    assert_eq!(
        verdict(&c, "_acme-challenge.foo.example.com."),
        Verdict::Pass
    );
}

#[test]
fn class_must_be_in_type_is_anything() {
    let c = config(&["example.com"]);
    let n = b"_acme-challenge.example.com.";
    for qtype in [1, 5, 16, 28, 255, 65535, 0] {
        assert_eq!(c.classify(n, qtype, 1), Verdict::Forward, "type {qtype}");
    }
    for qclass in [0, 3, 4, 254, 255] {
        assert_eq!(c.classify(n, 16, qclass), Verdict::Pass, "class {qclass}");
    }
}

#[test]
fn no_zone_means_root() {
    let c = config(&[]);
    assert_eq!(
        verdict(&c, "_acme-challenge.anything.example."),
        Verdict::Forward
    );
    assert_eq!(verdict(&c, "_acme-challenge."), Verdict::Forward);
    assert_eq!(verdict(&c, "_acme-challenge"), Verdict::Forward);
    assert_eq!(verdict(&c, "www.anything.example."), Verdict::Pass);
}

#[test]
fn several_zones() {
    let c = config(&["example.com", "example.net"]);
    assert_eq!(
        verdict(&c, "_acme-challenge.a.example.net"),
        Verdict::Forward
    );
    assert_eq!(
        verdict(&c, "_acme-challenge.a.example.com"),
        Verdict::Forward
    );
    assert_eq!(verdict(&c, "_acme-challenge.a.example.org"), Verdict::Pass);
}

#[test]
fn malformed_names_pass() {
    let c = config(&[]);
    let long = format!("_acme-challenge.{}", "a.".repeat(120));
    for name in [
        r"_acme-challenge.example.com\",
        r"_acme-challenge.exa\25mple.com",
        r"_acme-challenge.ex\256.com",
        "_acme-challenge..example.com",
        "_acme-challenge.example..",
        long.as_str(),
    ] {
        assert_eq!(verdict(&c, name), Verdict::Pass, "{name}");
    }
    let label64 = format!("_acme-challenge.{}.com", "x".repeat(64));
    assert_eq!(verdict(&c, &label64), Verdict::Pass);
    // Non-UTF-8 bytes are fine as label content.
    assert_eq!(
        c.classify(b"_acme-challenge.\xff\xfe.", 16, 1),
        Verdict::Forward
    );
}

#[test]
fn acme_inside_longer_escaped_label_passes() {
    let c = config(&[]);
    assert_eq!(verdict(&c, r"_acme-challenge\046x.example."), Verdict::Pass);
    assert_eq!(
        verdict(&c, r"\095acme-challenge\000.example."),
        Verdict::Pass
    );
}
