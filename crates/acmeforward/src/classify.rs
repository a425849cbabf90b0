//! The per-query classifier: is this an ACME challenge lookup we must forward?
//!
//! Runs for every query in the cluster, so it allocates nothing and rejects most names on their
//! first byte.

use crate::config::{Config, Zone};
use crate::name;
use crate::wire::{ACME_LABEL, CLASS_IN};

/// What to do with a query.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Not ours: hand the query to the next plugin.
    Pass = 0,
    /// A question a forwarding rule takes (see [`crate::Rule`]): forward it to the upstreams.
    Forward = 1,
    /// An A or AAAA question for a `hairpin` name that no forwarding rule takes: answer it
    /// with the hairpin target's addresses (an [`crate::Exchange`], like a forwarded question).
    Hairpin = 2,
}

/// Whether a presentation-format name can be a challenge name at all, judged without scanning
/// it: it has to start with `_` or with an escape that may decode to `_` (`\095`, `\_`), and
/// have room for the label. Most names of a cluster are rejected here, on their first byte.
#[inline]
pub(crate) fn may_be_challenge(qname: &[u8]) -> bool {
    matches!(qname.first(), Some(b'_' | b'\\')) && qname.len() >= ACME_LABEL.len()
}

/// Rule 1 on a lower-cased wire-form name: the first label is `_acme-challenge` and the name is
/// at or below one of `zones`.
pub(crate) fn is_challenge_in(wire: &[u8], zones: &[Zone]) -> bool {
    name::is_challenge(wire) && zones.iter().any(|z| name::is_at_or_below(wire, z.wire()))
}

/// Rule 1 alone on a presentation-format name (see [`Config::classify`]).
fn challenge_verdict(zones: &[Zone], qname: &[u8], qclass: u16) -> Verdict {
    if qclass != CLASS_IN || !may_be_challenge(qname) {
        return Verdict::Pass;
    }
    match name::scan(qname) {
        Ok(wire) if is_challenge_in(wire.as_bytes(), zones) => Verdict::Forward,
        _ => Verdict::Pass,
    }
}

impl Config {
    /// The challenge rule (rule 1) alone, on the configuration: no allocation. `qname` is in
    /// presentation format (as miekg/dns gives it: trailing dot optional, `\.` and `\DDD`
    /// escapes). [`crate::Engine::classify`] applies every rule.
    ///
    /// [`Verdict::Forward`] iff `qclass` is IN, the first label is `_acme-challenge` (ASCII
    /// case-insensitive, after unescaping) and the name is at or below one of the zones. Any
    /// `qtype`. Malformed names pass.
    pub fn classify(&self, qname: &[u8], qtype: u16, qclass: u16) -> Verdict {
        // Rule 1 takes any type.
        let _ = qtype;
        match challenge_verdict(self.zones(), qname, qclass) {
            // The cluster's own names never get an answer from outside.
            Verdict::Forward
                if name::scan(qname).is_ok_and(|w| self.is_protected(w.as_bytes())) =>
            {
                Verdict::Pass
            }
            v => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigBuilder};

    fn config(zones: &[&str]) -> Config {
        let mut b = ConfigBuilder::new();
        for z in zones {
            assert!(b.zone(z).is_ok(), "{z}");
        }
        assert!(b.upstream("192.0.2.53").is_ok());
        match b.build() {
            Ok(c) => c,
            Err(e) => panic!("config: {e}"),
        }
    }

    fn verdict(c: &Config, name: &str) -> Verdict {
        c.classify(name.as_bytes(), 16, 1)
    }

    #[test]
    fn forwards_challenge_names_in_zone() {
        let c = config(&["example.com"]);
        for name in [
            "_acme-challenge.example.com",
            "_acme-challenge.example.com.",
            "_acme-challenge.www.example.com.",
            "_ACME-Challenge.Example.COM.",
            r"\095acme-challenge.example.com.",
            r"\_acme-challenge.example.com.",
            r"_acme\-challenge.example.com.",
            r"\095\097\099\109\101-challenge.example.com",
        ] {
            assert_eq!(verdict(&c, name), Verdict::Forward, "{name}");
        }
    }

    #[test]
    fn zone_apex_itself_when_it_is_the_challenge_name() {
        let c = config(&["_acme-challenge.example.com"]);
        assert_eq!(
            verdict(&c, "_acme-challenge.example.com."),
            Verdict::Forward
        );
        assert_eq!(verdict(&c, "_acme-challenge.other.com."), Verdict::Pass);
    }

    #[test]
    fn passes_other_names() {
        let c = config(&["example.com"]);
        for name in [
            "example.com.",
            "www.example.com.",
            "x_acme-challenge.example.com.",
            "foo._acme-challenge.example.com.",
            "_acme-challenge-x.example.com.",
            "_acme-challeng.example.com.",
            r"_acme-challenge\.foo.example.com.",
            r"foo\._acme-challenge.example.com.",
            "_acme-challenge.badexample.com.",
            "_acme-challenge.example.org.",
            "_acme-challenge.com.",
            "_acme-challenge.",
            "_acme-challenge",
            ".",
            "",
            "_",
        ] {
            assert_eq!(verdict(&c, name), Verdict::Pass, "{name}");
        }
    }

    #[test]
    fn escaped_dot_does_not_cross_into_zone() {
        let c = config(&["example.com"]);
        // One label "foo.example" followed by "com": not under example.com.
        assert_eq!(
            verdict(&c, r"_acme-challenge.foo\.example.com."),
            Verdict::Pass
        );
        // And the zone written with an escaped dot is a single label.
        let c = config(&[r"foo\.example.com"]);
        assert_eq!(
            verdict(&c, r"_acme-challenge.foo\.example.com."),
            Verdict::Forward
        );
        assert_eq!(
            verdict(&c, "_acme-challenge.foo.example.com."),
            Verdict::Pass
        );
    }

    #[test]
    fn class_must_be_in_type_is_anything() {
        let c = config(&["example.com"]);
        let n = b"_acme-challenge.example.com.";
        for qtype in [1, 5, 16, 28, 255, 65535, 0] {
            assert_eq!(c.classify(n, qtype, 1), Verdict::Forward, "type {qtype}");
        }
        for qclass in [0, 3, 4, 254, 255] {
            assert_eq!(c.classify(n, 16, qclass), Verdict::Pass, "class {qclass}");
        }
    }

    #[test]
    fn no_zone_means_root() {
        let c = config(&[]);
        assert_eq!(
            verdict(&c, "_acme-challenge.anything.example."),
            Verdict::Forward
        );
        assert_eq!(verdict(&c, "_acme-challenge."), Verdict::Forward);
        assert_eq!(verdict(&c, "_acme-challenge"), Verdict::Forward);
        assert_eq!(verdict(&c, "www.anything.example."), Verdict::Pass);
    }

    #[test]
    fn several_zones() {
        let c = config(&["example.com", "example.net"]);
        assert_eq!(
            verdict(&c, "_acme-challenge.a.example.net"),
            Verdict::Forward
        );
        assert_eq!(
            verdict(&c, "_acme-challenge.a.example.com"),
            Verdict::Forward
        );
        assert_eq!(verdict(&c, "_acme-challenge.a.example.org"), Verdict::Pass);
    }

    #[test]
    fn malformed_names_pass() {
        let c = config(&[]);
        let long = format!("_acme-challenge.{}", "a.".repeat(120));
        for name in [
            r"_acme-challenge.example.com\",
            r"_acme-challenge.exa\25mple.com",
            r"_acme-challenge.ex\256.com",
            "_acme-challenge..example.com",
            "_acme-challenge.example..",
            long.as_str(),
        ] {
            assert_eq!(verdict(&c, name), Verdict::Pass, "{name}");
        }
        let label64 = format!("_acme-challenge.{}.com", "x".repeat(64));
        assert_eq!(verdict(&c, &label64), Verdict::Pass);
        // Non-UTF-8 bytes are fine as label content.
        assert_eq!(
            c.classify(b"_acme-challenge.\xff\xfe.", 16, 1),
            Verdict::Forward
        );
    }

    #[test]
    fn acme_inside_longer_escaped_label_passes() {
        let c = config(&[]);
        assert_eq!(verdict(&c, r"_acme-challenge\046x.example."), Verdict::Pass);
        assert_eq!(
            verdict(&c, r"\095acme-challenge\000.example."),
            Verdict::Pass
        );
    }
}
