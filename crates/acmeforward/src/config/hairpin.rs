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
#[path = "hairpin_tests.rs"]
mod tests;
