//! One test per verdict: two views fed in, the verdict, the sentence and the fix read back.

use crate::model::{NXDOMAIN, QType, Question, REFUSED, Reply};
use crate::testviews::View;
use crate::verdict::{EXIT_DIFFERS, EXIT_OK, EXIT_PUBLIC_UNREACHABLE, Report, Servers, Verdict};
use crate::{check, json, text};

fn servers() -> Servers {
    Servers {
        resolver: "10.96.0.10:53".into(),
        public: vec!["192.0.2.1:53".into()],
    }
}

fn run(name: &str, resolver: &mut View, public: &mut View) -> Report {
    check(name, servers(), &mut |q| resolver.ask(q), &mut |q| {
        public.ask(q)
    })
}

/// The inside view of a split horizon: example.com is a local zone that knows only `www`
/// (at an inside address): every other name in it is NXDOMAIN.
fn inside() -> View {
    let mut v = View::default();
    v.add("www.example.com", "A", "10.0.0.80");
    for n in ["_acme-challenge.www.example.com", "example.com"] {
        for t in [QType::Txt, QType::Cname, QType::Soa, QType::Ns] {
            v.set(Question::new(n, t), Reply::rcode(NXDOMAIN));
        }
    }
    v.set(Question::new("com", QType::Soa), Reply::rcode(REFUSED));
    v
}

#[test]
fn same_views_are_ok() {
    let r = run(
        "www.example.com",
        &mut View::public_example_com(),
        &mut View::public_example_com(),
    );
    assert_eq!(r.verdict, Verdict::Ok);
    assert_eq!(r.verdict.exit_code(), EXIT_OK);
    assert!(r.differences.is_empty() && r.hints.is_empty());
    assert_eq!(r.fix, "nothing to fix");
    assert_eq!(r.corefile, "");
}

#[test]
fn hidden_challenge_is_split_horizon() {
    let r = run(
        "www.example.com",
        &mut inside(),
        &mut View::public_example_com(),
    );
    assert_eq!(r.verdict, Verdict::ChallengeHidden);
    assert_eq!(r.verdict.exit_code(), EXIT_DIFFERS);
    assert_eq!(
        r.summary,
        "the cluster resolver answers NXDOMAIN for _acme-challenge.www.example.com TXT, the public \
         view has NOERROR: _acme-challenge.www.example.com TXT \"token-www\": split horizon"
    );
    assert_eq!(
        r.fix,
        "add the acmeforward block for example.com below (to 192.0.2.1:53) to the cluster's \
         Corefile, in the server block that answers the cluster"
    );
    assert_eq!(
        r.corefile,
        "acmeforward example.com {\n    to 192.0.2.1:53\n}\n"
    );
    assert!(text(&r).contains("\n    acmeforward example.com {\n        to 192.0.2.1:53\n    }\n"));
    // The inside www differs from the public one: a hint, not a difference.
    assert_eq!(r.hints.len(), 1, "{:?}", r.hints);
    assert!(
        r.hints[0].contains("hairpin www.example.com TARGET"),
        "{}",
        r.hints[0]
    );
    assert!(r.hints[0].contains("10.0.0.80") && r.hints[0].contains("192.0.2.80"));
    assert!(!r.differences.iter().any(|d| d.contains("hairpin")));
}

#[test]
fn hairpin_alone_leaves_the_verdict_ok() {
    let mut resolver = View::public_example_com();
    resolver.hide("www.example.com");
    resolver.add("www.example.com", "A", "10.0.0.80");
    let r = run(
        "www.example.com",
        &mut resolver,
        &mut View::public_example_com(),
    );
    assert_eq!(r.verdict, Verdict::Ok);
    assert_eq!(r.hints.len(), 1);
    assert!(text(&r).contains(
        "hint: www.example.com A: the cluster resolver answers NOERROR: www.example.com A 10.0.0.80"
    ));
}

#[test]
fn no_hairpin_hint_without_a_public_address() {
    let mut resolver = View::public_example_com();
    resolver.add("example.com", "A", "10.0.0.1");
    let r = run(
        "example.com",
        &mut resolver,
        &mut View::public_example_com(),
    );
    assert_eq!(r.verdict, Verdict::Ok);
    assert!(r.hints.is_empty(), "{:?}", r.hints);
    assert!(
        r.comparisons
            .rows
            .iter()
            .any(|c| c.step.is_hint() && !c.equal)
    );
}

fn cnamed(v: &mut View) {
    v.hide("_acme-challenge.www.example.com");
    v.cname("_acme-challenge.www.example.com", "x.auth.example.net");
    v.zone("example.net", "ns1.example.net", "192.0.2.54");
    v.txt("x.auth.example.net", "token-delegated");
}

#[test]
fn hidden_cname_target_asks_for_delegated() {
    let mut public = View::public_example_com();
    cnamed(&mut public);
    let mut resolver = public.clone();
    // The inside resolves the challenge (and follows its CNAME for TXT), but its own
    // example.net hides the target from a CNAME question.
    for t in [QType::Cname, QType::Txt, QType::Soa] {
        resolver.set(
            Question::new("x.auth.example.net", t),
            Reply::rcode(NXDOMAIN),
        );
    }
    let r = run("www.example.com", &mut resolver, &mut public);
    assert_eq!(r.verdict, Verdict::CnameTargetHidden);
    assert!(
        r.summary.starts_with(
            "the CNAME target x.auth.example.net of _acme-challenge.www.example.com is hidden: \
             the cluster resolver answers NXDOMAIN for x.auth.example.net TXT, the public view \
             NOERROR: x.auth.example.net TXT \"token-delegated\""
        ),
        "{}",
        r.summary
    );
    assert_eq!(
        r.fix,
        "add `delegated example.net` to the acmeforward block for www.example.com (below; the \
         zone the CNAME points into)"
    );
    assert_eq!(
        r.corefile,
        "acmeforward www.example.com {\n    to 192.0.2.1:53\n    delegated example.net\n}\n"
    );
}

/// A CNAME target whose labels hold a space and a dot (written here with other escapes) is
/// followed like any other, and named in the text and the JSON as dig writes it.
#[test]
fn hidden_escaped_cname_target_is_named_as_dig_writes_it() {
    let mut public = View::public_example_com();
    public.hide("_acme-challenge.www.example.com");
    public.cname(
        "_acme-challenge.www.example.com",
        "A\\ b\\.c.auth.example.net",
    );
    public.zone("example.net", "ns1.example.net", "192.0.2.54");
    public.txt("a\\032b\\046c.auth.example.net", "token-escaped");
    let mut resolver = public.clone();
    resolver.hide("a\\032b\\.c.auth.example.net");
    let r = run("www.example.com", &mut resolver, &mut public);
    assert_eq!(r.verdict, Verdict::CnameTargetHidden);
    assert_eq!(r.verdict.exit_code(), EXIT_DIFFERS);
    let target = "a\\032b\\.c.auth.example.net";
    assert!(
        r.summary.starts_with(&format!(
            "the CNAME target {target} of _acme-challenge.www.example.com is hidden: the cluster \
             resolver answers NXDOMAIN for {target} TXT, the public view NOERROR: {target} TXT \
             \"token-escaped\""
        )),
        "{}",
        r.summary
    );
    assert!(r.fix.contains("`delegated example.net`"), "{}", r.fix);
    assert!(
        text(&r).contains(&format!(
            "resolver: NOERROR: _acme-challenge.www.example.com CNAME {target}."
        )),
        "{}",
        text(&r)
    );
    // JSON names are the same presentation format, its backslashes escaped by JSON.
    let j = json(&r);
    assert!(
        j.contains("{\"name\":\"a\\\\032b\\\\.c.auth.example.net\",\"type\":\"TXT\"}"),
        "{j}"
    );
}

#[test]
fn challenge_txt_differing_behind_a_same_cname_is_the_target() {
    let mut public = View::public_example_com();
    cnamed(&mut public);
    let mut resolver = public.clone();
    resolver.set(
        Question::new("_acme-challenge.www.example.com", QType::Txt),
        Reply::rcode(NXDOMAIN),
    );
    let r = run("www.example.com", &mut resolver, &mut public);
    assert_eq!(r.verdict, Verdict::CnameTargetHidden);
}

#[test]
fn soa_walk_that_stops_early() {
    let mut resolver = View::public_example_com();
    resolver.set(
        Question::new("example.com", QType::Soa),
        Reply::rcode(NXDOMAIN),
    );
    resolver.set(Question::new("com", QType::Soa), Reply::rcode(REFUSED));
    let r = run(
        "www.example.com",
        &mut resolver,
        &mut View::public_example_com(),
    );
    assert_eq!(r.verdict, Verdict::SoaWalkDiffers);
    assert!(
        r.summary.starts_with(
            "the SOA walk for _acme-challenge.www.example.com stops at com (REFUSED) through the \
             cluster resolver, the public view finds the zone example.com"
        ),
        "{}",
        r.summary
    );
    assert!(r.fix.contains("discovery on"), "{}", r.fix);
    // The resolver-only question (com SOA) is compared too.
    assert!(r.comparisons.rows.iter().any(|c| !c.in_public_walk));
}

#[test]
fn soa_walk_that_claims_a_zone() {
    let mut resolver = View::public_example_com();
    resolver.add(
        "www.example.com",
        "SOA",
        "ns.internal. hostmaster.internal. 1 2 3 4 5",
    );
    let r = run(
        "www.example.com",
        &mut resolver,
        &mut View::public_example_com(),
    );
    assert_eq!(r.verdict, Verdict::SoaWalkDiffers);
    assert!(
        r.summary.contains("finds the zone www.example.com through the cluster resolver, the public view finds the zone example.com"),
        "{}",
        r.summary
    );
}

#[test]
fn nameserver_address_differs() {
    let mut resolver = View::public_example_com();
    resolver.hide("ns1.example.com");
    resolver.add("ns1.example.com", "A", "10.0.0.53");
    let r = run(
        "example.com",
        &mut resolver,
        &mut View::public_example_com(),
    );
    assert_eq!(r.verdict, Verdict::NameserversHidden);
    assert!(
        r.summary.starts_with(
            "the zone's nameservers are hidden: the cluster resolver answers NOERROR: \
             ns1.example.com A 10.0.0.53 for ns1.example.com A, the public view NOERROR: \
             ns1.example.com A 192.0.2.53"
        ),
        "{}",
        r.summary
    );
    assert!(r.fix.contains("--dns01-recursive-nameservers-only"));
}

#[test]
fn persist_record_hidden() {
    let mut public = View::public_example_com();
    public.txt(
        "_validation-persist.example.com",
        "letsencrypt.org; accounturi=x",
    );
    let r = run("example.com", &mut View::public_example_com(), &mut public);
    assert_eq!(r.verdict, Verdict::PersistHidden);
    assert!(
        r.summary.contains("the dns-persist-01 record is hidden"),
        "{}",
        r.summary
    );
    assert!(r.fix.contains("keep `_validation-persist`"), "{}", r.fix);
}

#[test]
fn silent_resolver() {
    let mut public = View::public_example_com();
    let r = check(
        "example.com",
        servers(),
        &mut |_| Reply::NoReply("timeout after 2s (UDP)".into()),
        &mut |q| public.ask(q),
    );
    assert_eq!(r.verdict, Verdict::ResolverUnreachable);
    assert_eq!(r.verdict.exit_code(), EXIT_DIFFERS);
    assert_eq!(
        r.summary,
        "the cluster resolver 10.96.0.10:53 is unreachable: _acme-challenge.example.com TXT gave \
         no reply (timeout after 2s (UDP))"
    );
}

#[test]
fn silent_or_refusing_public_view() {
    let mut resolver = View::public_example_com();
    let r = check(
        "example.com",
        servers(),
        &mut |q| resolver.ask(q),
        &mut |_| Reply::NoReply("timeout".into()),
    );
    assert_eq!(r.verdict, Verdict::PublicUnreachable);
    assert_eq!(r.verdict.exit_code(), EXIT_PUBLIC_UNREACHABLE);
    let mut resolver = View::public_example_com();
    let r = check(
        "example.com",
        servers(),
        &mut |q| resolver.ask(q),
        &mut |_| Reply::rcode(REFUSED),
    );
    assert_eq!(r.verdict, Verdict::PublicUnreachable);
    assert!(
        r.summary
            .contains("could not answer _acme-challenge.example.com TXT: REFUSED")
    );
}

#[test]
fn json_has_the_contract_fields() {
    let r = run(
        "www.example.com",
        &mut inside(),
        &mut View::public_example_com(),
    );
    let j = json(&r);
    for field in [
        "{\"verdict\":\"challenge-hidden\",\"exit_code\":1,\"name\":\"www.example.com\"",
        "\"resolver\":\"10.96.0.10:53\"",
        "\"public\":[\"192.0.2.1:53\"]",
        "\"corefile\":\"acmeforward example.com {\\n    to 192.0.2.1:53\\n}\\n\"",
        "{\"step\":\"challenge-txt\",\"hint\":false,\"question\":{\"name\":\"_acme-challenge.www.example.com\",\"type\":\"TXT\"},\"resolver\":{\"rcode\":\"NXDOMAIN\",\"records\":[]},\"public\":{\"rcode\":\"NOERROR\",\"records\":[{\"name\":\"_acme-challenge.www.example.com\",\"type\":\"TXT\",\"data\":\"token-www\"}]},\"equal\":false}",
    ] {
        assert!(j.contains(field), "{field}\nin\n{j}");
    }
    assert!(j.ends_with("]}"));
}

#[test]
fn every_verdict_has_a_distinct_name() {
    let mut names: Vec<&str> = Verdict::ALL.iter().map(|v| v.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), Verdict::ALL.len());
}
