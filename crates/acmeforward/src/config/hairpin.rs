//! The HTTP-01 hairpin table: A and AAAA questions for configured names are answered with an
//! in-cluster address (the ingress controller's), because a cluster without hairpin NAT cannot
//! reach its own load balancer VIP, and an ACME client's HTTP-01 self check would time out.
//!
//! * [`HairpinTable::add_line`] parses one Corefile line, `hairpin NAME... TARGET...`;
//! * [`HairpinTable::lookup`] finds the target of a (lower-cased wire form) name: exact names
//!   first, then the longest `*.zone` wildcard; no allocation.
//!
//! Part of the configuration; the classifier's hairpin step is `Engine::classify_wire`
//! (engine.rs), the answers are made in hairpin_answer.rs.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_proto::rr::Name;

use crate::config::error::ConfigError;
use crate::wire::name;
use crate::wire::{MAX_WIRE_LEN, TYPE_A, TYPE_AAAA};

/// Where a hairpin name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// IP literals, in the order given (duplicates dropped): answered at once.
    Addrs(Box<[IpAddr]>),
    /// A domain name (lower case), looked up through the rest of the plugin chain.
    Name(Name),
}

/// The hairpin names and wildcards, each pointing at a target. Names and zones are kept in
/// lower-cased wire form.
///
/// Every A/AAAA question of the cluster is looked up, and most are in no table: a name (or an
/// ancestor) is only hashed when some key has its wire length ([`Lengths`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct HairpinTable {
    /// Exact names → index into `targets`.
    exact: HashMap<Box<[u8]>, usize>,
    /// The zone of a `*.zone` wildcard → index into `targets`.
    wildcard: HashMap<Box<[u8]>, usize>,
    /// The wire lengths of the keys of `exact` and of `wildcard`.
    exact_lens: Lengths,
    wildcard_lens: Lengths,
    /// The last label (top-level domain, lower case) of every key: a question whose name ends
    /// in none of them is rejected before its name is scanned ([`HairpinTable::may_match_text`]).
    top_labels: Vec<Box<[u8]>>,
    targets: Vec<Target>,
}

/// A set of wire lengths (0..=255): one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Lengths([u64; 4]);

impl Lengths {
    fn insert(&mut self, len: usize) {
        if let Some(word) = self.0.get_mut((len >> 6) & 3) {
            *word |= 1 << (len & 63);
        }
    }

    fn contains(&self, len: usize) -> bool {
        len <= MAX_WIRE_LEN
            && self
                .0
                .get((len >> 6) & 3)
                .is_some_and(|word| word & (1 << (len & 63)) != 0)
    }
}

/// One parsed NAME of a hairpin line.
enum Key {
    Exact(Box<[u8]>),
    Wildcard(Box<[u8]>),
}

fn has_star(wire: &[u8]) -> bool {
    name::labels(wire).any(|label| label.contains(&b'*'))
}

/// Whether a wire-form name (not the root) is a host name: labels of ASCII letters, digits, `-`
/// (not first or last) and `_`, the last label not all digits (no top-level domain is, RFC 3696
/// section 2). A mistyped address is thus no name: with a port, brackets, a prefix length or a
/// zone (`10.1.2.3:443`, `[2001:db8::5]`, `10.1.2.3/32`, `fe80::1%eth0`), or with leading zeros
/// (`010.001.002.003`, no IP literal to Rust), it would be looked up as a name and fail. `_` is
/// allowed: internal names may have it, and no address does.
fn is_host_name(wire: &[u8]) -> bool {
    let mut last: Option<&[u8]> = None;
    for label in name::labels(wire) {
        let ldh = label
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ldh || label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return false;
        }
        last = Some(label);
    }
    last.is_some_and(|l| !l.iter().all(u8::is_ascii_digit))
}

/// A NAME: a host name, or `*.zone` of a host name (not the root); no other `*`, no IP literal.
fn parse_name(arg: &str) -> Result<Key, ConfigError> {
    if arg.parse::<IpAddr>().is_ok() {
        return Err(ConfigError::HairpinNameIsAddress);
    }
    if let Some(zone) = arg.strip_prefix("*.") {
        if zone.is_empty() {
            return Err(ConfigError::HairpinBadWildcard);
        }
        let wire = name::scan(zone.as_bytes())?;
        let wire = wire.as_bytes();
        if wire == [0] || has_star(wire) {
            return Err(ConfigError::HairpinBadWildcard);
        }
        if !is_host_name(wire) {
            return Err(ConfigError::HairpinNameNotHostName);
        }
        return Ok(Key::Wildcard(wire.into()));
    }
    let wire = name::scan(arg.as_bytes())?;
    // The root has no labels: no A or AAAA question names it, and the classifier never
    // looks for it.
    if wire.as_bytes() == [0] {
        return Err(ConfigError::HairpinRootName);
    }
    if has_star(wire.as_bytes()) {
        return Err(ConfigError::HairpinBadWildcard);
    }
    if !is_host_name(wire.as_bytes()) {
        return Err(ConfigError::HairpinNameNotHostName);
    }
    Ok(Key::Exact(wire.as_bytes().into()))
}

/// A target name: a domain name, not the root, no `*`, and a host name.
fn parse_target_name(arg: &str) -> Result<Name, ConfigError> {
    let wire = name::scan(arg.as_bytes()).map_err(|_| ConfigError::HairpinTargetInvalid)?;
    let wire = wire.as_bytes();
    if wire == [0] || has_star(wire) {
        return Err(ConfigError::HairpinTargetInvalid);
    }
    if !is_host_name(wire) {
        return Err(ConfigError::HairpinTargetNotHostName);
    }
    Name::from_labels(name::labels(wire)).map_err(|_| ConfigError::HairpinTargetInvalid)
}

impl HairpinTable {
    /// Whether no hairpin line was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The last label (lower case) of every name and wildcard zone.
    pub(crate) fn top_labels(&self) -> &[Box<[u8]>] {
        &self.top_labels
    }

    /// The number of names and wildcards.
    pub(crate) fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    /// Whether a NAME (an exact name, or the zone of a `*.zone`) is at or below `zone`.
    pub(crate) fn has_name_at_or_below(&self, zone: &[u8]) -> bool {
        self.exact
            .keys()
            .chain(self.wildcard.keys())
            .any(|w| name::is_at_or_below(w, zone))
    }

    /// Parses `NAME... TARGET...` (split on ASCII whitespace) and adds it. The trailing IP
    /// literals are the targets; with none, the last argument is the target name. A NAME (an
    /// exact name, or the zone of a `*.zone`) for which `protected` is true is refused. On an
    /// error the table is unchanged.
    pub(crate) fn add_line(
        &mut self,
        line: &str,
        protected: impl Fn(&[u8]) -> bool,
    ) -> Result<(), ConfigError> {
        let args: Vec<&str> = line.split_ascii_whitespace().collect();
        let trailing = args
            .iter()
            .rev()
            .take_while(|a| a.parse::<IpAddr>().is_ok())
            .count();
        let (names, target) = if trailing == 0 {
            let Some((last, names)) = args.split_last() else {
                return Err(ConfigError::HairpinMissingTarget);
            };
            (names, Target::Name(parse_target_name(last)?))
        } else {
            let (names, ips) = args.split_at(args.len() - trailing);
            let mut addrs: Vec<IpAddr> = Vec::with_capacity(ips.len());
            for ip in ips.iter().filter_map(|a| a.parse::<IpAddr>().ok()) {
                if !addrs.contains(&ip) {
                    addrs.push(ip);
                }
            }
            (names, Target::Addrs(addrs.into()))
        };
        if names.is_empty() {
            // `hairpin 10.0.0.1 10.0.0.2`: the first address was meant as a NAME.
            return Err(if args.len() >= 2 {
                ConfigError::HairpinNameIsAddress
            } else {
                ConfigError::HairpinMissingTarget
            });
        }
        let mut keys: Vec<Key> = Vec::with_capacity(names.len());
        for arg in names {
            let key = parse_name(arg)?;
            let (Key::Exact(w) | Key::Wildcard(w)) = &key;
            if protected(w) {
                return Err(ConfigError::HairpinProtected);
            }
            let taken = match &key {
                Key::Exact(w) => {
                    self.exact.contains_key(w)
                        || keys.iter().any(|k| matches!(k, Key::Exact(o) if o == w))
                }
                Key::Wildcard(w) => {
                    self.wildcard.contains_key(w)
                        || keys.iter().any(|k| matches!(k, Key::Wildcard(o) if o == w))
                }
            };
            if taken {
                return Err(ConfigError::HairpinDuplicateName);
            }
            keys.push(key);
        }
        let index = self.targets.len();
        self.targets.push(target);
        for key in keys {
            let (Key::Exact(w) | Key::Wildcard(w)) = &key;
            if let Some(top) = name::labels(w).last()
                && !self.top_labels.iter().any(|t| **t == *top)
            {
                self.top_labels.push(top.into());
            }
            match key {
                Key::Exact(w) => {
                    self.exact_lens.insert(w.len());
                    self.exact.insert(w, index);
                }
                Key::Wildcard(w) => {
                    self.wildcard_lens.insert(w.len());
                    self.wildcard.insert(w, index);
                }
            }
        }
        Ok(())
    }

    /// Whether a presentation-format name may be in the table, judged from its last label
    /// without scanning it: most names in a cluster end in `local` or another label that no
    /// hairpin name has, and cost only this. A name with an escape is not judged here (true).
    pub(crate) fn may_match_text(&self, qname: &[u8]) -> bool {
        let qname = qname.strip_suffix(b".").unwrap_or(qname);
        if qname.contains(&b'\\') {
            return true;
        }
        let top = match qname.iter().rposition(|&b| b == b'.') {
            Some(dot) => qname.get(dot + 1..).unwrap_or(&[]),
            None => qname,
        };
        self.top_labels.iter().any(|t| t.eq_ignore_ascii_case(top))
    }

    /// The target for a lower-cased wire-form name: its exact entry, else the longest `*.zone`
    /// with the name strictly below the zone. No allocation.
    pub(crate) fn lookup(&self, wire: &[u8]) -> Option<&Target> {
        if self.is_empty() {
            return None;
        }
        let exact = if self.exact_lens.contains(wire.len()) {
            self.exact.get(wire).copied()
        } else {
            None
        };
        let index = match exact {
            Some(i) => i,
            None => name::ancestors(wire)
                .filter(|zone| self.wildcard_lens.contains(zone.len()))
                .find_map(|zone| self.wildcard.get(zone).copied())?,
        };
        self.targets.get(index)
    }

    /// [`HairpinTable::lookup`] for a question: only A and AAAA questions (class IN, checked by
    /// the caller) have a hairpin target.
    pub(crate) fn target(&self, wire: &[u8], qtype: u16) -> Option<&Target> {
        if matches!(qtype, TYPE_A | TYPE_AAAA) {
            self.lookup(wire)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builder::ConfigBuilder;
    use crate::rules::classify::Verdict;
    use crate::state::engine::Engine;
    use crate::testutil::wire_name;

    fn table(lines: &[&str]) -> HairpinTable {
        let mut t = HairpinTable::default();
        for l in lines {
            assert_eq!(t.add_line(l, |_| false), Ok(()), "{l}");
        }
        t
    }

    fn err(lines: &[&str], bad: &str) -> Option<ConfigError> {
        let mut t = table(lines);
        let before = t.clone();
        let e = t.add_line(bad, |_| false).err();
        assert_eq!(t, before, "a failed line leaves the table unchanged");
        e
    }

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    fn addrs(list: &[&str]) -> Target {
        Target::Addrs(list.iter().map(|s| ip(s)).collect())
    }

    fn target_name(s: &str) -> Target {
        Target::Name(Name::from_labels(name::labels(&wire_name(s))).unwrap_or_default())
    }

    fn found(t: &HairpinTable, n: &str) -> Option<Target> {
        t.lookup(&wire_name(&n.to_ascii_lowercase())).cloned()
    }

    #[test]
    fn ip_targets_trail() {
        let t = table(&["www.example.com 192.0.2.1 2001:db8::1 192.0.2.2"]);
        assert_eq!(
            found(&t, "www.example.com"),
            Some(addrs(&["192.0.2.1", "2001:db8::1", "192.0.2.2"]))
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn name_target_is_the_last_argument() {
        let t = table(&[
            "www.example.com *.apps.example.com Ingress-Nginx-Controller.ingress-nginx.svc.cluster.local.",
        ]);
        let want = target_name("ingress-nginx-controller.ingress-nginx.svc.cluster.local");
        assert_eq!(found(&t, "www.example.com"), Some(want.clone()));
        assert_eq!(found(&t, "a.apps.example.com"), Some(want));
        assert_eq!(t.len(), 2);
        // Stored lower case.
        match found(&t, "www.example.com") {
            Some(Target::Name(n)) => assert_eq!(
                n.to_ascii(),
                "ingress-nginx-controller.ingress-nginx.svc.cluster.local."
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn several_names_share_the_target_and_whitespace_is_any_ascii_whitespace() {
        let t = table(&["  one.example.com\ttwo.example.com \n 192.0.2.6\r\n192.0.2.7 "]);
        for n in ["one.example.com", "two.example.com"] {
            assert_eq!(
                found(&t, n),
                Some(addrs(&["192.0.2.6", "192.0.2.7"])),
                "{n}"
            );
        }
    }

    #[test]
    fn duplicate_ips_are_dropped() {
        let t = table(&["www.example.com 192.0.2.1 192.0.2.1 ::1 192.0.2.1"]);
        assert_eq!(
            found(&t, "www.example.com"),
            Some(addrs(&["192.0.2.1", "::1"]))
        );
    }

    #[test]
    fn parse_errors() {
        use ConfigError::*;
        let cases: &[(&str, ConfigError)] = &[
            ("", HairpinMissingTarget),
            ("   \t ", HairpinMissingTarget),
            ("www.example.com", HairpinMissingTarget),
            ("192.0.2.1", HairpinMissingTarget),
            ("10.0.0.1 127.0.0.1", HairpinNameIsAddress),
            (". 192.0.2.1", HairpinRootName),
            ("10.0.0.1 ingress.svc.cluster.local", HairpinNameIsAddress),
            ("::1 www.example.com 127.0.0.1", HairpinNameIsAddress),
            (
                "www.example.com 127.0.0.1 ingress.svc.cluster.local",
                HairpinNameIsAddress,
            ),
            ("foo.*.example.com 127.0.0.1", HairpinBadWildcard),
            ("*foo.example.com 127.0.0.1", HairpinBadWildcard),
            ("f*o.example.com 127.0.0.1", HairpinBadWildcard),
            ("*.*.example.com 127.0.0.1", HairpinBadWildcard),
            ("* 127.0.0.1", HairpinBadWildcard),
            ("*. 127.0.0.1", HairpinBadWildcard),
            ("*.. 127.0.0.1", HairpinBadWildcard),
            (r"\*.example.com 127.0.0.1", HairpinBadWildcard),
            (r"\042.example.com 127.0.0.1", HairpinBadWildcard),
            ("*.example.com* 127.0.0.1", HairpinBadWildcard),
            (
                "www.example.com ingress..svc.cluster.local",
                HairpinTargetInvalid,
            ),
            ("www.example.com .", HairpinTargetInvalid),
            ("www.example.com *.svc.cluster.local", HairpinTargetInvalid),
            ("www.example.com a\\", HairpinTargetInvalid),
            ("a..example.com 127.0.0.1", NameEmptyLabel),
            ("*.a..example.com 127.0.0.1", NameEmptyLabel),
            ("www\\9.example.com 127.0.0.1", NameBadEscape),
            (
                "www.example.com www.example.com 127.0.0.1",
                HairpinDuplicateName,
            ),
            (
                "www.example.com WWW.Example.COM. 127.0.0.1",
                HairpinDuplicateName,
            ),
            (
                "*.example.com *.EXAMPLE.com 127.0.0.1",
                HairpinDuplicateName,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(err(&[], line), Some(*want), "{line:?}");
        }
        let long = format!("www.example.com {}.svc.cluster.local", "a".repeat(64));
        assert_eq!(err(&[], &long), Some(HairpinTargetInvalid));
        let long = format!("{}.example.com 127.0.0.1", "a".repeat(64));
        assert_eq!(err(&[], &long), Some(NameLabelTooLong));
    }

    #[test]
    fn targets_are_ip_literals_or_a_host_name() {
        // A mistyped address is refused, not looked up as a name (which would fail every
        // answer for the NAMEs).
        for target in [
            "10.1.2.3:443",
            "[2001:db8::5]",
            "[2001:db8::5]:443",
            "10.1.2.3/32",
            "2001:db8::/64",
            "fe80::1%eth0",
            "010.001.002.003",
            "10.1.2.3.",
            "10.1",
            "1.2.3.4.5",
            "0x0a.0.0.1",
            "ingress.svc:80",
            "http://ingress.svc.cluster.local",
            "-ingress.svc.cluster.local",
            "ingress-.svc.cluster.local",
            r"ingress\.x.svc.cluster.local",
            r"a\@b.svc.cluster.local",
        ] {
            assert_eq!(
                err(&[], &format!("www.example.com {target}")),
                Some(ConfigError::HairpinTargetNotHostName),
                "{target}"
            );
        }
        // Host names: letters, digits, inner `-`, and `_`; a numeric label but the last.
        let t = table(&[
            "a.example.com ingress_nginx.svc.cluster.local",
            "b.example.com 1ingress.9.svc.cluster.local.",
            "c.example.com ingress",
            "d.example.com xn--bcher-kva.example",
        ]);
        assert_eq!(t.len(), 4);
        assert_eq!(
            found(&t, "b.example.com"),
            Some(target_name("1ingress.9.svc.cluster.local"))
        );
    }

    #[test]
    fn names_are_host_names() {
        for name in [
            "10.1.2.3:443",
            "[2001:db8::5]",
            "10.1.2.3/32",
            "fe80::1%eth0",
            "010.001.002.003",
            "www.example.123",
            "-www.example.com",
            "www-.example.com",
            "www.example.com:443",
            r"w\@w.example.com",
            "*.1.2.3",
            "*.example.com:443",
        ] {
            assert_eq!(
                err(&[], &format!("{name} 10.0.0.1")),
                Some(ConfigError::HairpinNameNotHostName),
                "{name}"
            );
        }
        // An address with a port before the plain one is no NAME either.
        assert_eq!(
            err(&[], "www.example.com 10.1.2.3:443 10.0.0.1"),
            Some(ConfigError::HairpinNameNotHostName)
        );
        let t = table(&["_http.example.com x_y.example.com 3com.example *.9.example.com 10.0.0.1"]);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn names_the_caller_protects_are_refused() {
        let protected = |w: &[u8]| name::is_at_or_below(w, &wire_name("cluster.local"));
        let mut t = HairpinTable::default();
        for line in [
            "www.example.com api.svc.cluster.local 10.0.0.1",
            "cluster.local 10.0.0.1",
            "*.cluster.local 10.0.0.1",
            "*.svc.cluster.local 10.0.0.1",
        ] {
            assert_eq!(
                t.add_line(line, protected),
                Err(ConfigError::HairpinProtected),
                "{line}"
            );
            assert!(t.is_empty(), "{line}");
        }
        // A target there is what a hairpin is for; a parent zone's wildcard is not inside.
        assert_eq!(
            t.add_line(
                "www.example.com *.local ingress.svc.cluster.local",
                protected
            ),
            Ok(())
        );
        assert!(t.has_name_at_or_below(&wire_name("local")));
        assert!(t.has_name_at_or_below(&wire_name("example.com")));
        assert!(t.has_name_at_or_below(&wire_name("www.example.com")));
        assert!(!t.has_name_at_or_below(&wire_name("cluster.local")));
        assert!(!t.has_name_at_or_below(&wire_name("a.www.example.com")));
    }

    #[test]
    fn duplicates_across_lines() {
        let lines = &[
            "www.example.com 127.0.0.1",
            "*.example.com ingress.svc.cluster.local",
        ];
        assert_eq!(
            err(lines, "WWW.Example.COM. 127.0.0.2"),
            Some(ConfigError::HairpinDuplicateName)
        );
        assert_eq!(
            err(lines, "other.example.com *.example.com 127.0.0.2"),
            Some(ConfigError::HairpinDuplicateName)
        );
        // An exact name and the wildcard of the same name are different entries.
        let t = table(&[
            "www.example.com 127.0.0.1",
            "*.www.example.com 127.0.0.2",
            "example.com 127.0.0.3",
        ]);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn wildcard_matches_strictly_below_the_zone() {
        let t = table(&["*.example.com 192.0.2.2"]);
        for n in [
            "a.example.com",
            "A.b.C.Example.COM",
            "_acme-challengex.www.example.com",
        ] {
            assert_eq!(found(&t, n), Some(addrs(&["192.0.2.2"])), "{n}");
        }
        for n in [
            "example.com",
            "com",
            "badexample.com",
            "a.example.org",
            "example.com.evil",
        ] {
            assert_eq!(found(&t, n), None, "{n}");
        }
        // An escaped dot is inside a label: `a\.example.com` is two labels under `com`.
        assert_eq!(t.lookup(b"\x09a.example\x03com\x00"), None);
    }

    #[test]
    fn exact_beats_wildcard_and_longest_wildcard_wins() {
        let t = table(&[
            "*.example.com 192.0.2.2",
            "exact.example.com 192.0.2.3",
            "*.deep.example.com 192.0.2.4",
            "*.z.y.deep.example.com 192.0.2.5",
        ]);
        assert_eq!(found(&t, "exact.example.com"), Some(addrs(&["192.0.2.3"])));
        // An exact name covers only itself.
        assert_eq!(
            found(&t, "sub.exact.example.com"),
            Some(addrs(&["192.0.2.2"]))
        );
        assert_eq!(found(&t, "x.deep.example.com"), Some(addrs(&["192.0.2.4"])));
        assert_eq!(
            found(&t, "a.b.deep.example.com"),
            Some(addrs(&["192.0.2.4"]))
        );
        assert_eq!(found(&t, "deep.example.com"), Some(addrs(&["192.0.2.2"])));
        assert_eq!(
            found(&t, "q.z.y.deep.example.com"),
            Some(addrs(&["192.0.2.5"]))
        );
        assert_eq!(
            found(&t, "z.y.deep.example.com"),
            Some(addrs(&["192.0.2.4"]))
        );
        // The order the lines came in does not matter.
        let t = table(&[
            "*.deep.example.com 192.0.2.4",
            "exact.example.com 192.0.2.3",
            "*.example.com 192.0.2.2",
        ]);
        assert_eq!(found(&t, "x.deep.example.com"), Some(addrs(&["192.0.2.4"])));
        assert_eq!(found(&t, "exact.example.com"), Some(addrs(&["192.0.2.3"])));
    }

    #[test]
    fn top_label_prefilter() {
        let t = table(&[
            "www.example.com *.apps.example.org 127.0.0.1",
            "api.Internal.LAN 127.0.0.2",
        ]);
        for name in [
            "www.example.com.",
            "WWW.EXAMPLE.COM",
            "x.apps.example.org.",
            "other.com.",
            "host.lan.",
            "lan",
            r"a\.b.example.com.",
            r"www.example.co\109.",
        ] {
            assert!(t.may_match_text(name.as_bytes()), "{name}");
        }
        for name in [
            "kubernetes.default.svc.cluster.local.",
            "www.example.net.",
            "com.edu.",
            "",
            ".",
        ] {
            assert!(!t.may_match_text(name.as_bytes()), "{name}");
        }
        // The engine still applies the forwarding rules to a name the prefilter rejects.
        let mut b = ConfigBuilder::new();
        assert!(b.zone("example.net").is_ok());
        assert!(b.upstream("192.0.2.53").is_ok());
        assert!(b.hairpin("www.example.com 127.0.0.1").is_ok());
        let engine = Engine::new(b.build().expect("config"));
        assert_eq!(
            engine.classify(b"_acme-challenge.example.net.", TYPE_A, 1, 0),
            Verdict::Forward
        );
        assert_eq!(
            engine.classify(b"www.example.com.", TYPE_A, 1, 0),
            Verdict::Hairpin
        );
        assert_eq!(
            engine.classify(b"www.example.net.", TYPE_A, 1, 0),
            Verdict::Pass
        );
    }

    #[test]
    fn length_set() {
        let mut l = Lengths::default();
        for len in [1usize, 63, 64, 65, 127, 128, 200, 255] {
            assert!(!l.contains(len));
            l.insert(len);
            assert!(l.contains(len));
        }
        for len in [0usize, 2, 62, 66, 129, 254, 256, 319, usize::MAX] {
            assert!(!l.contains(len), "{len}");
        }
        // Names of the same length as a key still need the key itself.
        let t = table(&["aaa.example.com 192.0.2.1", "*.bbb.example.com 192.0.2.2"]);
        assert_eq!(found(&t, "aab.example.com"), None);
        assert_eq!(found(&t, "x.bbc.example.com"), None);
        assert_eq!(found(&t, "x.bbb.example.com"), Some(addrs(&["192.0.2.2"])));
        // A 255-octet name under a wildcard.
        let l = "a".repeat(63);
        let long = format!("{l}.{l}.{l}.{}.example.com", "b".repeat(49));
        let t = table(&["*.example.com 192.0.2.3"]);
        assert_eq!(wire_name(&long).len(), 255);
        assert_eq!(found(&t, &long), Some(addrs(&["192.0.2.3"])));
    }

    #[test]
    fn only_a_and_aaaa_have_targets() {
        let t = table(&["www.example.com 192.0.2.1"]);
        let w = wire_name("www.example.com");
        assert!(t.target(&w, TYPE_A).is_some());
        assert!(t.target(&w, TYPE_AAAA).is_some());
        for qtype in [0u16, 2, 5, 6, 15, 16, 33, 65, 255] {
            assert!(t.target(&w, qtype).is_none(), "{qtype}");
        }
        assert!(HairpinTable::default().target(&w, TYPE_A).is_none());
    }

    #[test]
    fn builder_and_config() {
        let mut b = ConfigBuilder::new();
        let built = b
            .upstream("192.0.2.53")
            .and_then(|b| b.hairpin("www.example.com 192.0.2.1"))
            .and_then(|b| b.hairpin("*.apps.example.com svc.cluster.local"))
            .and_then(|b| b.build());
        assert_eq!(built.map(|c| c.hairpin_len()), Ok(2));
        assert_eq!(
            b.hairpin("www.example.com 192.0.2.9").err(),
            Some(ConfigError::HairpinDuplicateName)
        );
    }
}
