//! Names in presentation format through the public API that parses them: a small Corefile-like
//! script, one setting per line, `<op> <argument>`:
//!
//! * `z` zone, `d` delegated, `p` protect, `h` hairpin line, `l` challenge label
//!   (ConfigBuilder);
//! * `a` authoritative mode, `o` discovery off;
//! * `q` a question name, classified (Engine::classify) once the script is built.
//!
//! Invariants: no panic; Zone::parse agrees with the setters and round-trips through its
//! Display; a listed or delegated zone and a protected zone exclude each other whichever comes
//! second; a refused label leaves the builder unchanged; the built configuration is always
//! valid; `<label>.<zone>` is forwarded for every challenge label and listed zone unless
//! protected; nothing at or below a protected zone (cluster.local and the
//! other defaults included) is ever forwarded; the first name of a hairpin line is hairpinned
//! unless a forwarding rule takes it.
#![no_main]
mod common;

use acmeforward::{ConfigBuilder, ConfigError, Engine, UpstreamMode, Verdict, Zone};
use common::{CLASS_IN, QTYPES, TYPE_A, TYPE_AAAA, TYPE_TXT};
use libfuzzer_sys::fuzz_target;

/// Parses `text` and checks that its Display parses back to the same zone.
fn parse(text: &str) -> Result<Zone, ConfigError> {
    let zone = Zone::parse(text)?;
    let shown = zone.to_string();
    assert_eq!(
        Zone::parse(&shown).as_ref(),
        Ok(&zone),
        "{text:?} shown as {shown:?}"
    );
    Ok(zone)
}

/// The challenge name of a zone in presentation format, with the challenge label `label`.
fn challenge_of(label: &str, zone: &str) -> String {
    if zone == "." {
        format!("{label}.")
    } else {
        format!("{label}.{zone}")
    }
}

fn check_name(engine: &Engine, name: &[u8]) {
    let parsed = Zone::parse(&common::ascii_text(name));
    let config = engine.config();
    let upper = name.to_ascii_uppercase();
    for qtype in QTYPES {
        let verdict = engine.classify(name, qtype, CLASS_IN, 0);
        assert_eq!(
            verdict,
            engine.classify(&upper, qtype, CLASS_IN, 0),
            "letter case"
        );
        let Ok(zone) = &parsed else {
            assert_eq!(verdict, Verdict::Pass, "a malformed name passes");
            continue;
        };
        let wire = zone.wire();
        if common::is_protected(config, wire) {
            assert_ne!(verdict, Verdict::Forward, "protected name forwarded");
            continue;
        }
        // Rule 1: the first label a challenge label, at or below a zone: every type.
        let first = wire.get(1..1 + usize::from(wire[0]));
        let challenge = config.labels().any(|l| first == Some(l.as_bytes()));
        if challenge
            && config
                .zones()
                .iter()
                .any(|z| common::at_or_below(wire, z.wire()))
        {
            assert_eq!(verdict, Verdict::Forward, "challenge name not forwarded");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut builder = ConfigBuilder::new();
    builder.upstream("192.0.2.53").expect("upstream");
    let mut zones: Vec<String> = Vec::new();
    let mut protected: Vec<String> = Vec::new();
    let mut hairpin_names: Vec<String> = Vec::new();
    let mut questions: Vec<&[u8]> = Vec::new();
    for line in data.split(|&b| b == b'\n').take(16) {
        let Some((&op, arg)) = line.split_first() else {
            continue;
        };
        let arg = arg.strip_prefix(b" ").unwrap_or(arg);
        if op == b'q' {
            questions.push(arg);
            continue;
        }
        let Ok(text) = std::str::from_utf8(arg) else {
            continue;
        };
        match op {
            b'z' => {
                let parsed = parse(text);
                let before = builder.clone();
                match builder.zone(text) {
                    Ok(_) => {
                        let zone = parsed.expect("zone() took what Zone::parse refuses");
                        if !zone.is_root() {
                            assert!(
                                builder.clone().protect(text).is_err(),
                                "protect over a zone"
                            );
                        }
                        zones.push(text.to_string());
                    }
                    Err(e) => {
                        if let Err(p) = parsed {
                            assert_eq!(e, p, "zone() and Zone::parse disagree");
                        }
                        assert_eq!(builder, before, "a refused zone changed the builder");
                    }
                }
            }
            b'd' => {
                let parsed = parse(text);
                if builder.delegated(text).is_ok() {
                    let zone = parsed.expect("delegated() took what Zone::parse refuses");
                    assert!(!zone.is_root());
                    assert!(
                        builder.clone().protect(text).is_err(),
                        "protect over a delegated zone"
                    );
                }
            }
            b'p' => {
                let parsed = parse(text);
                if builder.protect(text).is_ok() {
                    let zone = parsed.expect("protect() took what Zone::parse refuses");
                    assert!(!zone.is_root());
                    assert_eq!(
                        builder.clone().zone(text).err(),
                        Some(ConfigError::ZoneProtected)
                    );
                    assert_eq!(
                        builder.clone().delegated(text).err(),
                        Some(ConfigError::DelegatedProtected)
                    );
                    protected.push(text.to_string());
                }
            }
            b'h' => {
                let before = builder.clone();
                if builder.hairpin(text).is_ok() {
                    if let Some(first) = text.split_ascii_whitespace().next() {
                        hairpin_names.push(first.to_string());
                    }
                } else {
                    assert_eq!(
                        builder, before,
                        "a refused hairpin line changed the builder"
                    );
                }
            }
            b'l' => {
                let before = builder.clone();
                if builder.label(text).is_err() {
                    assert_eq!(builder, before, "a refused label changed the builder");
                }
            }
            b'a' => {
                builder.upstream_mode(UpstreamMode::Authoritative);
            }
            b'o' => {
                builder.discovery(false);
            }
            _ => {}
        }
    }
    // The setters refuse every conflict: what they took always builds.
    let config = builder
        .build()
        .expect("the setters took a configuration that does not build");
    let engine = Engine::new(config);

    let labels: Vec<String> = engine.config().labels().map(str::to_owned).collect();
    for zone in &zones {
        for label in &labels {
            let name = challenge_of(label, zone);
            if let Ok(wire) = Zone::parse(&name)
                && !common::is_protected(engine.config(), wire.wire())
            {
                assert_eq!(
                    engine.classify(name.as_bytes(), TYPE_TXT, CLASS_IN, 0),
                    Verdict::Forward,
                    "challenge name {name:?} of a listed zone"
                );
            }
        }
    }
    for zone in &protected {
        check_name(&engine, zone.as_bytes());
        for label in &labels {
            check_name(&engine, challenge_of(label, zone).as_bytes());
        }
    }
    for name in &hairpin_names {
        for qtype in [TYPE_A, TYPE_AAAA] {
            let verdict = engine.classify(name.as_bytes(), qtype, CLASS_IN, 0);
            let forwarded = engine.rule(name.as_bytes(), qtype, CLASS_IN, 0).is_some();
            let want = if forwarded {
                Verdict::Forward
            } else {
                Verdict::Hairpin
            };
            assert_eq!(verdict, want, "hairpin name {name:?}");
        }
    }
    for name in questions {
        check_name(&engine, name);
    }
    for name in common::DEFAULT_PROTECTED_NAMES {
        check_name(&engine, name.as_bytes());
    }
});
