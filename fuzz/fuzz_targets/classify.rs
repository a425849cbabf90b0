//! Any bytes as a presentation-format name, with any type and class, classified by every
//! configuration of common.rs (zones listed with a learned state, none, delegated only, hairpin,
//! extra protected zones, authoritative, discovery off). Input: qtype (2 octets, big endian),
//! qclass (2), the name.
//!
//! Invariants: no panic; the verdict does not depend on ASCII letter case nor on a trailing dot;
//! a name that does not parse passes; a name at or below a protected zone is never forwarded;
//! only class IN is forwarded or hairpinned, and hairpin only for A and AAAA; rule 1 alone
//! (Config::classify) agrees with the engine wherever the name is not protected.
#![no_main]
mod common;

use std::sync::OnceLock;

use acmeforward::{Engine, Verdict, Zone};
use common::{CLASS_IN, TYPE_A, TYPE_AAAA};
use libfuzzer_sys::fuzz_target;

static ENGINES: OnceLock<Vec<Engine>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let [t0, t1, c0, c1, name @ ..] = data else {
        return;
    };
    let qtype = u16::from_be_bytes([*t0, *t1]);
    let qclass = u16::from_be_bytes([*c0, *c1]);
    let engines = ENGINES.get_or_init(|| (0..common::CONFIGS).map(common::configured).collect());
    let upper = name.to_ascii_uppercase();
    // The name as the configuration parses names.
    let parsed = Zone::parse(&common::ascii_text(name));
    // The same name with a trailing dot, when that is the same name.
    let dotted = (parsed.is_ok() && !name.ends_with(b".")).then(|| [name, b"."].concat());
    for engine in engines {
        // A fixed clock before any learned entry expires: classify changes nothing.
        let verdict = engine.classify(name, qtype, qclass, 1);
        assert_eq!(
            verdict,
            engine.classify(&upper, qtype, qclass, 1),
            "letter case"
        );
        if let Some(dotted) = &dotted {
            assert_eq!(
                verdict,
                engine.classify(dotted, qtype, qclass, 1),
                "trailing dot"
            );
        }
        let protected = parsed
            .as_ref()
            .is_ok_and(|z| common::is_protected(engine.config(), z.wire()));
        if parsed.is_err() {
            assert_eq!(verdict, Verdict::Pass, "a malformed name passes");
        }
        if protected {
            assert_ne!(verdict, Verdict::Forward, "protected name forwarded");
        }
        if qclass != CLASS_IN {
            assert_eq!(verdict, Verdict::Pass, "only class IN");
        }
        if verdict == Verdict::Hairpin {
            assert!(
                matches!(qtype, TYPE_A | TYPE_AAAA),
                "hairpin only for A and AAAA"
            );
        }
        assert_eq!(
            verdict == Verdict::Forward,
            engine.rule(name, qtype, qclass, 1).is_some()
        );

        let config = engine.config();
        let rule1 = config.classify(name, qtype, qclass);
        assert_eq!(rule1, config.classify(&upper, qtype, qclass), "letter case");
        if rule1 == Verdict::Forward && !protected {
            assert_eq!(
                verdict,
                Verdict::Forward,
                "rule 1 forwards, the engine does not"
            );
        }
    }
});
