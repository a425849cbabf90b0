//! The client's reply rebuilt from validated records: ID, letter case, TTLs, sections, flags,
//! truncation and compression.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::*;
use crate::exchange::machine::{Action, Exchange};
use crate::testutil::*;

const QNAME: &str = "_acme-challenge.Www.Example.COM";

fn finish(ex: &Exchange, reply: &[u8], client: Transport) -> Result<Vec<u8>, ReplyError> {
    crate::testutil::finish(ex, &engine(30), reply, client)
}

fn new_ex(max_ttl: u32, q: &[u8], random: u64) -> Exchange {
    match Exchange::new(&engine(max_ttl), q, Transport::Udp, random, 0) {
        Ok(ex) => ex,
        Err(e) => panic!("{e}"),
    }
}

fn parse(b: &[u8]) -> Message {
    match Message::from_vec(b) {
        Ok(m) => m,
        Err(e) => panic!("client reply does not parse: {e}"),
    }
}

fn ex_with(max_ttl: u32, edns: Option<(u16, bool, &[u8])>) -> Exchange {
    new_ex(max_ttl, &query(0x1234, QNAME, TYPE_TXT, edns), 0xfeed)
}

fn txt_answer(ttl: u32) -> Vec<u8> {
    rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, ttl, &txt_rdata("token"))
}

#[test]
fn rewrites_id_name_case_and_ttl() {
    let ex = ex_with(30, None);
    let r = reply(
        &ex,
        0,
        vec![txt_answer(300), txt_answer(10)],
        vec![],
        vec![],
    );
    let out = finish(&ex, &r, Transport::Udp).unwrap_or_default();
    // Exact header: client ID, QR|RD|RA, NOERROR, 1 question, 2 answers.
    assert_eq!(
        &out[..12],
        &[0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]
    );
    // The question is the client's, byte for byte.
    let q = question(QNAME, TYPE_TXT, CLASS_IN);
    assert_eq!(&out[12..12 + q.len()], &q[..]);
    let m = parse(&out);
    let names: Vec<String> = m.answers.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(names, vec![format!("{QNAME}."), format!("{QNAME}.")]);
    let ttls: Vec<u32> = m.answers.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, vec![30, 10]);
    assert!(matches!(&m.answers[0].data, RData::TXT(t) if t.to_string() == "token"));
}

#[test]
fn owner_spelled_in_any_case_gets_client_case() {
    let ex = ex_with(30, None);
    let a = rr(
        &wire_name(&QNAME.to_uppercase()),
        TYPE_TXT,
        CLASS_IN,
        5,
        &txt_rdata("t"),
    );
    let out =
        finish(&ex, &reply(&ex, 0, vec![a], vec![], vec![]), Transport::Udp).unwrap_or_default();
    let m = parse(&out);
    assert_eq!(
        m.answers.first().map(|r| r.name.to_ascii()),
        Some(format!("{QNAME}."))
    );
    // Same spelling as the question, so it is compressed to a pointer to it.
    let q_len = question(QNAME, TYPE_TXT, CLASS_IN).len();
    assert_eq!(&out[12 + q_len..12 + q_len + 2], &QNAME_PTR);
}

#[test]
fn client_gets_no_records_it_did_not_ask_for() {
    // A TXT question answered with an A and an MX beside the TXT, and a CNAME onto an
    // internal-looking name with its A: the client (and every cache in front) sees the TXT,
    // or the CNAME alone; no RRSIG without DO.
    let ex = ex_with(30, None);
    let mut mx = vec![0, 10];
    mx.extend(wire_name("mail.example.com"));
    let target = wire_name("intranet.corp.example");
    for (an, want) in [
        (
            vec![
                rr(&QNAME_PTR, TYPE_A, CLASS_IN, 60, &[6, 6, 6, 6]),
                txt_answer(60),
                rr(&QNAME_PTR, TYPE_MX, CLASS_IN, 60, &mx),
                rr(&QNAME_PTR, TYPE_RRSIG, CLASS_IN, 60, &[0, 16, 13, 5]),
            ],
            vec![RecordType::TXT],
        ),
        (
            vec![
                rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 60, &target),
                rr(&target, TYPE_A, CLASS_IN, 60, &[6, 6, 6, 6]),
            ],
            vec![RecordType::CNAME],
        ),
    ] {
        let out =
            finish(&ex, &reply(&ex, 0, an, vec![], vec![]), Transport::Udp).unwrap_or_default();
        let got: Vec<RecordType> = parse(&out)
            .answers
            .iter()
            .map(|r| r.record_type())
            .collect();
        assert_eq!(got, want);
        assert!(
            !out.windows(4).any(|w| w == [6, 6, 6, 6]),
            "not a byte of it"
        );
    }
}

#[test]
fn names_in_record_data_lose_the_upstream_case() {
    // The upstream compresses `ns1.<question name>` against the question, which carries our
    // random 0x20 spelling: the client must not see it.
    let ex = new_ex(30, &query(0x1234, QNAME, TYPE_NS, None), 0xfeed);
    let mut ns1 = b"\x03NS1".to_vec();
    ns1.extend_from_slice(&QNAME_PTR);
    let an = vec![rr(&QNAME_PTR, TYPE_NS, CLASS_IN, 60, &ns1)];
    let out = finish(&ex, &reply(&ex, 0, an, vec![], vec![]), Transport::Udp).unwrap_or_default();
    let m = parse(&out);
    let data: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(data, vec![format!("ns1.{}.", QNAME.to_ascii_lowercase())]);
}

#[test]
fn chain_names_lower_cased() {
    let ex = ex_with(30, None);
    let target = wire_name("Token.ACME-dns.Example.NET");
    let an = vec![
        rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 60, &target),
        rr(&target, TYPE_TXT, CLASS_IN, 60, &txt_rdata("t")),
    ];
    let out = finish(&ex, &reply(&ex, 0, an, vec![], vec![]), Transport::Udp).unwrap_or_default();
    let m = parse(&out);
    let got: Vec<(String, String)> = m
        .answers
        .iter()
        .map(|r| {
            let data = match &r.data {
                RData::CNAME(c) => c.0.to_ascii(),
                other => other.to_string(),
            };
            (r.name.to_ascii(), data)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                format!("{QNAME}."),
                "token.acme-dns.example.net.".to_string()
            ),
            ("token.acme-dns.example.net.".to_string(), "t".to_string()),
        ]
    );
}

#[test]
fn negative_answer_soa_minimum_and_ttl_capped() {
    let ex = ex_with(30, None);
    let ns = vec![rr(
        &wire_name("Example.com"),
        TYPE_SOA,
        CLASS_IN,
        3600,
        &soa_rdata("example.com", 86400),
    )];
    let out = finish(&ex, &reply(&ex, 3, vec![], ns, vec![]), Transport::Udp).unwrap_or_default();
    let m = parse(&out);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities.len(), 1);
    let soa = m.authorities.first();
    assert_eq!(soa.map(|r| r.ttl), Some(30));
    assert_eq!(
        soa.map(|r| r.name.to_ascii()),
        Some("example.com.".to_string())
    );
    match soa.map(|r| &r.data) {
        Some(RData::SOA(s)) => {
            assert_eq!(s.minimum, 30);
            assert_eq!(s.serial, 2024010101, "other SOA fields untouched");
            assert_eq!(s.expire, 1209600);
        }
        other => panic!("not an SOA: {other:?}"),
    }
    // A small MINIMUM stays.
    let ns = vec![rr(
        &wire_name("example.com"),
        TYPE_SOA,
        CLASS_IN,
        5,
        &soa_rdata("example.com", 7),
    )];
    let m =
        parse(&finish(&ex, &reply(&ex, 3, vec![], ns, vec![]), Transport::Udp).unwrap_or_default());
    assert!(
        matches!(m.authorities.first().map(|r| &r.data), Some(RData::SOA(s)) if s.minimum == 7)
    );
    assert_eq!(m.authorities.first().map(|r| r.ttl), Some(5));
}

#[test]
fn max_ttl_zero_zeroes_every_ttl() {
    let ex = ex_with(0, None);
    let ns = vec![rr(
        &wire_name("example.com"),
        TYPE_NS,
        CLASS_IN,
        3600,
        &wire_name("ns1.example.com"),
    )];
    let out = finish(
        &ex,
        &reply(&ex, 0, vec![txt_answer(300)], ns, vec![]),
        Transport::Udp,
    )
    .unwrap_or_default();
    let m = parse(&out);
    assert!(m.all_sections().all(|r| r.ttl == 0));
    assert_eq!(m.all_sections().count(), 2);
}

#[test]
fn additional_stripped_and_opt_only_for_edns_clients() {
    let glue = rr(
        &wire_name("ns1.example.com"),
        TYPE_A,
        CLASS_IN,
        300,
        &[192, 0, 2, 1],
    );
    let upstream_opt = opt(4096, true, &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);

    // No EDNS from the client: no OPT back, even though upstream sent one.
    let ex = ex_with(30, None);
    let r = reply(
        &ex,
        0,
        vec![txt_answer(5)],
        vec![],
        vec![glue.clone(), upstream_opt.clone()],
    );
    let out = finish(&ex, &r, Transport::Udp).unwrap_or_default();
    assert_eq!(be16(&out, 10), 0, "ARCOUNT");
    let m = parse(&out);
    assert!(m.edns.is_none());
    assert!(m.additionals.is_empty());

    // EDNS from the client: exactly our OPT (payload 1232, DO mirrored, no options).
    for dnssec_ok in [false, true] {
        let opts = cookie_and_ecs();
        let ex = ex_with(30, Some((4096, dnssec_ok, &opts)));
        let r = reply(
            &ex,
            0,
            vec![txt_answer(5)],
            vec![],
            vec![glue.clone(), upstream_opt.clone()],
        );
        let out = finish(&ex, &r, Transport::Udp).unwrap_or_default();
        assert_eq!(be16(&out, 10), 1, "ARCOUNT");
        assert!(
            out.ends_with(&opt(1232, dnssec_ok, &[])),
            "OPT is the last record, exact bytes"
        );
        let m = parse(&out);
        assert!(m.additionals.is_empty());
    }
}

#[test]
fn flags() {
    // Upstream: AA, RA, AD set. Client: RD clear, CD set, no DO / AD.
    let mut q = query(0x1234, QNAME, TYPE_TXT, None);
    q[2] &= !0x01;
    q[3] |= 0x10;
    let ex = new_ex(30, &q, 1);
    let mut r = reply(&ex, 0, vec![txt_answer(5)], vec![], vec![]);
    r[2] |= 0x04; // AA
    r[3] |= 0x20; // AD
    let out = finish(&ex, &r, Transport::Udp).unwrap_or_default();
    // QR|AA, RD clear (client's), RA, AD dropped (client did not ask), CD (client's).
    assert_eq!(&out[2..4], &[0x84, 0x90]);

    // With DO, AD is passed on.
    let ex = ex_with(30, Some((1232, true, &[])));
    let mut r = reply(&ex, 0, vec![txt_answer(5)], vec![], vec![]);
    r[3] |= 0x20;
    let out = finish(&ex, &r, Transport::Udp).unwrap_or_default();
    assert_eq!(&out[2..4], &[0x81, 0xa0]);
}

fn big_answers(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            rr(
                &QNAME_PTR,
                TYPE_TXT,
                CLASS_IN,
                60,
                &txt_rdata(&format!("{i:03}{}", "x".repeat(60))),
            )
        })
        .collect()
}

#[test]
fn too_big_for_udp_becomes_truncated_reply() {
    // 12 answers of ~77 octets: ~ 1000 octets, over 512.
    let ex = ex_with(30, None);
    let r = reply(&ex, 0, big_answers(12), vec![], vec![]);
    let out = finish(&ex, &r, Transport::Udp).unwrap_or_default();
    let q = question(QNAME, TYPE_TXT, CLASS_IN);
    let mut want = vec![0x12, 0x34, 0x83, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
    want.extend_from_slice(&q);
    assert_eq!(out, want, "header with TC, the question, nothing else");

    // Over TCP the whole answer goes out.
    let out = finish(&ex, &r, Transport::Tcp).unwrap_or_default();
    assert_eq!(parse(&out).answers.len(), 12);
    assert!(!parse(&out).metadata.truncation);
}

#[test]
fn udp_limit_is_the_clients_edns_size() {
    let ex = ex_with(30, Some((1232, false, &[])));
    let r = reply(&ex, 0, big_answers(12), vec![], vec![]);
    let out = finish(&ex, &r, Transport::Udp).unwrap_or_default();
    assert!(out.len() > 512 && out.len() <= 1232);
    assert_eq!(parse(&out).answers.len(), 12);

    // 20 answers (~1600 octets) do not fit 1232: truncated, with the client's OPT.
    let r = reply(&ex, 0, big_answers(20), vec![], vec![]);
    let out = finish(&ex, &r, Transport::Udp).unwrap_or_default();
    let m = parse(&out);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty() && m.authorities.is_empty());
    assert_eq!(be16(&out, 10), 1);
    assert!(out.ends_with(&opt(1232, false, &[])));
    assert_eq!(
        m.queries.first().map(|q| q.name().to_ascii()),
        Some(format!("{QNAME}."))
    );
}

#[test]
fn udp_sizes_above_4096_are_honoured() {
    // 60 answers of ~77 octets: ~4.7 KB, more than 4096 (over TCP from the upstream, which
    // is asked with a 1232-octet payload).
    for (advertised, fits) in [(4096, false), (8192, true), (65535, true)] {
        let q = query(0x1234, QNAME, TYPE_TXT, Some((advertised, false, &[])));
        let ex = exchange_with(&engine(30), &q, Transport::Tcp, 0xfeed);
        let r = reply(&ex, 0, big_answers(60), vec![], vec![]);
        let out = finish(&ex, &r, Transport::Udp).unwrap_or_default();
        let m = parse(&out);
        assert_eq!(m.metadata.truncation, !fits, "EDNS0 size {advertised}");
        if fits {
            assert!(out.len() > 4096 && out.len() <= usize::from(advertised));
            assert_eq!(m.answers.len(), 60);
        }
    }
}

#[test]
fn replies_are_compressed_over_tcp_too() {
    // A 20-CNAME chain: each owner and target after the first is a pointer, over TCP as over
    // UDP (CoreDNS's writer may still send it uncompressed: go-shim/README.md).
    let ex = ex_with(30, Some((4096, false, &[])));
    let link = |i: usize| wire_name(&format!("c{i}.chain.example.net"));
    let mut an = vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 60, &link(0))];
    for i in 0..19 {
        an.push(rr(&link(i), TYPE_CNAME, CLASS_IN, 60, &link(i + 1)));
    }
    an.push(rr(&link(19), TYPE_TXT, CLASS_IN, 60, &txt_rdata("token")));
    let r = reply(&ex, 0, an, vec![], vec![]);
    let udp = finish(&ex, &r, Transport::Udp).unwrap_or_default();
    let tcp = finish(&ex, &r, Transport::Tcp).unwrap_or_default();
    assert_eq!(parse(&tcp).answers.len(), 21);
    assert_eq!(tcp, udp);
    // Uncompressed, the 21 owners and 20 targets alone would take about 900 octets.
    assert!(tcp.len() < 600, "{} octets", tcp.len());
}

/// TXT RDATA of exactly `len` octets (character-strings of at most 255 octets).
fn txt_of_len(mut len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while len > 0 {
        let chunk = (len - 1).min(255);
        out.push(chunk as u8);
        out.extend(std::iter::repeat_n(b'p', chunk));
        len -= chunk + 1;
    }
    out
}

#[test]
fn exact_fit_is_not_truncated() {
    let ex = ex_with(30, None);
    let with_rdata = |len: usize| {
        let r = reply(
            &ex,
            0,
            vec![rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 1, &txt_of_len(len))],
            vec![],
            vec![],
        );
        finish(&ex, &r, Transport::Udp).unwrap_or_default()
    };
    // Grow the TXT RDATA until the reply is exactly 512 octets.
    let base = with_rdata(1);
    assert_eq!(be16(&base, 6), 1);
    let fit = 1 + 512 - base.len();
    let out = with_rdata(fit);
    assert_eq!(out.len(), 512);
    assert_eq!(be16(&out, 6), 1);
    assert_eq!(out[2] & 0x02, 0);
    let out = with_rdata(fit + 1);
    assert_eq!(be16(&out, 6), 0);
    assert_eq!(out[2] & 0x02, 0x02);
}

#[test]
fn reply_that_grows_past_65535_when_rebuilt_is_truncated_not_lost() {
    // A long question name and 300 answers whose owners the upstream compressed to 2-octet
    // pointers; the encoder compresses only the first names it writes, so the rebuilt reply
    // outgrows a TCP message.
    let long = format!("_acme-challenge.{}", vec!["x".repeat(60); 3].join("."));
    // Over TCP upstream too: no UDP reply may be that large.
    let ex = exchange_with(
        &engine(30),
        &query(5, &long, TYPE_TXT, None),
        Transport::Tcp,
        8,
    );
    let an: Vec<Vec<u8>> = (0..300)
        .map(|_| rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 60, &txt_of_len(200)))
        .collect();
    let r = reply(&ex, 0, an, vec![], vec![]);
    assert!(r.len() <= 65535);
    let out = finish(&ex, &r, Transport::Tcp).unwrap_or_default();
    assert_eq!(out[2] & 0x02, 0x02, "TC");
    assert_eq!(be16(&out, 6), 0);
}

#[test]
fn error_gives_no_answer() {
    let ex = ex_with(30, None);
    let e = engine(30);
    // A reply to the query (ID and question match) whose answer count lies.
    let mut lying = reply(&ex, 0, vec![], vec![], vec![]);
    lying[7] = 1;
    for (bytes, want) in [
        (lying, ReplyError::Malformed),
        (
            reply(&ex, 2, vec![], vec![], vec![]),
            ReplyError::UpstreamFailure,
        ),
    ] {
        let mut x = ex.clone();
        assert_eq!(x.on_reply(&e, &bytes, 0), Err(want));
        // One upstream configured: nothing left to try.
        assert!(matches!(x.poll(), Action::Fail(_)));
    }
    let mut r = reply(&ex, 2, vec![], vec![], vec![]);
    r[2] |= 0x02;
    let mut x = ex.clone();
    assert_eq!(x.on_reply(&e, &r, 0), Err(ReplyError::Truncated));
    assert!(matches!(
        x.poll(),
        Action::Send {
            transport: Transport::Tcp,
            ..
        }
    ));
}

#[test]
fn dname_reply_rewritten() {
    let ex = ex_with(30, None);
    let target = wire_name("_acme-challenge.www.example.net");
    let an = vec![
        rr(
            &wire_name("eXample.cOm"),
            TYPE_DNAME,
            CLASS_IN,
            600,
            &wire_name("example.net"),
        ),
        rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 0, &target),
        rr(&target, TYPE_TXT, CLASS_IN, 600, &txt_rdata("token")),
    ];
    let out = finish(&ex, &reply(&ex, 0, an, vec![], vec![]), Transport::Udp).unwrap_or_default();
    let m = parse(&out);
    let got: Vec<(String, RecordType, u32)> = m
        .answers
        .iter()
        .map(|r| (r.name.to_ascii(), r.record_type(), r.ttl))
        .collect();
    assert_eq!(
        got,
        vec![
            ("example.com.".to_string(), RecordType::DNAME, 30),
            (format!("{QNAME}."), RecordType::CNAME, 0),
            (
                "_acme-challenge.www.example.net.".to_string(),
                RecordType::TXT,
                30
            ),
        ]
    );
    // The DNAME target is passed on uncompressed, as received.
    let dname_rdata = wire_name("example.net");
    assert!(out.windows(dname_rdata.len()).any(|w| w == dname_rdata));
}

#[test]
fn other_qtypes_and_empty_answers() {
    for qtype in [TYPE_A, 28, 255, 65280] {
        let ex = new_ex(30, &query(9, QNAME, qtype, None), 4);
        let out =
            finish(&ex, &reply(&ex, 0, vec![], vec![], vec![]), Transport::Udp).unwrap_or_default();
        let q = question(QNAME, qtype, CLASS_IN);
        assert_eq!(&out[12..], &q[..], "qtype {qtype}");
        assert_eq!(&out[..4], &[0, 9, 0x81, 0x80]);
    }
}
