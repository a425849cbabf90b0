//! The checks on a reply before anything in it is used: header, question, sections, answer
//! records on the CNAME chain, authority and additional filtering; the error texts.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RecordType};

use crate::exchange::client::QueryError;
use crate::exchange::machine::Exchange;
use crate::exchange::validate::{MAX_CNAME_CHAIN, ReplyError};
use crate::testutil::*;
use crate::wire::{FLAG_QR, FLAG_TC};

const QNAME: &str = "_acme-challenge.Www.Example.COM";

fn validate_err(ex: &Exchange, reply: &[u8]) -> Option<ReplyError> {
    ex.validate(reply).err()
}

// ---- header and question checks ------------------------------------------------------

fn ex() -> Exchange {
    exchange(&query(0x1234, QNAME, TYPE_TXT, None), 0xfeed)
}

fn txt_answer() -> Vec<u8> {
    rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token"))
}

#[test]
fn valid_reply_validates() {
    let ex = ex();
    let r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
    let v = ex.validate(&r);
    assert_eq!(v.as_ref().map(|v| v.answers.len()).ok(), Some(1));
    assert_eq!(
        v.as_ref().map(|v| v.response_code).ok(),
        Some(ResponseCode::NoError)
    );
}

#[test]
fn short_reply_is_no_response() {
    let ex = ex();
    assert_eq!(validate_err(&ex, &[]), Some(ReplyError::NotAResponse));
    let r = reply(&ex, 0, vec![], vec![], vec![]);
    assert_eq!(validate_err(&ex, &r[..11]), Some(ReplyError::NotAResponse));
}

#[test]
fn qr_must_be_set() {
    let ex = ex();
    let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
    r[2] &= !FLAG_QR;
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::NotAResponse));
    // An echo of the query itself is not a response.
    assert_eq!(
        validate_err(&ex, &sent(&ex)),
        Some(ReplyError::NotAResponse)
    );
}

#[test]
fn id_must_match() {
    let ex = ex();
    let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
    r[1] ^= 1;
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::IdMismatch));
    // The client's ID is not the upstream ID.
    let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
    r[..2].copy_from_slice(&ex.client_id().to_be_bytes());
    if ex.client_id() != ex.upstream_id() {
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::IdMismatch));
    }
}

#[test]
fn opcode_must_be_query() {
    let ex = ex();
    let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
    r[2] |= 4 << 3;
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::OpcodeMismatch));
}

#[test]
fn question_must_match_byte_for_byte() {
    let ex = ex();
    let good = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);

    // Letter case of any letter.
    let letters: Vec<usize> = (12..12 + ex.question().len() - 4)
        .filter(|&i| good[i].is_ascii_alphabetic())
        .collect();
    assert!(!letters.is_empty());
    for i in letters {
        let mut r = good.clone();
        r[i] ^= 0x20;
        assert_eq!(
            validate_err(&ex, &r),
            Some(ReplyError::QuestionMismatch),
            "byte {i}"
        );
    }
    // Type and class.
    let qtype_at = 12 + ex.question().len() - 4;
    for at in [qtype_at + 1, qtype_at + 3] {
        let mut r = good.clone();
        r[at] ^= 0x02;
        assert_eq!(validate_err(&ex, &r), Some(ReplyError::QuestionMismatch));
    }
    // No question, or two.
    let mut r = good.clone();
    r[5] = 0;
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::QuestionMismatch));
    let mut r = good.clone();
    r[5] = 2;
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::QuestionMismatch));
    // A reply cut inside the question.
    assert_eq!(
        validate_err(&ex, &good[..20]),
        Some(ReplyError::QuestionMismatch)
    );
    // The client's own spelling is not what was sent.
    let client_case = Wire {
        id: ex.upstream_id(),
        flags: 0x8180,
        qd: vec![question(QNAME, TYPE_TXT, CLASS_IN)],
        an: vec![txt_answer()],
        ns: vec![],
        ar: vec![],
    };
    if client_case.qd[0] != ex.question() {
        assert_eq!(
            validate_err(&ex, &client_case.bytes()),
            Some(ReplyError::QuestionMismatch)
        );
    }
}

#[test]
fn truncated_checked_before_records() {
    let ex = ex();
    let mut r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
    r[2] |= FLAG_TC;
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::Truncated));
    // Cut in the middle of the answer: still Truncated, not Malformed.
    let cut = r.len() - 3;
    assert_eq!(validate_err(&ex, &r[..cut]), Some(ReplyError::Truncated));
    // And with a foreign record: still Truncated.
    let foreign = rr(
        &wire_name("evil.example"),
        TYPE_A,
        CLASS_IN,
        300,
        &[192, 0, 2, 1],
    );
    let mut r = reply(&ex, 0, vec![foreign], vec![], vec![]);
    r[2] |= FLAG_TC;
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::Truncated));
}

#[test]
fn unparsable_sections_are_malformed() {
    let ex = ex();
    let r = reply(&ex, 0, vec![txt_answer()], vec![], vec![]);
    // Answer cut short.
    assert_eq!(
        validate_err(&ex, &r[..r.len() - 2]),
        Some(ReplyError::Malformed)
    );
    // ANCOUNT larger than the records present.
    let mut more = r.clone();
    more[7] = 2;
    assert_eq!(validate_err(&ex, &more), Some(ReplyError::Malformed));
    // A bad authority record (pointer forward).
    let bad_ns = rr(
        &[0xc0, 0xff],
        TYPE_NS,
        CLASS_IN,
        1,
        &wire_name("ns.example"),
    );
    let r = reply(&ex, 0, vec![], vec![bad_ns], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    // Two OPT records in the additional section.
    let r = reply(
        &ex,
        0,
        vec![],
        vec![],
        vec![opt(1232, false, &[]), opt(1232, false, &[])],
    );
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
}

#[test]
fn failure_rcodes() {
    let ex = ex();
    // FORMERR, SERVFAIL, NOTIMP, REFUSED, and rcodes that never answer a query.
    for rcode in [1u16, 2, 4, 5, 7, 8, 9, 10, 11, 15] {
        let r = reply(&ex, rcode, vec![], vec![], vec![]);
        assert_eq!(
            validate_err(&ex, &r),
            Some(ReplyError::UpstreamFailure),
            "rcode {rcode}"
        );
    }
    // An extended rcode (BADVERS: high bits in the OPT record).
    let mut ext = opt(1232, false, &[]);
    ext[5] = 1;
    let r = reply(&ex, 0, vec![], vec![], vec![ext]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::UpstreamFailure));
}

#[test]
fn usable_rcodes() {
    let ex = ex();
    for (rcode, want) in [
        (0u16, ResponseCode::NoError),
        (3, ResponseCode::NXDomain),
        (6, ResponseCode::YXDomain),
    ] {
        let r = reply(&ex, rcode, vec![], vec![], vec![]);
        assert_eq!(ex.validate(&r).map(|v| v.response_code).ok(), Some(want));
    }
}

// ---- answer records ------------------------------------------------------------------

#[test]
fn answers_on_other_names_are_foreign() {
    let ex = ex();
    for owner in [
        "evil.example",
        "www.example.com",
        "x._acme-challenge.www.example.com",
        "_acme-challenge.example.com",
    ] {
        let a = rr(&wire_name(owner), TYPE_TXT, CLASS_IN, 300, &txt_rdata("x"));
        let r = reply(&ex, 0, vec![txt_answer(), a], vec![], vec![]);
        assert_eq!(
            validate_err(&ex, &r),
            Some(ReplyError::ForeignRecord),
            "{owner}"
        );
    }
}

#[test]
fn answer_owner_compared_case_insensitively() {
    let ex = ex();
    for owner in [
        QNAME.to_string(),
        QNAME.to_lowercase(),
        QNAME.to_uppercase(),
    ] {
        let a = rr(&wire_name(&owner), TYPE_TXT, CLASS_IN, 300, &txt_rdata("x"));
        let r = reply(&ex, 0, vec![a], vec![], vec![]);
        assert!(ex.validate(&r).is_ok(), "{owner}");
    }
}

#[test]
fn answer_class_must_match() {
    let ex = ex();
    let a = rr(&QNAME_PTR, TYPE_TXT, CLASS_CH, 300, &txt_rdata("x"));
    let r = reply(&ex, 0, vec![a], vec![], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
}

#[test]
fn cname_chain_followed() {
    let ex = ex();
    let a = wire_name("Target-A.example.net");
    let b = wire_name("target-b.example.org");
    let answers = vec![
        rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &a),
        rr(
            &wire_name("target-a.EXAMPLE.net"),
            TYPE_CNAME,
            CLASS_IN,
            300,
            &b,
        ),
        rr(&b, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
    ];
    let r = reply(&ex, 0, answers.clone(), vec![], vec![]);
    assert_eq!(ex.validate(&r).map(|v| v.answers.len()).ok(), Some(3));

    // Out of order still links up.
    let mut shuffled = answers.clone();
    shuffled.reverse();
    let r = reply(&ex, 0, shuffled, vec![], vec![]);
    assert!(ex.validate(&r).is_ok());

    // A record on a name the chain does not reach is foreign.
    let mut extra = answers;
    extra.push(rr(
        &wire_name("target-c.example.org"),
        TYPE_TXT,
        CLASS_IN,
        300,
        &txt_rdata("x"),
    ));
    let r = reply(&ex, 0, extra, vec![], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
}

#[test]
fn cname_from_unrelated_name_does_not_extend_chain() {
    let ex = ex();
    let answers = vec![
        rr(
            &wire_name("other.example"),
            TYPE_CNAME,
            CLASS_IN,
            300,
            &wire_name("x.example"),
        ),
        rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
    ];
    let r = reply(&ex, 0, answers, vec![], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
}

#[test]
fn cname_chain_length_capped() {
    let ex = ex();
    let mut answers = vec![rr(
        &QNAME_PTR,
        TYPE_CNAME,
        CLASS_IN,
        1,
        &wire_name("c0.example"),
    )];
    for i in 0..MAX_CNAME_CHAIN + 1 {
        answers.push(rr(
            &wire_name(&format!("c{i}.example")),
            TYPE_CNAME,
            CLASS_IN,
            1,
            &wire_name(&format!("c{}.example", i + 1)),
        ));
    }
    let r = reply(&ex, 0, answers.clone(), vec![], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::ForeignRecord));
    answers.truncate(MAX_CNAME_CHAIN);
    let r = reply(&ex, 0, answers, vec![], vec![]);
    assert!(ex.validate(&r).is_ok());
}

/// The (owner, type) of the answer records a reply keeps, owners lower-cased.
fn kept(ex: &Exchange, reply: &[u8]) -> Vec<(String, RecordType)> {
    match ex.validate(reply) {
        Ok(v) => v
            .answers
            .iter()
            .map(|r| (r.name.to_ascii().to_lowercase(), r.record_type()))
            .collect(),
        Err(e) => panic!("reply refused: {e}"),
    }
}

fn owned(name: &str, rtype: RecordType) -> (String, RecordType) {
    (format!("{}.", name.to_lowercase()), rtype)
}

#[test]
fn self_cname_answers_a_cname_question() {
    // `X CNAME X`: a CNAME question gets the record, as the public resolver gives it.
    let ex = exchange(&query(0x1234, QNAME, TYPE_CNAME, None), 0xfeed);
    let answers = vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 1, &wire_name(QNAME))];
    let r = reply(&ex, 0, answers, vec![], vec![]);
    assert_eq!(kept(&ex, &r), vec![owned(QNAME, RecordType::CNAME)]);
}

#[test]
fn cname_loop_is_passed_on_without_data() {
    // A loop has no end, so no record of the question's type: the loop's CNAMEs go to the
    // client as the upstream gave them (a resolver usually answers SERVFAIL itself, which moves
    // on to the next upstream like any SERVFAIL).
    let ex = ex();
    let answers = vec![
        rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 1, &wire_name("a.example")),
        rr(
            &wire_name("a.example"),
            TYPE_CNAME,
            CLASS_IN,
            1,
            &wire_name(QNAME),
        ),
        // Data on the loop cannot be the answer.
        rr(
            &wire_name("a.example"),
            TYPE_TXT,
            CLASS_IN,
            1,
            &txt_rdata("x"),
        ),
    ];
    let r = reply(&ex, 0, answers, vec![], vec![]);
    assert_eq!(
        kept(&ex, &r),
        vec![
            owned(QNAME, RecordType::CNAME),
            owned("a.example", RecordType::CNAME)
        ]
    );
    // A CNAME onto itself too, also with NXDOMAIN (a loop has no end to contradict).
    for rcode in [0, 3] {
        let answers = vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 1, &wire_name(QNAME))];
        let r = reply(&ex, rcode, answers, vec![], vec![]);
        assert_eq!(kept(&ex, &r), vec![owned(QNAME, RecordType::CNAME)]);
    }
}

// ---- what the answer section keeps ---------------------------------------------------

#[test]
fn records_of_other_types_are_dropped() {
    let ex = ex();
    let mx = {
        let mut d = vec![0, 10];
        d.extend(wire_name("mail.example.com"));
        d
    };
    let answers = vec![
        rr(&QNAME_PTR, TYPE_A, CLASS_IN, 300, &[6, 6, 6, 6]),
        txt_answer(),
        rr(&QNAME_PTR, TYPE_MX, CLASS_IN, 300, &mx),
        rr(
            &QNAME_PTR,
            TYPE_NS,
            CLASS_IN,
            300,
            &wire_name("ns.evil.example"),
        ),
    ];
    let r = reply(&ex, 0, answers, vec![], vec![]);
    assert_eq!(kept(&ex, &r), vec![owned(QNAME, RecordType::TXT)]);
}

#[test]
fn chain_keeps_its_cnames_and_the_asked_type_at_its_end() {
    let ex = ex();
    let target = wire_name("intranet.corp.example");
    let answers = vec![
        rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target),
        rr(&target, TYPE_A, CLASS_IN, 300, &[6, 6, 6, 6]),
        // The question's type on a name that has a CNAME cannot be: dropped.
        rr(&QNAME_PTR, TYPE_TXT, CLASS_IN, 300, &txt_rdata("beside")),
    ];
    let r = reply(&ex, 0, answers.clone(), vec![], vec![]);
    assert_eq!(
        kept(&ex, &r),
        vec![owned(QNAME, RecordType::CNAME)],
        "a TXT question gets no A record of the target"
    );
    let mut with_txt = answers;
    with_txt.push(rr(&target, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")));
    let r = reply(&ex, 0, with_txt, vec![], vec![]);
    assert_eq!(
        kept(&ex, &r),
        vec![
            owned(QNAME, RecordType::CNAME),
            owned("intranet.corp.example", RecordType::TXT)
        ]
    );
}

#[test]
fn cname_question_gets_the_cname_alone() {
    let ex = exchange(&query(0x1234, QNAME, TYPE_CNAME, None), 0xfeed);
    let target = wire_name("token.auth.example.net");
    let answers = vec![
        rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target),
        rr(&target, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
        rr(
            &target,
            TYPE_CNAME,
            CLASS_IN,
            300,
            &wire_name("further.example"),
        ),
    ];
    let r = reply(&ex, 0, answers, vec![], vec![]);
    assert_eq!(kept(&ex, &r), vec![owned(QNAME, RecordType::CNAME)]);
}

#[test]
fn any_question_keeps_every_type_at_the_end() {
    let ex = exchange(&query(0x1234, QNAME, 255, None), 0xfeed);
    let answers = vec![
        rr(&QNAME_PTR, TYPE_A, CLASS_IN, 300, &[192, 0, 2, 1]),
        txt_answer(),
        rr(
            &QNAME_PTR,
            TYPE_RRSIG,
            CLASS_IN,
            300,
            &rrsig_rdata(TYPE_TXT),
        ),
    ];
    let r = reply(&ex, 0, answers, vec![], vec![]);
    assert_eq!(
        kept(&ex, &r),
        vec![owned(QNAME, RecordType::A), owned(QNAME, RecordType::TXT)],
        "the signature only with DO"
    );
}

/// RRSIG data covering `covered`: algorithm 13, 5 labels, TTLs and times, key tag, signer
/// `example.com`, a short signature.
fn rrsig_rdata(covered: u16) -> Vec<u8> {
    let mut d = covered.to_be_bytes().to_vec();
    d.extend_from_slice(&[13, 5, 0, 0, 1, 0x2c]);
    d.extend_from_slice(&[0x70, 0, 0, 0, 0x60, 0, 0, 0, 0x12, 0x34]);
    d.extend(wire_name("example.com"));
    d.extend_from_slice(&[0xaa; 16]);
    d
}

#[test]
fn signatures_only_for_do_and_only_of_kept_records() {
    let target = wire_name("token.auth.example.net");
    let answers = vec![
        rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target),
        rr(
            &QNAME_PTR,
            TYPE_RRSIG,
            CLASS_IN,
            300,
            &rrsig_rdata(TYPE_CNAME),
        ),
        rr(&target, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
        rr(&target, TYPE_RRSIG, CLASS_IN, 300, &rrsig_rdata(TYPE_TXT)),
        // Signatures of what is dropped, or of nothing there.
        rr(&target, TYPE_A, CLASS_IN, 300, &[6, 6, 6, 6]),
        rr(&target, TYPE_RRSIG, CLASS_IN, 300, &rrsig_rdata(TYPE_A)),
        rr(
            &QNAME_PTR,
            TYPE_RRSIG,
            CLASS_IN,
            300,
            &rrsig_rdata(TYPE_TXT),
        ),
        rr(&target, TYPE_RRSIG, CLASS_IN, 300, &[0]),
    ];
    let plain = ex();
    let r = reply(&plain, 0, answers.clone(), vec![], vec![]);
    assert_eq!(
        kept(&plain, &r),
        vec![
            owned(QNAME, RecordType::CNAME),
            owned("token.auth.example.net", RecordType::TXT)
        ]
    );
    let dnssec = exchange(
        &query(0x1234, QNAME, TYPE_TXT, Some((1232, true, &[]))),
        0xfeed,
    );
    let r = reply(&dnssec, 0, answers, vec![], vec![]);
    assert_eq!(
        kept(&dnssec, &r),
        vec![
            owned(QNAME, RecordType::CNAME),
            owned(QNAME, RecordType::RRSIG),
            owned("token.auth.example.net", RecordType::TXT),
            owned("token.auth.example.net", RecordType::RRSIG)
        ]
    );
    // An RRSIG question gets RRSIGs with or without DO: they are the asked type.
    let sigs = exchange(&query(0x1234, QNAME, TYPE_RRSIG, None), 0xfeed);
    let a = rr(
        &QNAME_PTR,
        TYPE_RRSIG,
        CLASS_IN,
        300,
        &rrsig_rdata(TYPE_TXT),
    );
    let r = reply(&sigs, 0, vec![a], vec![], vec![]);
    assert_eq!(kept(&sigs, &r), vec![owned(QNAME, RecordType::RRSIG)]);
}

#[test]
fn nxdomain_with_data_of_the_missing_name_is_refused() {
    let ex = ex();
    // The question name said not to exist, with its TXT, or another of its records.
    for rtype in [TYPE_TXT, TYPE_A] {
        // Four octets: a TXT of "xyz", or an address.
        let a = rr(&QNAME_PTR, rtype, CLASS_IN, 300, &txt_rdata("xyz"));
        let r = reply(&ex, 3, vec![a], vec![], vec![]);
        assert_eq!(
            validate_err(&ex, &r),
            Some(ReplyError::NxdomainWithData),
            "type {rtype}"
        );
    }
    // NXDOMAIN at the end of a chain: the CNAMEs are the answer...
    let target = wire_name("gone.example.net");
    let cname = rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target);
    let r = reply(&ex, 3, vec![cname.clone()], vec![], vec![]);
    assert_eq!(kept(&ex, &r), vec![owned(QNAME, RecordType::CNAME)]);
    // ... and data of the end contradicts it.
    let data = rr(&target, TYPE_TXT, CLASS_IN, 300, &txt_rdata("x"));
    let r = reply(&ex, 3, vec![cname, data], vec![], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::NxdomainWithData));
}

#[test]
fn dname_on_ancestor_accepted() {
    let ex = ex();
    // example.COM DNAME example.net; synthesized CNAME; the answer at the target.
    let target = wire_name("_acme-challenge.www.example.net");
    let answers = vec![
        rr(
            &wire_name("example.COM"),
            TYPE_DNAME,
            CLASS_IN,
            300,
            &wire_name("example.net"),
        ),
        rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target),
        rr(&target, TYPE_TXT, CLASS_IN, 300, &txt_rdata("token")),
    ];
    let r = reply(&ex, 0, answers, vec![], vec![]);
    assert_eq!(ex.validate(&r).map(|v| v.answers.len()).ok(), Some(3));
}

#[test]
fn dname_elsewhere_is_foreign() {
    let ex = ex();
    for owner in [
        "example.org",
        "sub._acme-challenge.www.example.com",
        "badexample.com",
    ] {
        let d = rr(
            &wire_name(owner),
            TYPE_DNAME,
            CLASS_IN,
            300,
            &wire_name("example.net"),
        );
        let r = reply(&ex, 0, vec![d, txt_answer()], vec![], vec![]);
        assert_eq!(
            validate_err(&ex, &r),
            Some(ReplyError::ForeignRecord),
            "{owner}"
        );
    }
}

#[test]
fn compressed_names_in_opaque_rdata_refused() {
    let ex = ex();
    // DNAME whose target is a pointer: cannot be re-encoded safely.
    let d = rr(
        &wire_name("example.com"),
        TYPE_DNAME,
        CLASS_IN,
        300,
        &[3, b'n', b'e', b't', 0xc0, 0x0c],
    );
    let r = reply(&ex, 0, vec![d], vec![], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    // MB (7) at the question name, compressed vs plain.
    let mb = rr(&QNAME_PTR, 7, CLASS_IN, 300, &[0xc0, 0x0c]);
    let r = reply(&ex, 0, vec![mb], vec![], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
    let mb = rr(&QNAME_PTR, 7, CLASS_IN, 300, &wire_name("mail.example"));
    let r = reply(&ex, 0, vec![mb], vec![], vec![]);
    assert!(ex.validate(&r).is_ok());
    // MINFO (14) holds two names.
    let mut two = wire_name("a.example");
    two.extend(wire_name("b.example"));
    let minfo = rr(&QNAME_PTR, 14, CLASS_IN, 300, &two);
    let r = reply(&ex, 0, vec![minfo], vec![], vec![]);
    assert!(ex.validate(&r).is_ok());
    let minfo = rr(&QNAME_PTR, 14, CLASS_IN, 300, &wire_name("a.example"));
    let r = reply(&ex, 0, vec![minfo], vec![], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
}

// ---- authority and additional --------------------------------------------------------

#[test]
fn authority_keeps_zone_soa_and_ns_only() {
    let ex = ex();
    let ns = vec![
        rr(
            &wire_name("example.com"),
            TYPE_SOA,
            CLASS_IN,
            300,
            &soa_rdata("example.com", 60),
        ),
        rr(
            &wire_name("Example.com"),
            TYPE_NS,
            CLASS_IN,
            300,
            &wire_name("ns1.example.com"),
        ),
        rr(
            &wire_name("www.example.com"),
            TYPE_NS,
            CLASS_IN,
            300,
            &wire_name("ns1.example.com"),
        ),
        // Not ancestors of the question name:
        rr(
            &wire_name("example.org"),
            TYPE_NS,
            CLASS_IN,
            300,
            &wire_name("ns1.example.org"),
        ),
        rr(
            &wire_name("evil.example.com"),
            TYPE_SOA,
            CLASS_IN,
            300,
            &soa_rdata("evil.example.com", 1),
        ),
        rr(
            &wire_name("x._acme-challenge.www.example.com"),
            TYPE_NS,
            CLASS_IN,
            300,
            &wire_name("ns.x"),
        ),
        // Not SOA or NS:
        rr(
            &wire_name("example.com"),
            TYPE_NSEC,
            CLASS_IN,
            300,
            &[0, 0, 1, 0x40],
        ),
        rr(
            &wire_name("example.com"),
            TYPE_A,
            CLASS_IN,
            300,
            &[192, 0, 2, 1],
        ),
        // Wrong class:
        rr(
            &wire_name("example.com"),
            TYPE_NS,
            CLASS_CH,
            300,
            &wire_name("ns1.example.com"),
        ),
    ];
    let r = reply(&ex, 3, vec![], ns, vec![]);
    let kept: Vec<(String, RecordType)> = ex
        .validate(&r)
        .map(|v| {
            v.authorities
                .iter()
                .map(|r| (r.name.to_ascii().to_lowercase(), r.record_type()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        kept,
        vec![
            ("example.com.".to_string(), RecordType::SOA),
            ("example.com.".to_string(), RecordType::NS),
            ("www.example.com.".to_string(), RecordType::NS),
        ]
    );
}

#[test]
fn authority_soa_above_cname_target_kept() {
    let ex = ex();
    let target = wire_name("token.acme-dns.example.net");
    let an = vec![rr(&QNAME_PTR, TYPE_CNAME, CLASS_IN, 300, &target)];
    let ns = vec![rr(
        &wire_name("acme-dns.example.net"),
        TYPE_SOA,
        CLASS_IN,
        300,
        &soa_rdata("acme-dns.example.net", 5),
    )];
    let r = reply(&ex, 3, an, ns, vec![]);
    assert_eq!(ex.validate(&r).map(|v| v.authorities.len()).ok(), Some(1));
}

#[test]
fn record_types_hickory_refuses_in_answers_are_malformed() {
    let ex = ex();
    // OPT outside the additional section.
    let r = reply(&ex, 0, vec![opt(1232, false, &[])], vec![], vec![]);
    assert_eq!(validate_err(&ex, &r), Some(ReplyError::Malformed));
}

#[test]
fn every_type_and_class_value_round_trips() {
    // The upstream question is rebuilt from hickory's parsed type and class: every u16 must
    // come back unchanged, or the byte-exact question check would reject honest replies.
    for v in 0..=u16::MAX {
        assert_eq!(u16::from(RecordType::from(v)), v);
        assert_eq!(u16::from(DNSClass::from(v)), v);
    }
}

#[test]
fn errors_have_distinct_messages() {
    let q = [
        QueryError::Malformed,
        QueryError::NotAQuery,
        QueryError::UnsupportedOpcode,
        QueryError::QuestionCount,
    ];
    let r = [
        ReplyError::Truncated,
        ReplyError::Malformed,
        ReplyError::NotAResponse,
        ReplyError::IdMismatch,
        ReplyError::OpcodeMismatch,
        ReplyError::QuestionMismatch,
        ReplyError::ForeignRecord,
        ReplyError::NxdomainWithData,
        ReplyError::UpstreamFailure,
        ReplyError::NotAuthoritative,
        ReplyError::ExchangeDone,
    ];
    let mut msgs: Vec<&str> = q
        .iter()
        .map(QueryError::as_str)
        .chain(r.iter().map(ReplyError::as_str))
        .collect();
    let n = msgs.len();
    msgs.sort_unstable();
    msgs.dedup();
    assert_eq!(msgs.len(), n);
    assert_eq!(
        ReplyError::IdMismatch.to_string(),
        ReplyError::IdMismatch.as_str()
    );
}
