//! The hairpin table: parsing its lines, the names and targets it refuses, and lookups
//! (exact names, wildcards, the prefilter).

use super::*;
use crate::config::builder::ConfigBuilder;
use crate::rules::classify::Verdict;
use crate::state::engine::Engine;
use crate::testutil::wire_name;

fn table(lines: &[&str]) -> HairpinTable {
    let mut t = HairpinTable::default();
    for l in lines {
        assert_eq!(t.add_line(l, |_| false), Ok(()), "{l}");
    }
    t
}

fn err(lines: &[&str], bad: &str) -> Option<ConfigError> {
    let mut t = table(lines);
    let before = t.clone();
    let e = t.add_line(bad, |_| false).err();
    assert_eq!(t, before, "a failed line leaves the table unchanged");
    e
}

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn addrs(list: &[&str]) -> Target {
    Target::Addrs(list.iter().map(|s| ip(s)).collect())
}

fn target_name(s: &str) -> Target {
    Target::Name(Name::from_labels(name::labels(&wire_name(s))).unwrap_or_default())
}

fn found(t: &HairpinTable, n: &str) -> Option<Target> {
    t.lookup(&wire_name(&n.to_ascii_lowercase())).cloned()
}

#[test]
fn ip_targets_trail() {
    let t = table(&["www.example.com 192.0.2.1 2001:db8::1 192.0.2.2"]);
    assert_eq!(
        found(&t, "www.example.com"),
        Some(addrs(&["192.0.2.1", "2001:db8::1", "192.0.2.2"]))
    );
    assert_eq!(t.len(), 1);
}

#[test]
fn name_target_is_the_last_argument() {
    let t = table(&[
        "www.example.com *.apps.example.com Ingress-Nginx-Controller.ingress-nginx.svc.cluster.local.",
    ]);
    let want = target_name("ingress-nginx-controller.ingress-nginx.svc.cluster.local");
    assert_eq!(found(&t, "www.example.com"), Some(want.clone()));
    assert_eq!(found(&t, "a.apps.example.com"), Some(want));
    assert_eq!(t.len(), 2);
    // Stored lower case.
    match found(&t, "www.example.com") {
        Some(Target::Name(n)) => assert_eq!(
            n.to_ascii(),
            "ingress-nginx-controller.ingress-nginx.svc.cluster.local."
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn several_names_share_the_target_and_whitespace_is_any_ascii_whitespace() {
    let t = table(&["  one.example.com\ttwo.example.com \n 192.0.2.6\r\n192.0.2.7 "]);
    for n in ["one.example.com", "two.example.com"] {
        assert_eq!(
            found(&t, n),
            Some(addrs(&["192.0.2.6", "192.0.2.7"])),
            "{n}"
        );
    }
}

#[test]
fn duplicate_ips_are_dropped() {
    let t = table(&["www.example.com 192.0.2.1 192.0.2.1 ::1 192.0.2.1"]);
    assert_eq!(
        found(&t, "www.example.com"),
        Some(addrs(&["192.0.2.1", "::1"]))
    );
}

#[test]
fn parse_errors() {
    use ConfigError::*;
    let cases: &[(&str, ConfigError)] = &[
        ("", HairpinMissingTarget),
        ("   \t ", HairpinMissingTarget),
        ("www.example.com", HairpinMissingTarget),
        ("192.0.2.1", HairpinMissingTarget),
        ("10.0.0.1 127.0.0.1", HairpinNameIsAddress),
        (". 192.0.2.1", HairpinRootName),
        ("10.0.0.1 ingress.svc.cluster.local", HairpinNameIsAddress),
        ("::1 www.example.com 127.0.0.1", HairpinNameIsAddress),
        (
            "www.example.com 127.0.0.1 ingress.svc.cluster.local",
            HairpinNameIsAddress,
        ),
        ("foo.*.example.com 127.0.0.1", HairpinBadWildcard),
        ("*foo.example.com 127.0.0.1", HairpinBadWildcard),
        ("f*o.example.com 127.0.0.1", HairpinBadWildcard),
        ("*.*.example.com 127.0.0.1", HairpinBadWildcard),
        ("* 127.0.0.1", HairpinBadWildcard),
        ("*. 127.0.0.1", HairpinBadWildcard),
        ("*.. 127.0.0.1", HairpinBadWildcard),
        (r"\*.example.com 127.0.0.1", HairpinBadWildcard),
        (r"\042.example.com 127.0.0.1", HairpinBadWildcard),
        ("*.example.com* 127.0.0.1", HairpinBadWildcard),
        (
            "www.example.com ingress..svc.cluster.local",
            HairpinTargetInvalid,
        ),
        ("www.example.com .", HairpinTargetInvalid),
        ("www.example.com *.svc.cluster.local", HairpinTargetInvalid),
        ("www.example.com a\\", HairpinTargetInvalid),
        ("a..example.com 127.0.0.1", NameEmptyLabel),
        ("*.a..example.com 127.0.0.1", NameEmptyLabel),
        ("www\\9.example.com 127.0.0.1", NameBadEscape),
        (
            "www.example.com www.example.com 127.0.0.1",
            HairpinDuplicateName,
        ),
        (
            "www.example.com WWW.Example.COM. 127.0.0.1",
            HairpinDuplicateName,
        ),
        (
            "*.example.com *.EXAMPLE.com 127.0.0.1",
            HairpinDuplicateName,
        ),
    ];
    for (line, want) in cases {
        assert_eq!(err(&[], line), Some(*want), "{line:?}");
    }
    let long = format!("www.example.com {}.svc.cluster.local", "a".repeat(64));
    assert_eq!(err(&[], &long), Some(HairpinTargetInvalid));
    let long = format!("{}.example.com 127.0.0.1", "a".repeat(64));
    assert_eq!(err(&[], &long), Some(NameLabelTooLong));
}

#[test]
fn targets_are_ip_literals_or_a_host_name() {
    // A mistyped address is refused, not looked up as a name (which would fail every
    // answer for the NAMEs).
    for target in [
        "10.1.2.3:443",
        "[2001:db8::5]",
        "[2001:db8::5]:443",
        "10.1.2.3/32",
        "2001:db8::/64",
        "fe80::1%eth0",
        "010.001.002.003",
        "10.1.2.3.",
        "10.1",
        "1.2.3.4.5",
        "0x0a.0.0.1",
        "ingress.svc:80",
        "http://ingress.svc.cluster.local",
        "-ingress.svc.cluster.local",
        "ingress-.svc.cluster.local",
        r"ingress\.x.svc.cluster.local",
        r"a\@b.svc.cluster.local",
    ] {
        assert_eq!(
            err(&[], &format!("www.example.com {target}")),
            Some(ConfigError::HairpinTargetNotHostName),
            "{target}"
        );
    }
    // Host names: letters, digits, inner `-`, and `_`; a numeric label but the last.
    let t = table(&[
        "a.example.com ingress_nginx.svc.cluster.local",
        "b.example.com 1ingress.9.svc.cluster.local.",
        "c.example.com ingress",
        "d.example.com xn--bcher-kva.example",
    ]);
    assert_eq!(t.len(), 4);
    assert_eq!(
        found(&t, "b.example.com"),
        Some(target_name("1ingress.9.svc.cluster.local"))
    );
}

#[test]
fn names_are_host_names() {
    for name in [
        "10.1.2.3:443",
        "[2001:db8::5]",
        "10.1.2.3/32",
        "fe80::1%eth0",
        "010.001.002.003",
        "www.example.123",
        "-www.example.com",
        "www-.example.com",
        "www.example.com:443",
        r"w\@w.example.com",
        "*.1.2.3",
        "*.example.com:443",
    ] {
        assert_eq!(
            err(&[], &format!("{name} 10.0.0.1")),
            Some(ConfigError::HairpinNameNotHostName),
            "{name}"
        );
    }
    // An address with a port before the plain one is no NAME either.
    assert_eq!(
        err(&[], "www.example.com 10.1.2.3:443 10.0.0.1"),
        Some(ConfigError::HairpinNameNotHostName)
    );
    let t = table(&["_http.example.com x_y.example.com 3com.example *.9.example.com 10.0.0.1"]);
    assert_eq!(t.len(), 4);
}

#[test]
fn names_the_caller_protects_are_refused() {
    let protected = |w: &[u8]| name::is_at_or_below(w, &wire_name("cluster.local"));
    let mut t = HairpinTable::default();
    for line in [
        "www.example.com api.svc.cluster.local 10.0.0.1",
        "cluster.local 10.0.0.1",
        "*.cluster.local 10.0.0.1",
        "*.svc.cluster.local 10.0.0.1",
    ] {
        assert_eq!(
            t.add_line(line, protected),
            Err(ConfigError::HairpinProtected),
            "{line}"
        );
        assert!(t.is_empty(), "{line}");
    }
    // A target there is what a hairpin is for; a parent zone's wildcard is not inside.
    assert_eq!(
        t.add_line(
            "www.example.com *.local ingress.svc.cluster.local",
            protected
        ),
        Ok(())
    );
    assert!(t.has_name_at_or_below(&wire_name("local")));
    assert!(t.has_name_at_or_below(&wire_name("example.com")));
    assert!(t.has_name_at_or_below(&wire_name("www.example.com")));
    assert!(!t.has_name_at_or_below(&wire_name("cluster.local")));
    assert!(!t.has_name_at_or_below(&wire_name("a.www.example.com")));
}

#[test]
fn duplicates_across_lines() {
    let lines = &[
        "www.example.com 127.0.0.1",
        "*.example.com ingress.svc.cluster.local",
    ];
    assert_eq!(
        err(lines, "WWW.Example.COM. 127.0.0.2"),
        Some(ConfigError::HairpinDuplicateName)
    );
    assert_eq!(
        err(lines, "other.example.com *.example.com 127.0.0.2"),
        Some(ConfigError::HairpinDuplicateName)
    );
    // An exact name and the wildcard of the same name are different entries.
    let t = table(&[
        "www.example.com 127.0.0.1",
        "*.www.example.com 127.0.0.2",
        "example.com 127.0.0.3",
    ]);
    assert_eq!(t.len(), 3);
}

#[test]
fn wildcard_matches_strictly_below_the_zone() {
    let t = table(&["*.example.com 192.0.2.2"]);
    for n in [
        "a.example.com",
        "A.b.C.Example.COM",
        "_acme-challengex.www.example.com",
    ] {
        assert_eq!(found(&t, n), Some(addrs(&["192.0.2.2"])), "{n}");
    }
    for n in [
        "example.com",
        "com",
        "badexample.com",
        "a.example.org",
        "example.com.evil",
    ] {
        assert_eq!(found(&t, n), None, "{n}");
    }
    // An escaped dot is inside a label: `a\.example.com` is two labels under `com`.
    assert_eq!(t.lookup(b"\x09a.example\x03com\x00"), None);
}

#[test]
fn exact_beats_wildcard_and_longest_wildcard_wins() {
    let t = table(&[
        "*.example.com 192.0.2.2",
        "exact.example.com 192.0.2.3",
        "*.deep.example.com 192.0.2.4",
        "*.z.y.deep.example.com 192.0.2.5",
    ]);
    assert_eq!(found(&t, "exact.example.com"), Some(addrs(&["192.0.2.3"])));
    // An exact name covers only itself.
    assert_eq!(
        found(&t, "sub.exact.example.com"),
        Some(addrs(&["192.0.2.2"]))
    );
    assert_eq!(found(&t, "x.deep.example.com"), Some(addrs(&["192.0.2.4"])));
    assert_eq!(
        found(&t, "a.b.deep.example.com"),
        Some(addrs(&["192.0.2.4"]))
    );
    assert_eq!(found(&t, "deep.example.com"), Some(addrs(&["192.0.2.2"])));
    assert_eq!(
        found(&t, "q.z.y.deep.example.com"),
        Some(addrs(&["192.0.2.5"]))
    );
    assert_eq!(
        found(&t, "z.y.deep.example.com"),
        Some(addrs(&["192.0.2.4"]))
    );
    // The order the lines came in does not matter.
    let t = table(&[
        "*.deep.example.com 192.0.2.4",
        "exact.example.com 192.0.2.3",
        "*.example.com 192.0.2.2",
    ]);
    assert_eq!(found(&t, "x.deep.example.com"), Some(addrs(&["192.0.2.4"])));
    assert_eq!(found(&t, "exact.example.com"), Some(addrs(&["192.0.2.3"])));
}

#[test]
fn top_label_prefilter() {
    let t = table(&[
        "www.example.com *.apps.example.org 127.0.0.1",
        "api.Internal.LAN 127.0.0.2",
    ]);
    for name in [
        "www.example.com.",
        "WWW.EXAMPLE.COM",
        "x.apps.example.org.",
        "other.com.",
        "host.lan.",
        "lan",
        r"a\.b.example.com.",
        r"www.example.co\109.",
    ] {
        assert!(t.may_match_text(name.as_bytes()), "{name}");
    }
    for name in [
        "kubernetes.default.svc.cluster.local.",
        "www.example.net.",
        "com.edu.",
        "",
        ".",
    ] {
        assert!(!t.may_match_text(name.as_bytes()), "{name}");
    }
    // The engine still applies the forwarding rules to a name the prefilter rejects.
    let mut b = ConfigBuilder::new();
    assert!(b.zone("example.net").is_ok());
    assert!(b.upstream("192.0.2.53").is_ok());
    assert!(b.hairpin("www.example.com 127.0.0.1").is_ok());
    let engine = Engine::new(b.build().expect("config"));
    assert_eq!(
        engine.classify(b"_acme-challenge.example.net.", TYPE_A, 1, 0),
        Verdict::Forward
    );
    assert_eq!(
        engine.classify(b"www.example.com.", TYPE_A, 1, 0),
        Verdict::Hairpin
    );
    assert_eq!(
        engine.classify(b"www.example.net.", TYPE_A, 1, 0),
        Verdict::Pass
    );
}

#[test]
fn length_set() {
    let mut l = Lengths::default();
    for len in [1usize, 63, 64, 65, 127, 128, 200, 255] {
        assert!(!l.contains(len));
        l.insert(len);
        assert!(l.contains(len));
    }
    for len in [0usize, 2, 62, 66, 129, 254, 256, 319, usize::MAX] {
        assert!(!l.contains(len), "{len}");
    }
    // Names of the same length as a key still need the key itself.
    let t = table(&["aaa.example.com 192.0.2.1", "*.bbb.example.com 192.0.2.2"]);
    assert_eq!(found(&t, "aab.example.com"), None);
    assert_eq!(found(&t, "x.bbc.example.com"), None);
    assert_eq!(found(&t, "x.bbb.example.com"), Some(addrs(&["192.0.2.2"])));
    // A 255-octet name under a wildcard.
    let l = "a".repeat(63);
    let long = format!("{l}.{l}.{l}.{}.example.com", "b".repeat(49));
    let t = table(&["*.example.com 192.0.2.3"]);
    assert_eq!(wire_name(&long).len(), 255);
    assert_eq!(found(&t, &long), Some(addrs(&["192.0.2.3"])));
}

#[test]
fn only_a_and_aaaa_have_targets() {
    let t = table(&["www.example.com 192.0.2.1"]);
    let w = wire_name("www.example.com");
    assert!(t.target(&w, TYPE_A).is_some());
    assert!(t.target(&w, TYPE_AAAA).is_some());
    for qtype in [0u16, 2, 5, 6, 15, 16, 33, 65, 255] {
        assert!(t.target(&w, qtype).is_none(), "{qtype}");
    }
    assert!(HairpinTable::default().target(&w, TYPE_A).is_none());
}

#[test]
fn builder_and_config() {
    let mut b = ConfigBuilder::new();
    let built = b
        .upstream("192.0.2.53")
        .and_then(|b| b.hairpin("www.example.com 192.0.2.1"))
        .and_then(|b| b.hairpin("*.apps.example.com svc.cluster.local"))
        .and_then(|b| b.build());
    assert_eq!(built.map(|c| c.hairpin_len()), Ok(2));
    assert_eq!(
        b.hairpin("www.example.com 192.0.2.9").err(),
        Some(ConfigError::HairpinDuplicateName)
    );
}
