//! The name hash: fixed, in range, and the same on the fly with letters lower-cased.

use super::*;

fn w(s: &str) -> Vec<u8> {
    crate::testutil::wire_name(s)
}

#[test]
fn filter_bit_is_fixed_and_in_range() {
    let names: Vec<Vec<u8>> = (0..2000).map(|i| w(&format!("n{i}.example"))).collect();
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        let bit = filter_bit(n);
        assert!(bit < FILTER_BITS);
        assert_eq!(bit, filter_bit(n), "deterministic");
        seen.insert(bit);
    }
    // Spread: 2000 names over 4096 bits fill well over a thousand distinct bits.
    assert!(seen.len() > 1200, "{} distinct bits", seen.len());
    for n in [&b""[..], b"\x00", &[0xffu8; 255][..]] {
        assert!(filter_bit(n) < FILTER_BITS);
    }
}

#[test]
fn lower_casing_words_matches_lower_casing_bytes() {
    // Every byte value at every position of the word, beside neighbours that would carry.
    for pos in 0..8 {
        for b in 0..=255u8 {
            for fill in [0x00u8, 0x40, 0x5a, 0x5b, 0x7f, 0x80, 0xc1, 0xff] {
                let mut bytes = [fill; 8];
                bytes[pos] = b;
                let want = bytes.map(|c| c.to_ascii_lowercase());
                let got = ascii_lower_word(u64::from_le_bytes(bytes)).to_le_bytes();
                assert_eq!(got, want, "{bytes:?}");
            }
        }
    }
    // Every range of a name, read with and without bytes around it.
    let name = b"Api-Payments_SVC.Cluster.\xffZ@[`{.LOCAL";
    for start in 0..=name.len() {
        for end in start..=name.len() {
            let lower: Vec<u8> = name[start..end]
                .iter()
                .map(u8::to_ascii_lowercase)
                .collect();
            let want = filter_bit(&lower);
            assert_eq!(filter_bit_lower(name, start, end), want, "{start}..{end}");
            let alone = &name[start..end];
            assert_eq!(
                filter_bit_lower(alone, 0, alone.len()),
                want,
                "{start}..{end}"
            );
        }
    }
    assert_eq!(filter_bit_lower(name, 5, 2), filter_bit(b""));
    assert_eq!(filter_bit_lower(name, 0, 99), filter_bit(b""));
}
