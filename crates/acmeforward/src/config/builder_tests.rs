//! Unit tests of the configuration builder: every setter's range and error, and what `build`
//! derives.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::builder::*;
use crate::config::error::ConfigError;

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

#[test]
fn defaults() {
    let mut b = ConfigBuilder::new();
    let c = b.upstream("192.0.2.53").and_then(|b| b.build());
    let c = c.ok();
    assert_eq!(
        c.as_ref().map(Config::timeout),
        Some(Duration::from_secs(2))
    );
    assert_eq!(c.as_ref().map(Config::max_ttl), Some(30));
    assert_eq!(
        c.as_ref().map(|c| c.zones().to_vec()),
        Some(vec![Zone::root()]),
        "no zone configured means the root"
    );
    assert_eq!(
        c.as_ref().map(|c| c.upstreams().to_vec()),
        Some(vec![addr("192.0.2.53:53")])
    );
}

#[test]
fn no_upstream() {
    let mut b = ConfigBuilder::new();
    assert!(b.zone("example.com").is_ok());
    assert_eq!(b.build().err(), Some(ConfigError::NoUpstream));
    assert_eq!(
        ConfigError::NoUpstream.to_string(),
        "no upstream: add `to ADDRESS`"
    );
}

#[test]
fn upstream_forms() {
    let cases = [
        ("192.0.2.53", "192.0.2.53:53"),
        ("192.0.2.53:5353", "192.0.2.53:5353"),
        ("2001:db8::53", "[2001:db8::53]:53"),
        ("[2001:db8::53]", "[2001:db8::53]:53"),
        ("[2001:db8::53]:8053", "[2001:db8::53]:8053"),
        ("::1", "[::1]:53"),
        ("127.0.0.1:65535", "127.0.0.1:65535"),
    ];
    for (input, want) in cases {
        assert_eq!(parse_upstream(input), Ok(addr(want)), "{input}");
    }
}

#[test]
fn upstream_errors() {
    for bad in [
        "",
        "example.com",
        "example.com:53",
        "192.0.2",
        "192.0.2.256",
        "[192.0.2.53]:53",
        "[2001:db8::53",
        "[2001:db8::53]53",
        "2001:db8::53:53:53:53:53:53",
        " 192.0.2.53",
        "fe80::1%eth0",
    ] {
        assert_eq!(
            parse_upstream(bad),
            Err(ConfigError::AddressInvalid),
            "{bad:?}"
        );
    }
    for bad in [
        "192.0.2.53:",
        "192.0.2.53:0",
        "192.0.2.53:65536",
        "192.0.2.53:+53",
        "192.0.2.53:dns",
        "[2001:db8::53]:",
        "[2001:db8::53]:99999",
    ] {
        assert_eq!(
            parse_upstream(bad),
            Err(ConfigError::PortInvalid),
            "{bad:?}"
        );
    }
}

#[test]
fn upstream_order_kept_duplicates_dropped() {
    let mut b = ConfigBuilder::new();
    let r = b
        .upstream("192.0.2.2")
        .and_then(|b| b.upstream("192.0.2.1"))
        .and_then(|b| b.upstream("192.0.2.2:53"))
        .and_then(|b| b.build());
    assert_eq!(
        r.map(|c| c.upstreams().to_vec()),
        Ok(vec![addr("192.0.2.2:53"), addr("192.0.2.1:53")])
    );
}

#[test]
fn tls_upstreams_are_upstreams_in_order_and_marked() {
    let mut b = ConfigBuilder::new();
    let r = b
        .upstream("192.0.2.1")
        .and_then(|b| b.upstream_tls("192.0.2.2:853"))
        .and_then(|b| b.upstream_tls("[2001:db8::53]:853"))
        .and_then(|b| b.upstream_tls("192.0.2.2:853"))
        .and_then(|b| b.build());
    let c = r.ok();
    assert_eq!(
        c.as_ref().map(|c| c.upstreams().to_vec()),
        Some(vec![
            addr("192.0.2.1:53"),
            addr("192.0.2.2:853"),
            addr("[2001:db8::53]:853")
        ])
    );
    assert_eq!(
        c.as_ref().map(|c| c.tls_upstreams().to_vec()),
        Some(vec![addr("192.0.2.2:853"), addr("[2001:db8::53]:853")])
    );
}

#[test]
fn an_address_added_both_ways_is_tls_in_its_first_place() {
    let mut b = ConfigBuilder::new();
    let r = b
        .upstream("192.0.2.1:853")
        .and_then(|b| b.upstream("192.0.2.2"))
        .and_then(|b| b.upstream_tls("192.0.2.1:853"))
        .and_then(|b| b.upstream("192.0.2.1:853"))
        .and_then(|b| b.build());
    let c = r.ok();
    assert_eq!(
        c.as_ref().map(|c| c.upstreams().to_vec()),
        Some(vec![addr("192.0.2.1:853"), addr("192.0.2.2:53")])
    );
    assert_eq!(
        c.as_ref().map(|c| c.tls_upstreams().to_vec()),
        Some(vec![addr("192.0.2.1:853")])
    );
}

#[test]
fn tls_upstream_errors_leave_the_builder_unchanged() {
    let mut b = ConfigBuilder::new();
    assert_eq!(
        b.upstream_tls("tls://192.0.2.1").err(),
        Some(ConfigError::AddressInvalid)
    );
    assert_eq!(
        b.upstream_tls("192.0.2.1:0").err(),
        Some(ConfigError::PortInvalid)
    );
    assert_eq!(b, ConfigBuilder::new());
    assert_eq!(b.build().err(), Some(ConfigError::NoUpstream));
    // Without a port it is port 53, as for `upstream`: the caller gives 853.
    let c = b.upstream_tls("192.0.2.1").and_then(|b| b.build()).ok();
    assert_eq!(
        c.map(|c| c.tls_upstreams().to_vec()),
        Some(vec![addr("192.0.2.1:53")])
    );
}

#[test]
fn zones_lowercased_wire_deduplicated() {
    let mut b = ConfigBuilder::new();
    let r = b
        .zone("Example.COM.")
        .and_then(|b| b.zone("example.com"))
        .and_then(|b| b.zone(r"a\.b.org"))
        .and_then(|b| b.upstream("192.0.2.53"))
        .and_then(|b| b.build());
    let zones: Vec<Vec<u8>> = r
        .map(|c| c.zones().iter().map(|z| z.wire().to_vec()).collect())
        .unwrap_or_default();
    assert_eq!(
        zones,
        vec![
            b"\x07example\x03com\x00".to_vec(),
            b"\x03a.b\x03org\x00".to_vec()
        ]
    );
}

#[test]
fn root_zone_subsumes_others() {
    let mut b = ConfigBuilder::new();
    let r = b
        .zone("example.com")
        .and_then(|b| b.zone("."))
        .and_then(|b| b.upstream("192.0.2.53"))
        .and_then(|b| b.build());
    assert_eq!(r.map(|c| c.zones().to_vec()), Ok(vec![Zone::root()]));
}

#[test]
fn zone_errors_map_to_config_errors() {
    let mut b = ConfigBuilder::new();
    assert_eq!(b.zone("").err(), Some(ConfigError::NameEmpty));
    assert_eq!(b.zone("a..b").err(), Some(ConfigError::NameEmptyLabel));
    assert_eq!(
        b.zone(&"x".repeat(64)).err(),
        Some(ConfigError::NameLabelTooLong)
    );
    assert_eq!(
        b.zone(&"a.".repeat(128)).err(),
        Some(ConfigError::NameTooLong)
    );
    assert_eq!(b.zone("a\\").err(), Some(ConfigError::NameBadEscape));
    assert_eq!(
        ConfigError::NameLabelTooLong.to_string(),
        "label longer than 63 octets"
    );
}

#[test]
fn timeout_range() {
    let mut b = ConfigBuilder::new();
    assert_eq!(
        b.timeout(Duration::ZERO).err(),
        Some(ConfigError::TimeoutOutOfRange)
    );
    assert_eq!(
        b.timeout(Duration::from_micros(999)).err(),
        Some(ConfigError::TimeoutOutOfRange)
    );
    assert_eq!(
        b.timeout(Duration::from_millis(60_001)).err(),
        Some(ConfigError::TimeoutOutOfRange)
    );
    assert!(b.timeout(Duration::from_millis(1)).is_ok());
    assert!(b.timeout(Duration::from_secs(60)).is_ok());
    let r = b
        .timeout(Duration::from_millis(1500))
        .and_then(|b| b.upstream("192.0.2.53"))
        .and_then(|b| b.build());
    assert_eq!(r.map(|c| c.timeout()), Ok(Duration::from_millis(1500)));
}

#[test]
fn max_ttl_range() {
    let mut b = ConfigBuilder::new();
    assert_eq!(
        b.max_ttl(604_801).err(),
        Some(ConfigError::MaxTtlOutOfRange)
    );
    assert!(b.max_ttl(604_800).is_ok());
    let r = b
        .max_ttl(0)
        .and_then(|b| b.upstream("192.0.2.53"))
        .and_then(|b| b.build());
    assert_eq!(r.map(|c| c.max_ttl()), Ok(0));
}

#[test]
fn failed_setter_leaves_builder_unchanged() {
    let mut b = ConfigBuilder::new();
    let before = b.clone();
    assert!(b.zone("a..b").is_err());
    assert!(b.upstream("nope").is_err());
    assert!(b.timeout(Duration::ZERO).is_err());
    assert!(b.max_ttl(u32::MAX).is_err());
    assert!(b.delegated("a\\").is_err());
    assert_eq!(b.delegated(".").err(), Some(ConfigError::DelegatedRoot));
    assert!(b.max_learned(0).is_err());
    assert!(b.hairpin("www.example.com").is_err());
    assert!(
        b.hairpin("www.example.com 192.0.2.1 www.example.com")
            .is_err()
    );
    assert_eq!(b, before);
}

fn build(setup: impl FnOnce(&mut ConfigBuilder) -> Result<(), ConfigError>) -> Config {
    let mut b = ConfigBuilder::new();
    assert_eq!(setup(&mut b), Ok(()));
    assert!(b.upstream("192.0.2.53").is_ok());
    match b.build() {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn discovery_delegation_and_learning_defaults() {
    let c = build(|_| Ok(()));
    assert!(c.discovery());
    assert!(c.delegated().is_empty());
    assert!(c.discovery_zones().is_empty());
    assert_eq!(c.upstream_mode(), UpstreamMode::Recursive);
    assert_eq!(c.max_learned(), DEFAULT_MAX_LEARNED);
    assert_eq!(DEFAULT_MAX_LEARNED, 4096);
}

#[test]
fn max_learned_range() {
    let mut b = ConfigBuilder::new();
    for bad in [0, 15, 1_048_577, usize::MAX] {
        assert_eq!(
            b.max_learned(bad).err(),
            Some(ConfigError::MaxLearnedOutOfRange),
            "{bad}"
        );
    }
    for good in [16, 4096, 1_048_576] {
        assert!(b.max_learned(good).is_ok(), "{good}");
    }
    let c = build(|b| b.max_learned(100).map(|_| ()));
    assert_eq!(c.max_learned(), 100);
    assert_eq!(
        ConfigError::MaxLearnedOutOfRange.to_string(),
        "max_learned out of range: must be from 16 to 1048576 entries"
    );
}

#[test]
fn discovery_mode_and_delegated() {
    let c = build(|b| {
        b.discovery(false)
            .upstream_mode(UpstreamMode::Authoritative)
            .delegated("Acme.Example.NET.")?
            .delegated("acme.example.net")?
            .delegated("x.acme.example.org")?;
        Ok(())
    });
    assert!(!c.discovery());
    assert_eq!(c.upstream_mode(), UpstreamMode::Authoritative);
    let delegated: Vec<String> = c.delegated().iter().map(Zone::to_string).collect();
    assert_eq!(delegated, ["acme.example.net.", "x.acme.example.org."]);
    let ancestors: Vec<String> = c
        .delegated_ancestors()
        .iter()
        .map(Zone::to_string)
        .collect();
    assert_eq!(
        ancestors,
        [
            "example.net.",
            "net.",
            "acme.example.org.",
            "example.org.",
            "org."
        ]
    );
    assert_eq!(UpstreamMode::Recursive as u8, 0);
    assert_eq!(UpstreamMode::Authoritative as u8, 1);
}

#[test]
fn discovery_zones_are_the_listed_ones_without_the_root() {
    let c = build(|b| {
        b.zone("example.com")?.zone(".")?.zone("example.org")?;
        Ok(())
    });
    assert_eq!(c.zones().to_vec(), vec![Zone::root()]);
    let d: Vec<String> = c.discovery_zones().iter().map(Zone::to_string).collect();
    assert_eq!(d, ["example.com.", "example.org."]);
}

#[test]
fn every_error_has_a_distinct_message() {
    let all = [
        ConfigError::NameEmpty,
        ConfigError::NameEmptyLabel,
        ConfigError::NameLabelTooLong,
        ConfigError::NameTooLong,
        ConfigError::NameBadEscape,
        ConfigError::AddressInvalid,
        ConfigError::PortInvalid,
        ConfigError::TimeoutOutOfRange,
        ConfigError::MaxTtlOutOfRange,
        ConfigError::NoUpstream,
        ConfigError::MaxLearnedOutOfRange,
        ConfigError::DelegatedRoot,
        ConfigError::HairpinNameIsAddress,
        ConfigError::HairpinMissingTarget,
        ConfigError::HairpinBadWildcard,
        ConfigError::HairpinTargetInvalid,
        ConfigError::HairpinDuplicateName,
        ConfigError::ProtectedRoot,
        ConfigError::ZoneProtected,
        ConfigError::DelegatedProtected,
        ConfigError::NetInvalid,
        ConfigError::MaxTimeOutOfRange,
        ConfigError::MaxConcurrentOutOfRange,
        ConfigError::HairpinRootName,
        ConfigError::LabelEmpty,
        ConfigError::LabelNoUnderscore,
        ConfigError::LabelTooLong,
        ConfigError::LabelBadCharacter,
        ConfigError::LabelDuplicate,
        ConfigError::TooManyLabels,
        ConfigError::HairpinTargetNotHostName,
        ConfigError::HairpinNameNotHostName,
        ConfigError::HairpinProtected,
    ];
    let mut msgs: Vec<&str> = all.iter().map(ConfigError::as_str).collect();
    msgs.sort_unstable();
    msgs.dedup();
    assert_eq!(msgs.len(), all.len());
    assert_eq!(
        ConfigError::AddressInvalid.to_string(),
        "not an IP address: expected IP or IP:PORT, e.g. 192.0.2.53 or [2001:db8::53]:53"
    );
}

#[test]
fn zone_display() {
    assert_eq!(Zone::root().to_string(), ".");
    assert_eq!(
        Zone::parse(r"A\.b.Example.com").map(|z| z.to_string()),
        Ok(r"a\.b.example.com.".to_string())
    );
}

#[test]
fn labels_default_then_replaced() {
    let mut b = ConfigBuilder::new();
    let c = b.upstream("192.0.2.53").and_then(|b| b.build()).ok();
    assert_eq!(
        c.map(|c| c.labels().map(str::to_owned).collect::<Vec<_>>()),
        Some(vec![
            "_acme-challenge".to_owned(),
            "_validation-persist".to_owned()
        ])
    );
    // The first `label` replaces the defaults, so a default label may be given again once.
    let c = b
        .label("_Validation-Persist")
        .and_then(|b| b.label("_acme-challenge"))
        .and_then(|b| b.build())
        .ok();
    assert_eq!(
        c.map(|c| c.labels().map(str::to_owned).collect::<Vec<_>>()),
        Some(vec![
            "_validation-persist".to_owned(),
            "_acme-challenge".to_owned()
        ])
    );
    assert_eq!(
        b.label("_ACME-challenge").err(),
        Some(ConfigError::LabelDuplicate)
    );
}

#[test]
fn label_errors_leave_the_builder_unchanged() {
    let long = format!("_{}", "x".repeat(63));
    for (label, err) in [
        ("", ConfigError::LabelEmpty),
        ("acme", ConfigError::LabelNoUnderscore),
        (long.as_str(), ConfigError::LabelTooLong),
        ("_a.example", ConfigError::LabelBadCharacter),
        (r"_a\095", ConfigError::LabelBadCharacter),
    ] {
        let mut b = ConfigBuilder::new();
        assert_eq!(b.label(label).err(), Some(err), "{label:?}");
        assert_eq!(b, ConfigBuilder::new(), "{label:?}");
    }
    let mut b = ConfigBuilder::new();
    for i in 0..crate::MAX_CHALLENGE_LABELS {
        assert!(b.label(&format!("_l{i}")).is_ok());
    }
    let full = b.clone();
    assert_eq!(b.label("_one-more").err(), Some(ConfigError::TooManyLabels));
    assert_eq!(b.label("_l3").err(), Some(ConfigError::LabelDuplicate));
    assert_eq!(b, full);
}

#[test]
fn hairpin_name_inside_a_protected_zone_is_an_error() {
    // Refused by whichever call comes second, so that the error points at that line.
    let mut b = ConfigBuilder::new();
    for line in [
        "kubernetes.default.svc.cluster.local 10.0.0.1",
        "*.svc.cluster.local 10.0.0.1",
        "www.example.com 1.0.0.10.in-addr.arpa 10.0.0.1",
        "b.ip6.arpa 10.0.0.1",
        "www.localhost 10.0.0.1",
    ] {
        assert_eq!(
            b.hairpin(line).err(),
            Some(ConfigError::HairpinProtected),
            "{line}"
        );
    }
    assert!(b.protect("corp.internal").is_ok());
    assert_eq!(
        b.hairpin("db.corp.internal 10.0.0.1").err(),
        Some(ConfigError::HairpinProtected)
    );
    assert!(b.hairpin("*.apps.example.com 10.0.0.1").is_ok());
    let before = b.clone();
    assert_eq!(
        b.protect("example.com").err(),
        Some(ConfigError::HairpinProtected)
    );
    assert_eq!(
        b.protect("apps.example.com").err(),
        Some(ConfigError::HairpinProtected)
    );
    assert_eq!(b, before);
    // Below a wildcard's zone, or a sibling: no NAME inside.
    assert!(b.protect("x.apps.example.com").is_ok());
    assert!(b.protect("example.org").is_ok());
    // A target in a protected zone is what a hairpin is for.
    assert!(
        b.hairpin("www.example.com ingress.ingress-nginx.svc.cluster.local")
            .is_ok()
    );
    assert!(b.upstream("192.0.2.53").is_ok());
    assert!(b.build().is_ok());
}
