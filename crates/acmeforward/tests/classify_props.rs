//! Property: `Config::classify` agrees with a plain reference model built from the unescaped,
//! lower-cased label list, for random names written with random escapes.

mod common;

use acmeforward::{Engine, Verdict};
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

/// The reference: forward iff class IN, the name is valid, its first label is `_acme-challenge`
/// and one of the zones' label lists is a suffix of its label list (no zones: the root).
fn model(name: &Name, zones: &[Name], qclass: u16) -> Verdict {
    let labels = name.lower_labels();
    let forward = qclass == 1
        && name.valid()
        && labels.first().map(Vec::as_slice) == Some(b"_acme-challenge".as_slice())
        && (zones.is_empty() || zones.iter().any(|z| labels.ends_with(&z.lower_labels())));
    if forward {
        Verdict::Forward
    } else {
        Verdict::Pass
    }
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
