//! Property: `Config::classify` agrees with a plain reference model built from the unescaped,
//! lower-cased label list, for random names written with random escapes.

mod common;

use acmeforward::{ConfigBuilder, Engine, Verdict};
use proptest::prelude::*;

/// How one label octet is written in presentation format.
#[derive(Debug, Clone, Copy)]
enum Spelling {
    Plain,
    Char,    // \X
    Decimal, // \DDD
}

fn spell(label: &[u8], how: &[Spelling], upper: &[bool], out: &mut Vec<u8>) {
    for (i, &b) in label.iter().enumerate() {
        let b = if upper.get(i).copied().unwrap_or(false) {
            b.to_ascii_uppercase()
        } else {
            b
        };
        let mut how = how.get(i).copied().unwrap_or(Spelling::Plain);
        // `.` and `\` must be escaped; a digit after `\` would start `\DDD`.
        if matches!(how, Spelling::Plain) && (b == b'.' || b == b'\\') {
            how = Spelling::Char;
        }
        if matches!(how, Spelling::Char) && b.is_ascii_digit() {
            how = Spelling::Decimal;
        }
        match how {
            Spelling::Plain => out.push(b),
            Spelling::Char => out.extend_from_slice(&[b'\\', b]),
            Spelling::Decimal => out.extend_from_slice(format!("\\{b:03}").as_bytes()),
        }
    }
}

fn interesting_label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(b"_acme-challenge".to_vec()),
        1 => Just(b"_ACME-challenge".to_vec()),
        1 => Just(b"_acme-challenge.x".to_vec()),
        1 => Just(b"x_acme-challenge".to_vec()),
        2 => Just(b"_validation-persist".to_vec()),
        1 => Just(b"_Validation-PERSIST".to_vec()),
        1 => Just(b"_validation-persis".to_vec()),
        // dns-account-01 account labels, and near misses (0, 1, 8, 9 are not base32; 15 and
        // 17 characters).
        2 => Just(b"_ujmmovf2vn55tgye".to_vec()),
        1 => Just(b"_UJMMOVF2VN55TGYE".to_vec()),
        1 => proptest::collection::vec(
            prop::sample::select(b"abcdefghijklmnopqrstuvwxyz234567ABZ0189-_".to_vec()),
            15..=17,
        )
        .prop_map(|chars| [b"_".to_vec(), chars].concat()),
        1 => Just(b"_x".to_vec()),
        1 => Just(b"_Custom-1".to_vec()),
        2 => Just(b"example".to_vec()),
        2 => Just(b"com".to_vec()),
        1 => Just(b"foo.example".to_vec()),
        1 => Just(b"badexample".to_vec()),
        3 => proptest::collection::vec(any::<u8>(), 1..=12),
        1 => proptest::collection::vec(any::<u8>(), 60..=64),
    ]
}

#[derive(Debug, Clone)]
struct Name {
    labels: Vec<Vec<u8>>,
    spelling: Vec<Vec<Spelling>>,
    upper: Vec<Vec<bool>>,
    trailing_dot: bool,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    prop_oneof![
        6 => Just(Spelling::Plain),
        1 => Just(Spelling::Char),
        1 => Just(Spelling::Decimal),
    ]
}

fn name_strategy(max_labels: usize) -> impl Strategy<Value = Name> {
    proptest::collection::vec(interesting_label(), 0..=max_labels).prop_flat_map(|labels| {
        let n = labels.len();
        (
            Just(labels),
            proptest::collection::vec(proptest::collection::vec(spelling(), 64), n),
            proptest::collection::vec(proptest::collection::vec(any::<bool>(), 64), n),
            any::<bool>(),
        )
            .prop_map(|(labels, spelling, upper, trailing_dot)| Name {
                labels,
                spelling,
                upper,
                trailing_dot,
            })
    })
}

impl Name {
    fn presentation(&self) -> Vec<u8> {
        if self.labels.is_empty() {
            return b".".to_vec();
        }
        let mut out = Vec::new();
        for (i, l) in self.labels.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            spell(l, &self.spelling[i], &self.upper[i], &mut out);
        }
        if self.trailing_dot {
            out.push(b'.');
        }
        out
    }

    /// What the model sees: lower-cased labels (the letter-case flips are undone by lowering).
    fn lower_labels(&self) -> Vec<Vec<u8>> {
        self.labels.iter().map(|l| l.to_ascii_lowercase()).collect()
    }

    fn valid(&self) -> bool {
        let wire_len: usize = self.labels.iter().map(|l| 1 + l.len()).sum::<usize>() + 1;
        self.labels.iter().all(|l| !l.is_empty() && l.len() <= 63) && wire_len <= 255
    }
}

/// The default challenge labels.
const DEFAULT_LABELS: &[&str] = &["_acme-challenge", "_validation-persist"];

/// dns-account-01's account label: `_` and 16 characters of a-z, 2-7 (lower-cased already).
fn is_account_label(label: &[u8]) -> bool {
    label.len() == 17
        && label[0] == b'_'
        && label[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(c))
}

/// The reference: forward iff class IN, the name is valid, its first label is one of
/// `challenge` (compared lower-cased), or `_acme-challenge` is one and the first two labels are
/// an account label and `_acme-challenge`, and one of the zones' label lists is a suffix of its
/// label list (no zones: the root).
fn model_with(name: &Name, zones: &[Name], qclass: u16, challenge: &[&str]) -> Verdict {
    let labels = name.lower_labels();
    let first = labels.first().map(Vec::as_slice);
    let listed = challenge
        .iter()
        .any(|c| first == Some(c.to_ascii_lowercase().as_bytes()));
    let account = challenge.contains(&"_acme-challenge")
        && first.is_some_and(is_account_label)
        && labels.get(1).map(Vec::as_slice) == Some(b"_acme-challenge".as_slice());
    let forward = qclass == 1
        && name.valid()
        && (listed || account)
        && (zones.is_empty() || zones.iter().any(|z| labels.ends_with(&z.lower_labels())));
    if forward {
        Verdict::Forward
    } else {
        Verdict::Pass
    }
}

/// [`model_with`] the default labels.
fn model(name: &Name, zones: &[Name], qclass: u16) -> Verdict {
    model_with(name, zones, qclass, DEFAULT_LABELS)
}

/// The reference for `Engine::classify` with nothing learned and discovery on: rule 1 as above,
/// plus rule 2: SOA (6) and NS (2) for valid names at or below a zone listed explicitly (not the
/// root).
fn engine_model(name: &Name, zones: &[Name], qtype: u16, qclass: u16) -> Verdict {
    let labels = name.lower_labels();
    let discovery = qclass == 1
        && name.valid()
        && matches!(qtype, 2 | 6)
        && zones
            .iter()
            .any(|z| !z.labels.is_empty() && labels.ends_with(&z.lower_labels()));
    if discovery {
        Verdict::Forward
    } else {
        model(name, zones, qclass)
    }
}

/// A name built from the tail of another (so zones often contain the name) or freshly.
fn zone_strategy() -> impl Strategy<Value = Name> {
    name_strategy(3).prop_filter("zones must be valid", Name::valid)
}

fn case_strategy() -> impl Strategy<Value = (Name, Vec<Name>, u16)> {
    (
        name_strategy(6),
        proptest::collection::vec(zone_strategy(), 0..=3),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..=3),
        prop_oneof![8 => Just(1u16), 1 => Just(3u16), 1 => any::<u16>()],
    )
        .prop_map(|(name, mut zones, tails, qclass)| {
            // Make some zones real suffixes of the name, spelled differently.
            for (i, t) in tails.iter().enumerate() {
                if name.labels.is_empty() {
                    break;
                }
                let skip = t.index(name.labels.len() + 1);
                let tail = Name {
                    labels: name.labels[skip.min(name.labels.len())..].to_vec(),
                    spelling: name.spelling[skip.min(name.labels.len())..].to_vec(),
                    upper: name.upper[skip.min(name.labels.len())..]
                        .iter()
                        .map(|u| u.iter().map(|b| !b).collect())
                        .collect(),
                    trailing_dot: i % 2 == 0,
                };
                if tail.valid() {
                    zones.push(tail);
                }
            }
            (name, zones, qclass)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn classify_matches_reference_model((name, zones, qclass) in case_strategy(), qtype in any::<u16>()) {
        let zone_texts: Vec<String> = zones
            .iter()
            .map(|z| String::from_utf8_lossy(&z.presentation()).into_owned())
            .collect();
        // Zones must be valid UTF-8 to pass through `&str`; skip the rare ones that are not.
        let usable: Vec<(usize, &String)> = zones
            .iter()
            .zip(&zone_texts)
            .enumerate()
            .filter(|(_, (z, t))| t.as_bytes() == z.presentation())
            .map(|(i, (_, t))| (i, t))
            .collect();
        let used_zones: Vec<Name> = usable.iter().map(|(i, _)| zones[*i].clone()).collect();
        let texts: Vec<&str> = usable.iter().map(|(_, t)| t.as_str()).collect();
        let config = common::config(&texts, 30);
        let got = config.classify(&name.presentation(), qtype, qclass);
        prop_assert_eq!(got, model(&name, &used_zones, qclass), "name {:?} zones {:?}",
            String::from_utf8_lossy(&name.presentation()), texts);

        // The engine, nothing learned: rules 1 and 2. Half the time with a discovery type.
        let engine = Engine::new(config);
        for qtype in [qtype, 6, 2] {
            let got = engine.classify(&name.presentation(), qtype, qclass, 0);
            prop_assert_eq!(got, engine_model(&name, &used_zones, qtype, qclass),
                "engine: name {:?} zones {:?} type {}",
                String::from_utf8_lossy(&name.presentation()), texts, qtype);
            // What the pass filter rules out, the engine passes.
            let ruled_out = engine.pass_filter().passes(&name.presentation(), qtype, qclass);
            prop_assert!(!ruled_out || got == Verdict::Pass,
                "pass filter: name {:?} zones {:?} type {} ruled out, engine says {:?}",
                String::from_utf8_lossy(&name.presentation()), texts, qtype, got);
        }
    }
}

/// Label sets for `labels`: each a non-empty choice from a pool with labels of equal length.
fn label_set() -> impl Strategy<Value = Vec<&'static str>> {
    prop::sample::subsequence(
        vec![
            "_acme-challenge",
            "_validation-persist",
            "_x",
            "_y",
            "_Custom-1",
            "_custom-2",
        ],
        1..=6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn labels_option_matches_reference_model(
        name in name_strategy(4),
        labels in label_set(),
        qclass in prop_oneof![8 => Just(1u16), 1 => Just(3u16)],
    ) {
        let mut b = ConfigBuilder::new();
        for l in &labels {
            prop_assert!(b.label(l).is_ok(), "{}", l);
        }
        prop_assert!(b.upstream("192.0.2.53").is_ok());
        let config = b.build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got = config.classify(&name.presentation(), 16, qclass);
        prop_assert_eq!(got, model_with(&name, &[], qclass, &labels), "name {:?} labels {:?}",
            String::from_utf8_lossy(&name.presentation()), labels);
    }
}

#[test]
fn model_sanity() {
    // The generator and the model agree with hand-written cases.
    let acme = Name {
        labels: vec![
            b"_acme-challenge".to_vec(),
            b"Example".to_vec(),
            b"com".to_vec(),
        ],
        spelling: vec![
            vec![Spelling::Decimal; 64],
            vec![Spelling::Plain; 64],
            vec![Spelling::Char; 64],
        ],
        upper: vec![vec![false; 64]; 3],
        trailing_dot: true,
    };
    assert_eq!(
        String::from_utf8_lossy(&acme.presentation()),
        r"\095\097\099\109\101\045\099\104\097\108\108\101\110\103\101.Example.\c\o\m."
    );
    let zone = Name {
        labels: vec![b"example".to_vec(), b"com".to_vec()],
        spelling: vec![vec![Spelling::Plain; 64]; 2],
        upper: vec![vec![true; 64]; 2],
        trailing_dot: false,
    };
    assert_eq!(
        model(&acme, std::slice::from_ref(&zone), 1),
        Verdict::Forward
    );
    assert_eq!(model(&acme, &[zone], 3), Verdict::Pass);
    let config = common::config(&["EXAMPLE.COM"], 30);
    assert_eq!(
        config.classify(&acme.presentation(), 16, 1),
        Verdict::Forward
    );
}

#[test]
fn account_model_sanity() {
    let plain = |labels: &[&[u8]]| Name {
        labels: labels.iter().map(|l| l.to_vec()).collect(),
        spelling: vec![vec![Spelling::Plain; 64]; labels.len()],
        upper: vec![vec![false; 64]; labels.len()],
        trailing_dot: true,
    };
    let account = plain(&[b"_UJMMOVF2VN55TGYE", b"_acme-challenge", b"example"]);
    assert_eq!(model(&account, &[], 1), Verdict::Forward);
    let foo = plain(&[b"foo", b"_acme-challenge", b"example"]);
    assert_eq!(model(&foo, &[], 1), Verdict::Pass);
    let persist = plain(&[b"_validation-persist", b"example"]);
    assert_eq!(model(&persist, &[], 1), Verdict::Forward);
    assert_eq!(
        model_with(&account, &[], 1, &["_validation-persist"]),
        Verdict::Pass
    );
    let config = common::config(&[], 30);
    for n in [&account, &foo, &persist] {
        assert_eq!(
            config.classify(&n.presentation(), 16, 1),
            model(n, &[], 1),
            "{:?}",
            String::from_utf8_lossy(&n.presentation())
        );
    }
}
