//! The address policy (`allow_ns`) and the bailiwick of nameserver hosts, on the
//! configuration alone (driven through exchanges: `policy_exchange_tests.rs`).

use super::*;
use crate::config::builder::ConfigBuilder;
use crate::testutil::wire_name;

fn config(setup: impl FnOnce(&mut ConfigBuilder)) -> Config {
    let mut b = ConfigBuilder::new();
    assert!(b.upstream("192.0.2.53").is_ok());
    setup(&mut b);
    match b.build() {
        Ok(c) => c,
        Err(e) => panic!("config: {e}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

#[test]
fn public_ranges() {
    for a in [
        "192.0.2.53",
        "203.0.113.1",
        "100.63.255.255",
        "100.128.0.0",
        "172.32.0.1",
        "2001:db8::53",
        "::ffff:192.0.2.1",
    ] {
        assert!(is_public(ip(a)), "{a}");
    }
    for a in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fd00::1",
        "fc12::1",
        "fe80::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
    ] {
        assert!(!is_public(ip(a)), "{a}");
    }
}

#[test]
fn allow_ns_opens_a_range() {
    let c = config(|_| {});
    assert_eq!(
        ns_address_allowed(&c, ip("127.0.0.2")),
        Err(Refusal::AddressPolicy)
    );
    let c = config(|b| {
        assert!(b.allow_ns("127.0.0.0/8").is_ok());
        assert!(b.allow_ns("fd00::53").is_ok());
    });
    assert_eq!(ns_address_allowed(&c, ip("127.0.0.2")), Ok(()));
    assert_eq!(ns_address_allowed(&c, ip("fd00::53")), Ok(()));
    assert_eq!(
        ns_address_allowed(&c, ip("fd00::54")),
        Err(Refusal::AddressPolicy)
    );
    assert_eq!(
        ns_address_allowed(&c, ip("10.0.0.1")),
        Err(Refusal::AddressPolicy)
    );
    assert_eq!(ns_address_allowed(&c, ip("192.0.2.1")), Ok(()));
}

#[test]
fn ns_hosts_listed_zones() {
    let c = config(|b| {
        assert!(b.zone("example.com").is_ok());
        assert!(b.delegated("auth.example.net").is_ok());
        assert!(b.protect("corp.internal").is_ok());
    });
    let ok = |host: &str, owner: &str| ns_host_allowed(&c, &wire_name(host), &wire_name(owner));
    assert_eq!(ok("ns1.example.com", "example.com"), Ok(()));
    assert_eq!(ok("ns1.example.com", "example.org"), Ok(()), "listed zone");
    assert_eq!(
        ok("ns1.auth.example.net", "example.org"),
        Ok(()),
        "delegated"
    );
    assert_eq!(ok("ns.sub.example.org", "sub.example.org"), Ok(()));
    assert_eq!(
        ok("ns.example.org", "sub.example.org"),
        Err(Refusal::OutOfBailiwick)
    );
    assert_eq!(
        ok("db.corp.internal", "evil.example.com"),
        Err(Refusal::Protected)
    );
    assert_eq!(
        ok("ingress.svc.cluster.local", "cluster.local"),
        Err(Refusal::Protected),
        "protected even in-bailiwick"
    );
}

#[test]
fn ns_hosts_no_zones_in_bailiwick_only() {
    let c = config(|_| {});
    let ok = |host: &str, owner: &str| ns_host_allowed(&c, &wire_name(host), &wire_name(owner));
    assert_eq!(ok("ns1.attacker.net", "attacker.net"), Ok(()));
    assert_eq!(
        ok("intranet.example.com", "attacker.net"),
        Err(Refusal::OutOfBailiwick)
    );
    assert_eq!(
        ok("kube-dns.kube-system.svc.cluster.local", "attacker.net"),
        Err(Refusal::Protected)
    );
    // A root or TLD NS RRset vouches for nothing: every name is below it.
    assert_eq!(
        ok("intranet.example.com", "."),
        Err(Refusal::OutOfBailiwick)
    );
    assert_eq!(
        ok("intranet.example.com", "com"),
        Err(Refusal::OutOfBailiwick)
    );
}
