//! Validated configuration: the zones to watch, the external nameservers, and the limits.
//! Knows no state: [`error`] (what a bad setting gets), [`labels`] (the challenge labels),
//! [`hairpin`] (the hairpin table), here `Config` and its parts, and [`builder`], the
//! `ConfigBuilder` that validates each setting and builds it.

pub(crate) mod builder;
pub(crate) mod error;
pub(crate) mod hairpin;
pub(crate) mod labels;

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::error::ConfigError;
use crate::config::hairpin::HairpinTable;
use crate::config::labels::ChallengeLabels;
use crate::wire::name;

/// Default per-try upstream timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Smallest accepted timeout.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// Largest accepted timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Default overall limit of one exchange: below the 5 s that stub resolvers (glibc, Go) wait
/// for an answer, so a client gets SERVFAIL rather than a timeout of its own.
pub const DEFAULT_MAX_TIME: Duration = Duration::from_secs(4);
/// Smallest accepted `max_time`.
pub const MIN_MAX_TIME: Duration = Duration::from_millis(10);
/// Largest accepted `max_time`.
pub const MAX_MAX_TIME: Duration = Duration::from_secs(300);
/// Default bound on exchanges in flight (as CoreDNS's `forward` counts `max_concurrent`): at a
/// few KiB each, a full table is a few MiB, far below a CoreDNS pod's memory limit.
pub const DEFAULT_MAX_CONCURRENT: usize = 1000;
/// Largest accepted `max_concurrent`.
pub const MAX_MAX_CONCURRENT: usize = 1_000_000;
/// Default cap on the TTLs handed to the client.
pub const DEFAULT_MAX_TTL: u32 = 30;
/// Largest accepted `max_ttl` (one week).
pub const MAX_MAX_TTL: u32 = 604_800;
/// The port used when an upstream address has none (and the port of every authoritative
/// nameserver found by discovery).
pub const DEFAULT_PORT: u16 = 53;
/// Default bound on the learned state (entries).
pub const DEFAULT_MAX_LEARNED: usize = 4096;
/// Smallest accepted `max_learned`.
pub const MIN_MAX_LEARNED: usize = 16;
/// Largest accepted `max_learned`.
pub const MAX_MAX_LEARNED: usize = 1_048_576;
/// The zones protected by default: the cluster's own names and reverse lookups, and
/// `localhost`. Names at or below a protected zone are never answered from outside and never
/// learned, whatever a public record says.
pub const DEFAULT_PROTECTED: [&str; 4] = ["cluster.local", "in-addr.arpa", "ip6.arpa", "localhost"];

/// Where forwarded questions go.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UpstreamMode {
    /// Ask each `to` resolver in order, RD set (the default).
    #[default]
    Recursive = 0,
    /// Find the zone's authoritative nameservers through the `to` resolvers and ask them
    /// directly (port 53, RD clear, AA required). Only challenge and delegation questions (rules 1
    /// and 4) go there; discovery questions always go to the resolvers.
    Authoritative = 1,
}

/// A zone, stored in lower-cased wire form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Zone {
    wire: Box<[u8]>,
}

impl Zone {
    /// Parses a zone in presentation format (`.` is the root).
    pub fn parse(zone: &str) -> Result<Zone, ConfigError> {
        let wire = name::scan(zone.as_bytes())?;
        Ok(Zone {
            wire: wire.as_bytes().into(),
        })
    }

    /// The root zone, which every name is at or below.
    pub fn root() -> Zone {
        Zone {
            wire: Box::new([0]),
        }
    }

    /// The lower-cased wire form, ending in the zero root label.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// Whether this is the root zone.
    pub fn is_root(&self) -> bool {
        *self.wire == [0]
    }
}

/// Presentation format with a trailing dot, escaped like miekg/dns (e.g. `example.com.`).
impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        name::write_presentation(&self.wire, f)
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone(\"{self}\")")
    }
}

/// An IP network, `IP/PREFIX`: the `allow_ns` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parses `IP/PREFIX` or a bare `IP` (a /32 or /128). The address is masked to the prefix.
    pub fn parse(s: &str) -> Result<Net, ConfigError> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip.parse().map_err(|_| ConfigError::NetInvalid)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| ConfigError::NetInvalid)?
            }
            Some(_) => return Err(ConfigError::NetInvalid),
        };
        if prefix > max {
            return Err(ConfigError::NetInvalid);
        }
        Ok(Net {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// Whether `ip` is in this network (same family).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `ip` with every bit past `prefix` cleared.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// The validated configuration. Cheap to share; the per-query hot path is
/// [`crate::Engine::classify`], which applies every rule to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    zones: Vec<Zone>,
    upstreams: Vec<SocketAddr>,
    /// The upstreams reached over TLS: a subset of `upstreams`, usually empty.
    tls_upstreams: Vec<SocketAddr>,
    timeout: Duration,
    max_ttl: u32,
    discovery: bool,
    /// The zones listed explicitly, without the root: the scope of rule 2.
    discovery_zones: Vec<Zone>,
    delegated: Vec<Zone>,
    /// The strict ancestors (not the root) of the delegated zones, lower-cased wire form.
    delegated_ancestors: Vec<Zone>,
    upstream_mode: UpstreamMode,
    max_learned: usize,
    hairpin: HairpinTable,
    protected: Vec<Zone>,
    allow_ns: Vec<Net>,
    max_time: Duration,
    max_concurrent: usize,
    labels: ChallengeLabels,
    public_hosts: Vec<Zone>,
}

impl Config {
    /// The zones in scope, lower-cased wire form. Never empty: with no zone configured this is
    /// just the root.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The upstream nameservers, in the order to try them. Never empty.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// The upstreams reached over TLS
    /// ([`ConfigBuilder::upstream_tls`](crate::ConfigBuilder::upstream_tls)), in the order
    /// added: every query to them goes over TCP.
    pub fn tls_upstreams(&self) -> &[SocketAddr] {
        &self.tls_upstreams
    }

    /// The per-try upstream timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The overall limit of one exchange.
    pub fn max_time(&self) -> Duration {
        self.max_time
    }

    /// The bound on exchanges in flight.
    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// The cap on TTLs handed to clients.
    pub fn max_ttl(&self) -> u32 {
        self.max_ttl
    }

    /// Whether the discovery rules (2, 3, 5) are on.
    pub fn discovery(&self) -> bool {
        self.discovery
    }

    /// The zones listed explicitly (the root left out): names at or below them have their SOA
    /// and NS questions forwarded (rule 2). Empty when no zone was listed.
    pub fn discovery_zones(&self) -> &[Zone] {
        &self.discovery_zones
    }

    /// The delegated zones (rule 4), lower-cased wire form.
    pub fn delegated(&self) -> &[Zone] {
        &self.delegated
    }

    /// The ancestors (not the root, not the zones themselves) of the delegated zones: their SOA
    /// and NS questions are forwarded (rule 2).
    pub fn delegated_ancestors(&self) -> &[Zone] {
        &self.delegated_ancestors
    }

    /// Where forwarded questions go.
    pub fn upstream_mode(&self) -> UpstreamMode {
        self.upstream_mode
    }

    /// The bound of the learned state, in entries.
    pub fn max_learned(&self) -> usize {
        self.max_learned
    }

    /// The protected zones (the defaults and `protect`), lower-cased wire form.
    pub fn protected(&self) -> &[Zone] {
        &self.protected
    }

    /// Whether the lower-cased wire-form `name` is at or below a protected zone.
    pub(crate) fn is_protected(&self, wire: &[u8]) -> bool {
        self.protected
            .iter()
            .any(|p| name::is_at_or_below(wire, p.wire()))
    }

    /// Whether zones were listed explicitly (not just the root, nor none).
    pub(crate) fn zones_listed(&self) -> bool {
        !self.discovery_zones.is_empty()
    }

    /// Whether the lower-cased wire-form `name` is at or below a listed (not the root) or
    /// delegated zone.
    pub(crate) fn in_listed_or_delegated(&self, wire: &[u8]) -> bool {
        self.discovery_zones
            .iter()
            .chain(&self.delegated)
            .any(|z| name::is_at_or_below(wire, z.wire()))
    }

    /// The `allow_ns` networks.
    pub fn allow_ns(&self) -> &[Net] {
        &self.allow_ns
    }

    /// The challenge labels (rule 1).
    pub(crate) fn challenge_labels(&self) -> &ChallengeLabels {
        &self.labels
    }

    /// The challenge labels (rule 1), lower case: the defaults or those given with
    /// [`ConfigBuilder::label`](crate::ConfigBuilder::label). While `_acme-challenge` is among
    /// them, dns-account-01 names are challenge names too.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        // Every label was checked to be ASCII.
        self.labels
            .iter()
            .map(|l| core::str::from_utf8(l).unwrap_or_default())
    }

    /// The `public_hosts` names, lower-cased wire form.
    pub fn public_hosts(&self) -> &[Zone] {
        &self.public_hosts
    }

    /// Whether the operator named the lower-cased wire-form nameserver host `wire` with
    /// [`ConfigBuilder::public_host`](crate::ConfigBuilder::public_host): it is not asked about
    /// in the internal view.
    pub(crate) fn is_public_host(&self, wire: &[u8]) -> bool {
        self.public_hosts.iter().any(|h| *h.wire() == *wire)
    }

    /// The hairpin table (names and `*.zone` wildcards → targets).
    pub(crate) fn hairpin(&self) -> &HairpinTable {
        &self.hairpin
    }

    /// The number of hairpin names and wildcards configured.
    pub fn hairpin_len(&self) -> usize {
        self.hairpin.len()
    }
}
