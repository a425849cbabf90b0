//! Presentation-format names to wire form and back: escapes, limits, labels and ancestors.

use super::*;

fn wire(s: &str) -> Vec<u8> {
    scan(s.as_bytes())
        .map(|w| w.as_bytes().to_vec())
        .unwrap_or_default()
}

fn presentation(w: &[u8]) -> String {
    let mut s = String::new();
    write_presentation(w, &mut s).unwrap_or_default();
    s
}

#[test]
fn root_forms() {
    assert_eq!(wire("."), vec![0]);
}

#[test]
fn plain_name_lowercased_trailing_dot_optional() {
    let expected = b"\x07example\x03com\x00".to_vec();
    assert_eq!(wire("Example.COM"), expected);
    assert_eq!(wire("example.com."), expected);
}

#[test]
fn escapes() {
    assert_eq!(wire(r"a\.b.c"), b"\x03a.b\x01c\x00".to_vec());
    assert_eq!(
        wire(r"\095acme-challenge"),
        b"\x0f_acme-challenge\x00".to_vec()
    );
    assert_eq!(
        wire(r"\065"),
        b"\x01a\x00".to_vec(),
        "escaped letters are lower-cased too"
    );
    assert_eq!(wire(r"\000\255"), b"\x02\x00\xff\x00".to_vec());
    assert_eq!(wire(r"a\\b"), b"\x03a\\b\x00".to_vec());
    assert_eq!(wire(r"\ x"), b"\x02 x\x00".to_vec());
}

#[test]
fn errors() {
    assert_eq!(scan(b"").err(), Some(NameError::Empty));
    assert_eq!(scan(b"..").err(), Some(NameError::EmptyLabel));
    assert_eq!(scan(b"a..b").err(), Some(NameError::EmptyLabel));
    assert_eq!(scan(b".a").err(), Some(NameError::EmptyLabel));
    assert_eq!(scan(b"a.b..").err(), Some(NameError::EmptyLabel));
    assert_eq!(scan(b"a\\").err(), Some(NameError::BadEscape));
    assert_eq!(scan(b"\\25").err(), Some(NameError::BadEscape));
    assert_eq!(scan(b"\\25x").err(), Some(NameError::BadEscape));
    assert_eq!(scan(b"\\256").err(), Some(NameError::BadEscape));
    assert_eq!(scan(b"\\999").err(), Some(NameError::BadEscape));
}

#[test]
fn label_length_limit() {
    let ok = "a".repeat(63);
    assert_eq!(wire(&ok).len(), 65);
    let long = "a".repeat(64);
    assert_eq!(scan(long.as_bytes()).err(), Some(NameError::LabelTooLong));
    // Escapes count as one octet each.
    let escaped = "\\097".repeat(63);
    assert_eq!(wire(&escaped).len(), 65);
    let escaped = "\\097".repeat(64);
    assert_eq!(
        scan(escaped.as_bytes()).err(),
        Some(NameError::LabelTooLong)
    );
}

#[test]
fn name_length_limit() {
    // Four 63-octet labels would be 4*64+1 = 257 octets.
    let l = "a".repeat(63);
    let too_long = format!("{l}.{l}.{l}.{l}");
    assert_eq!(scan(too_long.as_bytes()).err(), Some(NameError::TooLong));
    // 3*64 + 62 + 1 = 255: exactly the limit.
    let max = format!("{l}.{l}.{l}.{}", "b".repeat(61));
    assert_eq!(wire(&max).len(), 255);
    let max_dot = format!("{max}.");
    assert_eq!(wire(&max_dot).len(), 255);
    let over = format!("{l}.{l}.{l}.{}", "b".repeat(62));
    assert_eq!(scan(over.as_bytes()).err(), Some(NameError::TooLong));
    let over_by_label = format!("{max}.c");
    assert_eq!(
        scan(over_by_label.as_bytes()).err(),
        Some(NameError::TooLong)
    );
    // Many short labels.
    let many = "a.".repeat(127);
    assert_eq!(wire(&many).len(), 255);
    let too_many = "a.".repeat(128);
    assert_eq!(scan(too_many.as_bytes()).err(), Some(NameError::TooLong));
}

#[test]
fn suffix_is_label_aware() {
    let zone = wire("example.com");
    assert!(is_at_or_below(&wire("example.com"), &zone));
    assert!(is_at_or_below(&wire("a.b.example.com"), &zone));
    assert!(!is_at_or_below(&wire("badexample.com"), &zone));
    assert!(!is_at_or_below(&wire(r"foo\.example.com"), &zone));
    assert!(!is_at_or_below(&wire("com"), &zone));
    assert!(is_at_or_below(&wire("anything.at.all"), &wire(".")));
    assert!(is_at_or_below(&wire("."), &wire(".")));
    assert!(!is_at_or_below(&wire("."), &zone));
}

#[test]
fn labels_iterates() {
    let w = wire("a.bc.def");
    let got: Vec<&[u8]> = labels(&w).collect();
    assert_eq!(got, vec![&b"a"[..], b"bc", b"def"]);
    assert_eq!(labels(&[0]).count(), 0);
    assert_eq!(labels(&[5, b'a']).count(), 0, "truncated label stops");
}

#[test]
fn ancestors_nearest_first_without_root() {
    let w = wire("a.b.c");
    let got: Vec<Vec<u8>> = ancestors(&w).map(<[u8]>::to_vec).collect();
    assert_eq!(got, vec![wire("b.c"), wire("c")]);
    assert_eq!(ancestors(&wire("c")).count(), 0);
    assert_eq!(ancestors(&[0]).count(), 0);
    assert_eq!(ancestors(&[]).count(), 0);
    assert_eq!(ancestors(&[9, b'a']).count(), 0, "truncated stops");
}

#[test]
fn normalize_wire_checks_and_lowercases() {
    let n = |b: &[u8]| normalize_wire(b).map(|w| w.as_bytes().to_vec());
    assert_eq!(n(b"\x03AbC\x00"), Some(b"\x03abc\x00".to_vec()));
    assert_eq!(n(&[0]), Some(vec![0]));
    for bad in [
        &b""[..],
        b"\x03abc",
        b"\x03abc\x00\x00",
        b"\x04abc\x00",
        b"\xc0\x0c",
        &[64; 66][..],
    ] {
        assert_eq!(n(bad), None, "{bad:?}");
    }
    let long = [&[1u8, b'a'][..]; 128].concat();
    let mut long0 = long.clone();
    long0.push(0);
    assert_eq!(n(&long0), None, "256 octets");
    assert_eq!(n(&long0[2..]).map(|w| w.len()), Some(255));
}

#[test]
fn presentation_round_trip() {
    assert_eq!(presentation(&wire("Example.com")), "example.com.");
    assert_eq!(presentation(&wire(".")), ".");
    assert_eq!(presentation(&wire(r"a\.b.c")), r"a\.b.c.");
    assert_eq!(presentation(&wire(r"\000x")), r"\000x.");
    for s in [
        r"a\.b.c.",
        r"\000\255.x.",
        r"\;\(\)\\.",
        "_acme-challenge.example.com.",
    ] {
        assert_eq!(wire(&presentation(&wire(s))), wire(s));
    }
}
