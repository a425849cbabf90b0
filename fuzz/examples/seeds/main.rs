//! Writes the seed corpus of every fuzz target into seeds/<target>/ (replacing what is there):
//! real DNS messages and names, in each target's input format (see the targets and common.rs).
//! Run from fuzz/: `cargo run --example seeds`. The DNS messages are built by wire.rs.
#[path = "../../fuzz_targets/common.rs"]
mod common;
mod wire;

use std::fs;
use std::path::Path;

use common::{
    AUTHORITATIVE, CLASS_IN, DELEGATED, DISCOVERY_OFF, LISTED, NONE, PROTECT, TYPE_A, TYPE_AAAA,
    TYPE_CNAME, TYPE_NS, TYPE_SOA, TYPE_TXT, frame,
};
use wire::{
    AA, CLASS_CH, NXDOMAIN, QNAME, RA, SERVFAIL, TC, TYPE_DNAME, name, opt, query, reply, rr, soa,
    txt,
};

// Frame kinds (common::Kind).
const REPLY: u8 = 0;
const NO_REPLY: u8 = 1;
const UDP_QUERY: u8 = 4;
const TCP_QUERY: u8 = 5;

fn write(target: &str, seed: &str, bytes: &[u8]) {
    let dir = Path::new("seeds").join(target);
    fs::create_dir_all(&dir).expect("seed directory");
    fs::write(dir.join(seed), bytes).expect("seed file");
}

fn frames(selector: Option<usize>, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = selector.map(|s| s as u8).into_iter().collect();
    for f in frames {
        out.extend_from_slice(f);
    }
    out
}

fn q(ctl: u8, bytes: Vec<u8>) -> Vec<u8> {
    frame(ctl, 0, &bytes)
}

fn r(bytes: Vec<u8>) -> Vec<u8> {
    frame(REPLY, 0, &bytes)
}

fn classify_seeds() {
    let seeds: [(&str, u16, u16, &str); 11] = [
        (
            "challenge",
            TYPE_TXT,
            CLASS_IN,
            "_acme-challenge.www.example.com.",
        ),
        (
            "challenge-escaped",
            TYPE_TXT,
            CLASS_IN,
            r"\095ACME-challenge.Sub.Example.ORG",
        ),
        ("soa-walk", TYPE_SOA, CLASS_IN, "www.example.com"),
        ("ns-host", TYPE_A, CLASS_IN, "ns1.example.com."),
        (
            "delegated",
            TYPE_TXT,
            CLASS_IN,
            "_acme-challenge.x.auth.example.net.",
        ),
        ("cname-target", TYPE_CNAME, CLASS_IN, "t.acme.example.net"),
        ("hairpin", TYPE_A, CLASS_IN, "www.example.com."),
        (
            "hairpin-wildcard",
            TYPE_AAAA,
            CLASS_IN,
            "foo.apps.example.com",
        ),
        (
            "protected",
            TYPE_TXT,
            CLASS_IN,
            "_acme-challenge.kube-dns.kube-system.svc.cluster.local.",
        ),
        (
            "protected-in-zone",
            TYPE_TXT,
            CLASS_IN,
            "_acme-challenge.db.internal.example.com",
        ),
        ("chaos", TYPE_TXT, CLASS_CH, "version.bind."),
    ];
    for (seed, qtype, qclass, qname) in seeds {
        let mut bytes = qtype.to_be_bytes().to_vec();
        bytes.extend_from_slice(&qclass.to_be_bytes());
        bytes.extend_from_slice(qname.as_bytes());
        write("classify", seed, &bytes);
    }
}

fn names_seeds() {
    let seeds: [(&str, &str); 7] = [
        (
            "labels",
            "z example.com\nl _Custom-1\nl _acme-challenge\nl _custom-1\nl bad\nl _a.b\n\
             q _custom-1.www.example.com\nq _ujmmovf2vn55tgye._acme-challenge.example.com\n\
             q _validation-persist.example.com\nq \\095custom-1.svc.cluster.local\n",
        ),
        (
            "listed",
            "z example.com\nz sub.example.org.\nd auth.example.net\n\
             q _acme-challenge.www.example.com\nq _acme-challenge.kube-dns.kube-system.svc.cluster.local\n",
        ),
        (
            "root",
            "z .\nq _acme-challenge.foo.cluster.local.\nq _acme-challenge.\\095x.example.com\n",
        ),
        (
            "protect",
            "z example.com\np corp.internal\np internal.example.com\nz db.corp.internal\n\
             d x.internal.example.com\nq _acme-challenge.db.internal.example.com\n",
        ),
        (
            "hairpin",
            "z example.com\nh www.example.com shop.example.com 192.0.2.10 2001:db8::10\n\
             h *.apps.example.com ingress-nginx-controller.ingress-nginx.svc.cluster.local\n\
             h gw.cluster.local 10.0.0.5\nq WWW.Example.com.\n",
        ),
        (
            "escapes",
            "z ex\\097mple.com\nz a\\.b.example\nd auth\\046example.net\np \\255.internal\n\
             q _acme-challenge.a\\.b.example.\nq \\_acme-challenge.ex\\065mple.com\n",
        ),
        (
            "modes",
            "a\no\nd auth.example.net\nz example.com\nq _acme-challenge.x.auth.example.net\n",
        ),
    ];
    for (seed, script) in seeds {
        write("names", seed, script.as_bytes());
    }
}

fn query_seeds() {
    let cookie = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    let mut edns_do = query(0x4242, "_acme-challenge.www.example.com", TYPE_TXT, None);
    edns_do[11] = 1;
    edns_do.extend(opt(4096, true, &cookie));
    let mut cd_ad = query(0x0707, "auth.example.net", TYPE_NS, None);
    cd_ad[3] |= 0x30;
    let seeds: [(&str, Vec<u8>); 7] = [
        (
            "challenge-txt",
            query(0x4242, "_acme-challenge.www.example.com", TYPE_TXT, None),
        ),
        ("challenge-edns-do", edns_do),
        ("soa", query(0x1234, "www.Example.com", TYPE_SOA, None)),
        ("ns-cd-ad", cd_ad),
        ("hairpin-a", query(0x0001, "www.example.com", TYPE_A, None)),
        (
            "hairpin-name-aaaa",
            query(
                0x0002,
                "foo.apps.example.com",
                TYPE_AAAA,
                Some((1232, false)),
            ),
        ),
        ("ns-host-a", query(0x0003, "ns1.example.com", TYPE_A, None)),
    ];
    for (seed, bytes) in seeds {
        write("query", seed, &bytes);
    }
}

fn reply_seeds() {
    let challenge = "_acme-challenge.www.example.com";
    let challenge_q = || q(UDP_QUERY, query(0x4242, challenge, TYPE_TXT, None));
    let token = || rr(QNAME, TYPE_TXT, 120, &txt("token-0123456789"));
    let zone_soa = || {
        rr(
            &name("example.com"),
            TYPE_SOA,
            3600,
            &soa("example.com", 3600),
        )
    };

    write(
        "reply",
        "challenge-txt",
        &frames(
            Some(LISTED),
            &[
                challenge_q(),
                r(reply(RA, challenge, TYPE_TXT, &[token()], &[], &[])),
            ],
        ),
    );
    let target = "_acme-challenge.www.auth.example.net";
    write(
        "reply",
        "cname-chain",
        &frames(
            Some(LISTED),
            &[
                q(
                    UDP_QUERY,
                    query(0x4243, challenge, TYPE_TXT, Some((1232, false))),
                ),
                r(reply(
                    RA,
                    challenge,
                    TYPE_TXT,
                    &[
                        rr(QNAME, TYPE_CNAME, 300, &name(target)),
                        rr(&name(target), TYPE_TXT, 60, &txt("token")),
                    ],
                    &[rr(
                        &name("auth.example.net"),
                        TYPE_SOA,
                        300,
                        &soa("auth.example.net", 60),
                    )],
                    &[],
                )),
            ],
        ),
    );
    let none = "_acme-challenge.none.example.com";
    write(
        "reply",
        "nxdomain-soa",
        &frames(
            Some(LISTED),
            &[
                q(UDP_QUERY, query(0x0100, none, TYPE_TXT, None)),
                r(reply(
                    RA | NXDOMAIN,
                    none,
                    TYPE_TXT,
                    &[],
                    &[zone_soa()],
                    &[],
                )),
            ],
        ),
    );
    let org = "_acme-challenge.example.org";
    write(
        "reply",
        "servfail-failover",
        &frames(
            Some(NONE),
            &[
                q(UDP_QUERY, query(0x0200, org, TYPE_TXT, None)),
                r(reply(RA | SERVFAIL, org, TYPE_TXT, &[], &[], &[])),
                r(reply(RA, org, TYPE_TXT, &[token()], &[], &[])),
            ],
        ),
    );
    write(
        "reply",
        "tc-then-tcp",
        &frames(
            Some(NONE),
            &[
                q(UDP_QUERY, query(0x0300, org, TYPE_TXT, Some((4096, true)))),
                r(reply(
                    RA | TC,
                    org,
                    TYPE_TXT,
                    &[],
                    &[],
                    &[opt(1232, true, &[])],
                )),
                r(reply(
                    RA,
                    org,
                    TYPE_TXT,
                    &[token(), rr(QNAME, TYPE_TXT, 120, &txt("second"))],
                    &[],
                    &[opt(1232, true, &[])],
                )),
            ],
        ),
    );
    let ns = |host: &str| rr(&name("example.com"), TYPE_NS, 86400, &name(host));
    write(
        "reply",
        "authoritative",
        &frames(
            Some(AUTHORITATIVE),
            &[
                challenge_q(),
                // SOA of the challenge name: NODATA with the zone's SOA, so the apex is example.com.
                r(reply(RA, challenge, TYPE_SOA, &[], &[zone_soa()], &[])),
                // NS of the apex, with glue for one host.
                r(reply(
                    RA,
                    "example.com",
                    TYPE_NS,
                    &[ns("ns1.example.com"), ns("ns2.example.net")],
                    &[],
                    &[rr(&name("ns1.example.com"), TYPE_A, 3600, &[192, 0, 2, 1])],
                )),
                r(reply(AA, challenge, TYPE_TXT, &[token()], &[], &[])),
            ],
        ),
    );
    let dname_q = "_acme-challenge.a.b.auth.example.net";
    write(
        "reply",
        "dname",
        &frames(
            Some(DELEGATED),
            &[
                q(TCP_QUERY, query(0x0400, dname_q, TYPE_TXT, None)),
                r(reply(
                    RA,
                    dname_q,
                    TYPE_TXT,
                    &[
                        rr(
                            &name("b.auth.example.net"),
                            TYPE_DNAME,
                            300,
                            &name("c.acme-dns.io"),
                        ),
                        rr(
                            QNAME,
                            TYPE_CNAME,
                            300,
                            &name("_acme-challenge.a.c.acme-dns.io"),
                        ),
                        rr(
                            &name("_acme-challenge.a.c.acme-dns.io"),
                            TYPE_TXT,
                            300,
                            &txt("token"),
                        ),
                    ],
                    &[],
                    &[],
                )),
            ],
        ),
    );
    let many: Vec<Vec<u8>> = (0..20)
        .map(|i| {
            rr(
                QNAME,
                TYPE_TXT,
                30,
                &txt(&format!("{i:02}-0123456789012345678901234567890123456789")),
            )
        })
        .collect();
    write(
        "reply",
        "over-512",
        &frames(
            Some(LISTED),
            &[
                challenge_q(),
                r(reply(RA, challenge, TYPE_TXT, &many, &[], &[])),
            ],
        ),
    );
}

fn hairpin_seeds() {
    let ingress = "ingress-nginx-controller.ingress-nginx.svc.cluster.local";
    write(
        "hairpin",
        "ip-targets",
        &frames(
            None,
            &[
                q(UDP_QUERY, query(0x0001, "www.example.com", TYPE_A, None)),
                q(
                    TCP_QUERY,
                    query(0x0002, "Shop.Example.COM", TYPE_AAAA, Some((1232, false))),
                ),
            ],
        ),
    );
    write(
        "hairpin",
        "name-target",
        &frames(
            None,
            &[
                q(
                    UDP_QUERY,
                    query(0x0003, "foo.apps.example.com", TYPE_A, None),
                ),
                r(reply(
                    RA,
                    ingress,
                    TYPE_A,
                    &[
                        rr(QNAME, TYPE_A, 5, &[10, 96, 0, 10]),
                        rr(QNAME, TYPE_A, 300, &[10, 96, 0, 11]),
                    ],
                    &[],
                    &[],
                )),
            ],
        ),
    );
    let other = "other.ingress.svc.cluster.local";
    let mut v6 = [0u8; 16];
    v6[..2].copy_from_slice(&[0xfd, 0x00]);
    v6[15] = 0x10;
    write(
        "hairpin",
        "name-target-cname",
        &frames(
            None,
            &[
                q(
                    UDP_QUERY,
                    query(0x0004, "x.APPS.example.com", TYPE_AAAA, Some((512, true))),
                ),
                r(reply(
                    RA,
                    ingress,
                    TYPE_AAAA,
                    &[
                        rr(QNAME, TYPE_CNAME, 30, &name(other)),
                        rr(&name(other), TYPE_AAAA, 30, &v6),
                    ],
                    &[],
                    &[opt(1232, false, &[])],
                )),
            ],
        ),
    );
    write(
        "hairpin",
        "name-target-nxdomain",
        &frames(
            None,
            &[
                q(UDP_QUERY, query(0x0005, "y.apps.example.com", TYPE_A, None)),
                r(reply(
                    AA | NXDOMAIN,
                    ingress,
                    TYPE_A,
                    &[],
                    &[rr(
                        &name("cluster.local"),
                        TYPE_SOA,
                        30,
                        &soa("cluster.local", 30),
                    )],
                    &[],
                )),
            ],
        ),
    );
    let challenge = "_acme-challenge.www.example.com";
    write(
        "hairpin",
        "forwarded-then-hairpin",
        &frames(
            None,
            &[
                q(UDP_QUERY, query(0x0006, challenge, TYPE_TXT, None)),
                r(reply(
                    RA,
                    challenge,
                    TYPE_TXT,
                    &[rr(QNAME, TYPE_TXT, 60, &txt("token"))],
                    &[],
                    &[],
                )),
                q(UDP_QUERY, query(0x0007, "z.apps.example.com", TYPE_A, None)),
                frame(NO_REPLY, 0, &[]),
            ],
        ),
    );
}

fn learn_seeds() {
    let challenge = "_acme-challenge.www.example.com";
    let ns = |zone: &str, host: &str| rr(&name(zone), TYPE_NS, 3600, &name(host));
    let a = |host: &str, ip: [u8; 4]| rr(&name(host), TYPE_A, 3600, &ip);
    let nxdomain = |qname: &str| reply(RA | NXDOMAIN, qname, TYPE_TXT, &[], &[], &[]);

    // The prefetch's rounds (NS of each zone; for sub.example.org no cut, so the apex from the
    // SOA, then its NS), then a challenge whose CNAME target the internal view does not know:
    // learned, so its TXT is forwarded next.
    let acme = "_acme-challenge.www.acme-dns.io";
    write(
        "learn",
        "prefetch-then-cname",
        &frames(
            Some(LISTED),
            &[
                r(reply(
                    RA,
                    "example.com",
                    TYPE_NS,
                    &[
                        ns("example.com", "ns1.example.com"),
                        ns("example.com", "ns2.svc.cluster.local"),
                    ],
                    &[],
                    &[a("ns1.example.com", [192, 0, 2, 1])],
                )),
                r(reply(
                    RA,
                    "sub.example.org",
                    TYPE_NS,
                    &[],
                    &[rr(
                        &name("example.org"),
                        TYPE_SOA,
                        600,
                        &soa("example.org", 60),
                    )],
                    &[],
                )),
                r(reply(
                    RA,
                    "example.org",
                    TYPE_NS,
                    &[ns("example.org", "ns.example.org")],
                    &[],
                    &[],
                )),
                r(reply(
                    RA,
                    "auth.example.net",
                    TYPE_NS,
                    &[ns("auth.example.net", "ns.auth.example.net")],
                    &[],
                    &[],
                )),
                q(UDP_QUERY, query(0x1001, challenge, TYPE_TXT, None)),
                r(reply(
                    RA,
                    challenge,
                    TYPE_TXT,
                    &[
                        rr(QNAME, TYPE_CNAME, 300, &name(acme)),
                        rr(&name(acme), TYPE_TXT, 60, &txt("token")),
                    ],
                    &[],
                    &[],
                )),
                r(nxdomain(acme)),
                q(UDP_QUERY, query(0x1002, acme, TYPE_TXT, None)),
                r(reply(
                    RA,
                    acme,
                    TYPE_TXT,
                    &[rr(QNAME, TYPE_TXT, 60, &txt("token"))],
                    &[],
                    &[],
                )),
            ],
        ),
    );
    // Public data pointing into protected zones: a CNAME and nameserver hosts.
    let corp = "_acme-challenge.db.corp.internal";
    write(
        "learn",
        "protected-targets",
        &frames(
            Some(PROTECT),
            &[
                q(UDP_QUERY, query(0x2001, challenge, TYPE_TXT, None)),
                r(reply(
                    RA,
                    challenge,
                    TYPE_TXT,
                    &[rr(QNAME, TYPE_CNAME, 300, &name(corp))],
                    &[
                        ns("example.com", "ns1.corp.internal"),
                        ns("example.com", "ns.internal.example.com"),
                        ns("example.com", "ns2.example.com"),
                    ],
                    &[],
                )),
                r(nxdomain("ns2.example.com")),
                r(reply(
                    RA,
                    "example.com",
                    TYPE_NS,
                    &[
                        ns("example.com", "ns1.corp.internal"),
                        ns("example.com", "ns2.example.com"),
                    ],
                    &[],
                    &[],
                )),
            ],
        ),
    );
    // Authoritative prefetch: NS of the zone, then A and AAAA of every host (addresses in and
    // out of policy, allow_ns), then a challenge sent straight to a prefetched address.
    let addr = |ip: &[u8]| {
        reply(
            RA,
            "ns.example.com",
            TYPE_A,
            &[rr(
                QNAME,
                if ip.len() == 4 { TYPE_A } else { TYPE_AAAA },
                3600,
                ip,
            )],
            &[],
            &[],
        )
    };
    let nodata = || {
        reply(
            RA,
            "ns.example.com",
            TYPE_AAAA,
            &[],
            &[rr(
                &name("example.com"),
                TYPE_SOA,
                300,
                &soa("example.com", 300),
            )],
            &[],
        )
    };
    let mut v6 = [0u8; 16];
    v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    v6[15] = 0x53;
    write(
        "learn",
        "authoritative-prefetch",
        &frames(
            Some(AUTHORITATIVE),
            &[
                r(reply(
                    RA,
                    "example.com",
                    TYPE_NS,
                    &[
                        ns("example.com", "ns1.example.com"),
                        ns("example.com", "ns2.example.com"),
                        ns("example.com", "ns3.example.net"),
                    ],
                    &[],
                    &[a("ns1.example.com", [192, 0, 2, 1])],
                )),
                // A of ns1 and ns2 (ns3 is out of bailiwick), then their AAAA.
                r(addr(&[192, 0, 2, 1])),
                r(addr(&[10, 0, 0, 1])),
                r(addr(&v6)),
                r(nodata()),
                // The delegated zone: its host's address is inside allow_ns.
                r(reply(
                    RA,
                    "auth.example.net",
                    TYPE_NS,
                    &[rr(QNAME, TYPE_NS, 600, &name("ns.auth.example.net"))],
                    &[],
                    &[],
                )),
                r(addr(&[10, 53, 0, 3])),
                r(nodata()),
                q(UDP_QUERY, query(0x3001, challenge, TYPE_TXT, None)),
                r(reply(
                    AA,
                    challenge,
                    TYPE_TXT,
                    &[rr(QNAME, TYPE_TXT, 60, &txt("token"))],
                    &[],
                    &[],
                )),
            ],
        ),
    );
    // No zone listed: a challenge teaches its ancestors (the SOA walk); a CNAME into the
    // cluster is refused.
    let svc = "_acme-challenge.x.svc.cluster.local";
    write(
        "learn",
        "root-ancestors",
        &frames(
            Some(NONE),
            &[
                q(UDP_QUERY, query(0x4001, challenge, TYPE_TXT, None)),
                r(reply(
                    RA,
                    challenge,
                    TYPE_TXT,
                    &[rr(QNAME, TYPE_TXT, 60, &txt("token"))],
                    &[],
                    &[],
                )),
                q(UDP_QUERY, query(0x4002, "www.example.com", TYPE_SOA, None)),
                r(reply(
                    RA,
                    "www.example.com",
                    TYPE_SOA,
                    &[],
                    &[rr(
                        &name("example.com"),
                        TYPE_SOA,
                        600,
                        &soa("example.com", 600),
                    )],
                    &[],
                )),
                q(
                    UDP_QUERY,
                    query(0x4003, "_acme-challenge.other.example.com", TYPE_TXT, None),
                ),
                r(reply(
                    RA,
                    "_acme-challenge.other.example.com",
                    TYPE_TXT,
                    &[rr(QNAME, TYPE_CNAME, 60, &name(svc))],
                    &[],
                    &[],
                )),
            ],
        ),
    );
    // The clock: refresh times, expiry, and saturation near u64::MAX.
    write(
        "learn",
        "clock",
        &frames(
            Some(LISTED),
            &[
                r(reply(
                    RA,
                    "example.com",
                    TYPE_NS,
                    &[ns("example.com", "ns1.example.com")],
                    &[],
                    &[],
                )),
                frame(NO_REPLY, 0, &[]),
                frame(NO_REPLY, 0, &[]),
                frame(
                    REPLY,
                    22,
                    &reply(
                        RA,
                        "example.com",
                        TYPE_NS,
                        &[rr(QNAME, TYPE_NS, 60, &name("ns9.example.com"))],
                        &[],
                        &[],
                    ),
                ),
                frame(NO_REPLY, 31, &[]),
                frame(NO_REPLY, 31, &[]),
                frame(
                    UDP_QUERY,
                    31,
                    &query(0x5001, "ns9.example.com", TYPE_A, None),
                ),
            ],
        ),
    );
    // Discovery off: learning still follows CNAME targets (rule 4).
    let t = "t.acme-dns.io";
    write(
        "learn",
        "discovery-off",
        &frames(
            Some(DISCOVERY_OFF),
            &[
                q(UDP_QUERY, query(0x6001, challenge, TYPE_TXT, None)),
                r(reply(
                    RA,
                    challenge,
                    TYPE_TXT,
                    &[rr(QNAME, TYPE_CNAME, 300, &name(t))],
                    &[],
                    &[],
                )),
                r(nxdomain(t)),
                q(UDP_QUERY, query(0x6002, t, TYPE_TXT, None)),
                r(reply(
                    RA,
                    t,
                    TYPE_TXT,
                    &[rr(QNAME, TYPE_TXT, 60, &txt("token"))],
                    &[],
                    &[],
                )),
            ],
        ),
    );
}

/// The inputs that once found a bug (regressions/<target>/<name>) are seeds too
/// (seeds/<target>/regression-<name>), so that every fuzz run replays them.
fn regression_seeds() {
    for dir in fs::read_dir("regressions").expect("regressions directory") {
        let dir = dir.expect("regressions directory entry").path();
        let target = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("target name");
        for file in fs::read_dir(&dir).expect("regressions of a target") {
            let file = file.expect("regression entry").path();
            let seed = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("regression name");
            let bytes = fs::read(&file).expect("regression file");
            write(target, &format!("regression-{seed}"), &bytes);
        }
    }
}

fn main() {
    for target in ["classify", "names", "query", "reply", "hairpin", "learn"] {
        let _ = fs::remove_dir_all(Path::new("seeds").join(target));
    }
    classify_seeds();
    names_seeds();
    query_seeds();
    reply_seeds();
    hairpin_seeds();
    learn_seeds();
    regression_seeds();
}
