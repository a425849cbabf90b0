//! `ConfigBuilder`: the settings collected one at a time (as the Corefile is parsed), each
//! checked when given, then built into a [`Config`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::error::ConfigError;
use crate::config::hairpin::HairpinTable;
use crate::config::labels::ChallengeLabels;
use crate::config::{
    Config, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_LEARNED, DEFAULT_MAX_TIME, DEFAULT_MAX_TTL,
    DEFAULT_PORT, DEFAULT_PROTECTED, DEFAULT_TIMEOUT, MAX_MAX_CONCURRENT, MAX_MAX_LEARNED,
    MAX_MAX_TIME, MAX_MAX_TTL, MAX_TIMEOUT, MIN_MAX_LEARNED, MIN_MAX_TIME, MIN_TIMEOUT, Net,
    UpstreamMode, Zone,
};
use crate::wire::name;

/// Collects and validates settings one at a time (as the Corefile is parsed), then builds a
/// [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigBuilder {
    zones: Vec<Zone>,
    upstreams: Vec<SocketAddr>,
    tls_upstreams: Vec<SocketAddr>,
    timeout: Duration,
    max_ttl: u32,
    discovery: bool,
    delegated: Vec<Zone>,
    upstream_mode: UpstreamMode,
    max_learned: usize,
    hairpin: HairpinTable,
    protected: Vec<Zone>,
    allow_ns: Vec<Net>,
    max_time: Duration,
    max_concurrent: usize,
    labels: ChallengeLabels,
    public_hosts: Vec<Zone>,
    /// Whether `labels` was called: its first call replaces the defaults.
    labels_given: bool,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        ConfigBuilder {
            zones: Vec::new(),
            upstreams: Vec::new(),
            tls_upstreams: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_ttl: DEFAULT_MAX_TTL,
            discovery: true,
            delegated: Vec::new(),
            upstream_mode: UpstreamMode::Recursive,
            max_learned: DEFAULT_MAX_LEARNED,
            hairpin: HairpinTable::default(),
            protected: DEFAULT_PROTECTED
                .iter()
                .filter_map(|z| Zone::parse(z).ok())
                .collect(),
            allow_ns: Vec::new(),
            max_time: DEFAULT_MAX_TIME,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            labels: ChallengeLabels::default(),
            public_hosts: Vec::new(),
            labels_given: false,
        }
    }
}

impl ConfigBuilder {
    /// A builder with no zones (meaning: the root), no upstreams, timeout 2s, max_ttl 30,
    /// discovery on, no delegated zones, recursive upstream mode, max_learned 4096, the
    /// [`DEFAULT_PROTECTED`] zones, no `allow_ns` networks and the
    /// [`DEFAULT_CHALLENGE_LABELS`](crate::DEFAULT_CHALLENGE_LABELS).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a zone in presentation format (`.` is the root). Adding a zone twice is harmless.
    pub fn zone(&mut self, zone: &str) -> Result<&mut Self, ConfigError> {
        let zone = Zone::parse(zone)?;
        if self.is_protected(&zone) {
            return Err(ConfigError::ZoneProtected);
        }
        if !self.zones.contains(&zone) {
            self.zones.push(zone);
        }
        Ok(self)
    }

    /// Adds an upstream nameserver: `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT` (port 53 when
    /// absent). Upstreams are tried in the order added; adding one twice is harmless.
    pub fn upstream(&mut self, addr: &str) -> Result<&mut Self, ConfigError> {
        let addr = parse_upstream(addr)?;
        if !self.upstreams.contains(&addr) {
            self.upstreams.push(addr);
        }
        Ok(self)
    }

    /// Adds an upstream that the caller reaches over DNS over TLS (same address forms as
    /// [`ConfigBuilder::upstream`]; the caller picks the port, 853 by convention). TLS is a
    /// stream: every query to it is sent over [`Transport::Tcp`], never UDP, whatever the
    /// client's transport, so its replies are checked as TCP replies. One address is one server:
    /// an address added both ways is a TLS upstream, in the place where it was first added.
    ///
    /// [`Transport::Tcp`]: crate::Transport::Tcp
    pub fn upstream_tls(&mut self, addr: &str) -> Result<&mut Self, ConfigError> {
        let addr = parse_upstream(addr)?;
        if !self.upstreams.contains(&addr) {
            self.upstreams.push(addr);
        }
        if !self.tls_upstreams.contains(&addr) {
            self.tls_upstreams.push(addr);
        }
        Ok(self)
    }

    /// Sets the per-try upstream timeout: 1ms ..= 60s.
    pub fn timeout(&mut self, t: Duration) -> Result<&mut Self, ConfigError> {
        if !(MIN_TIMEOUT..=MAX_TIMEOUT).contains(&t) {
            return Err(ConfigError::TimeoutOutOfRange);
        }
        self.timeout = t;
        Ok(self)
    }

    /// Sets the overall limit of one exchange, every try and discovery step included: 10ms ..=
    /// 300s, default 4s. Each try ends at the earlier of its `timeout` and this limit.
    pub fn max_time(&mut self, t: Duration) -> Result<&mut Self, ConfigError> {
        if !(MIN_MAX_TIME..=MAX_MAX_TIME).contains(&t) {
            return Err(ConfigError::MaxTimeOutOfRange);
        }
        self.max_time = t;
        Ok(self)
    }

    /// Sets the bound on exchanges in flight: 1 ..= 1000000, default 1000. The caller enforces
    /// it (it owns the exchanges); past it the client gets REFUSED at once.
    pub fn max_concurrent(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        if !(1..=MAX_MAX_CONCURRENT).contains(&n) {
            return Err(ConfigError::MaxConcurrentOutOfRange);
        }
        self.max_concurrent = n;
        Ok(self)
    }

    /// Sets the cap on TTLs (and on the SOA negative-caching TTL) handed to clients: 0 ..= 604800.
    pub fn max_ttl(&mut self, secs: u32) -> Result<&mut Self, ConfigError> {
        if secs > MAX_MAX_TTL {
            return Err(ConfigError::MaxTtlOutOfRange);
        }
        self.max_ttl = secs;
        Ok(self)
    }

    /// Turns the discovery rules (2, 3 and 5: SOA/NS of the configured zones and of ancestors of
    /// delegated zones, learned nameserver hosts, the learned SOA walk) on or off. Default on.
    pub fn discovery(&mut self, on: bool) -> &mut Self {
        self.discovery = on;
        self
    }

    /// Adds a delegated zone (presentation format), where challenge CNAMEs point: the TXT,
    /// CNAME, SOA and NS questions at or below it are forwarded (rule 4), and with discovery on
    /// the SOA/NS questions for its ancestors (rule 2), and the A/AAAA of its nameserver hosts.
    /// Adding a zone twice is harmless.
    /// The root is refused ([`ConfigError::DelegatedRoot`]): it would forward every question.
    pub fn delegated(&mut self, zone: &str) -> Result<&mut Self, ConfigError> {
        let zone = Zone::parse(zone)?;
        if zone.is_root() {
            return Err(ConfigError::DelegatedRoot);
        }
        if self.is_protected(&zone) {
            return Err(ConfigError::DelegatedProtected);
        }
        if !self.delegated.contains(&zone) {
            self.delegated.push(zone);
        }
        Ok(self)
    }

    /// Sets where forwarded questions go. Default [`UpstreamMode::Recursive`].
    pub fn upstream_mode(&mut self, mode: UpstreamMode) -> &mut Self {
        self.upstream_mode = mode;
        self
    }

    /// Sets the bound of the learned state: 16 ..= 1048576 entries, default 4096.
    pub fn max_learned(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        if !(MIN_MAX_LEARNED..=MAX_MAX_LEARNED).contains(&n) {
            return Err(ConfigError::MaxLearnedOutOfRange);
        }
        self.max_learned = n;
        Ok(self)
    }

    /// Adds a hairpin line (the HTTP-01 hairpin), as in the Corefile's
    /// `hairpin NAME... TARGET...`: the arguments separated by ASCII whitespace.
    ///
    /// Each NAME is a domain name, or a wildcard `*.zone` matching every name strictly below
    /// `zone`. The IP literals at the end of the line are the targets; with no IP literal at the
    /// end, the last argument is the target, a domain name looked up through the rest of the
    /// plugin chain. A and AAAA questions (class IN) for the names that no forwarding rule takes
    /// are then answered with the targets' addresses ([`crate::Verdict::Hairpin`]).
    ///
    /// Errors: [`ConfigError::HairpinMissingTarget`] (fewer than one NAME and one TARGET),
    /// [`ConfigError::HairpinNameIsAddress`], [`ConfigError::HairpinBadWildcard`],
    /// [`ConfigError::HairpinTargetInvalid`], [`ConfigError::HairpinDuplicateName`] (a NAME
    /// already given, in this line or an earlier one), and the `Name*` errors for a NAME that is
    /// not a valid domain name. A NAME or a target name must be a host name (labels of letters,
    /// digits, `-` and `_`, not ending in a numeric label), so that a mistyped address such as
    /// `10.1.2.3:443` is refused rather than looked up as a name
    /// ([`ConfigError::HairpinNameNotHostName`], [`ConfigError::HairpinTargetNotHostName`]).
    /// A NAME at or below a protected zone, added before or after, is refused
    /// ([`ConfigError::HairpinProtected`]) by whichever call comes second. On an error the
    /// builder is unchanged.
    pub fn hairpin(&mut self, line: &str) -> Result<&mut Self, ConfigError> {
        let protected = &self.protected;
        self.hairpin.add_line(line, |w| {
            protected.iter().any(|p| name::is_at_or_below(w, p.wire()))
        })?;
        Ok(self)
    }

    /// Adds a protected zone (presentation format) to the defaults ([`DEFAULT_PROTECTED`]):
    /// names at or below it are never forwarded and never learned, whatever a public record
    /// says. For the internal-only zones a public record must never decide, e.g. an internal
    /// TLD. The root is refused ([`ConfigError::ProtectedRoot`]): nothing could be forwarded.
    /// A listed or delegated zone or a hairpin NAME inside it, added before or after, is refused
    /// ([`ConfigError::ZoneProtected`], [`ConfigError::DelegatedProtected`],
    /// [`ConfigError::HairpinProtected`]) by whichever call comes second, so that the error
    /// names the line that makes the conflict.
    pub fn protect(&mut self, zone: &str) -> Result<&mut Self, ConfigError> {
        let zone = Zone::parse(zone)?;
        if zone.is_root() {
            return Err(ConfigError::ProtectedRoot);
        }
        let inside = |z: &Zone| name::is_at_or_below(z.wire(), zone.wire());
        if self.zones.iter().any(inside) {
            return Err(ConfigError::ZoneProtected);
        }
        if self.delegated.iter().any(inside) {
            return Err(ConfigError::DelegatedProtected);
        }
        if self.public_hosts.iter().any(inside) {
            return Err(ConfigError::PublicHostProtected);
        }
        if self.hairpin.has_name_at_or_below(zone.wire()) {
            return Err(ConfigError::HairpinProtected);
        }
        if !self.protected.contains(&zone) {
            self.protected.push(zone);
        }
        Ok(self)
    }

    /// Whether `zone` is at or below a protected zone.
    fn is_protected(&self, zone: &Zone) -> bool {
        self.protected
            .iter()
            .any(|p| name::is_at_or_below(zone.wire(), p.wire()))
    }

    /// Adds a nameserver host (presentation format) whose A and AAAA may get the public answer
    /// even though the internal view knows the name. A nameserver host that the prefetch finds,
    /// or that a reply names, is otherwise asked about in the internal view first and keeps its
    /// internal answer when the internal view knows it: public data never decides an internal
    /// name, only the operator does, here. The host still gets an outside answer only while the
    /// prefetch or a reply names it as a nameserver. The root is refused
    /// ([`ConfigError::PublicHostRoot`]); so is a host at or below a protected zone, added
    /// before or after ([`ConfigError::PublicHostProtected`], by whichever call comes second).
    pub fn public_host(&mut self, host: &str) -> Result<&mut Self, ConfigError> {
        let host = Zone::parse(host)?;
        if host.is_root() {
            return Err(ConfigError::PublicHostRoot);
        }
        if self.is_protected(&host) {
            return Err(ConfigError::PublicHostProtected);
        }
        if !self.public_hosts.contains(&host) {
            self.public_hosts.push(host);
        }
        Ok(self)
    }

    /// Allows a network (`IP/PREFIX`, or one `IP`) for nameserver addresses learned from DNS in
    /// [`UpstreamMode::Authoritative`], which are otherwise refused in the loopback, link-local,
    /// private (RFC 1918, ULA), CGNAT, multicast, broadcast, 0.0.0.0/8 and unspecified ranges
    /// (so that public data cannot aim the cluster's DNS at an address inside the cluster).
    pub fn allow_ns(&mut self, net: &str) -> Result<&mut Self, ConfigError> {
        let net = Net::parse(net)?;
        if !self.allow_ns.contains(&net) {
            self.allow_ns.push(net);
        }
        Ok(self)
    }

    /// Adds a challenge label (rule 1): a name whose first label is one of them, at or below a
    /// zone, is a challenge name. The first call replaces the defaults (`_acme-challenge` and
    /// `_validation-persist`); later calls add to the set. While `_acme-challenge` is in the
    /// set, dns-account-01 names (`_<16 base32 characters>._acme-challenge.<name>`) are
    /// challenge names too.
    ///
    /// The label is one plain label: `_` first, then ASCII letters, digits, `-` and `_`, at
    /// most 63 characters, compared case-insensitively. Errors: [`ConfigError::LabelEmpty`],
    /// [`ConfigError::LabelNoUnderscore`], [`ConfigError::LabelTooLong`],
    /// [`ConfigError::LabelBadCharacter`], [`ConfigError::LabelDuplicate`] (already in the set
    /// this call adds to) and [`ConfigError::TooManyLabels`] (more than
    /// [`MAX_CHALLENGE_LABELS`](crate::MAX_CHALLENGE_LABELS)). On an error the builder is
    /// unchanged.
    pub fn label(&mut self, label: &str) -> Result<&mut Self, ConfigError> {
        if self.labels_given {
            self.labels.add(label)?;
        } else {
            self.labels = ChallengeLabels::only(label)?;
            self.labels_given = true;
        }
        Ok(self)
    }

    /// Builds the configuration. Fails with [`ConfigError::NoUpstream`] when no upstream was
    /// added, and with [`ConfigError::ZoneProtected`] / [`ConfigError::DelegatedProtected`] /
    /// [`ConfigError::HairpinProtected`] when a listed or delegated zone or a hairpin NAME is at
    /// or below a protected zone. With no zone added, the root
    /// zone is used: every name is in scope (but the protected zones).
    pub fn build(&self) -> Result<Config, ConfigError> {
        if self.upstreams.is_empty() {
            return Err(ConfigError::NoUpstream);
        }
        // The setters refuse these already, whichever came first; kept as the one rule.
        if self.zones.iter().any(|z| self.is_protected(z)) {
            return Err(ConfigError::ZoneProtected);
        }
        if self.delegated.iter().any(|z| self.is_protected(z)) {
            return Err(ConfigError::DelegatedProtected);
        }
        if self.public_hosts.iter().any(|z| self.is_protected(z)) {
            return Err(ConfigError::PublicHostProtected);
        }
        if self
            .protected
            .iter()
            .any(|p| self.hairpin.has_name_at_or_below(p.wire()))
        {
            return Err(ConfigError::HairpinProtected);
        }
        let mut zones = self.zones.clone();
        if zones.is_empty() || zones.iter().any(Zone::is_root) {
            // The root covers everything; keeping only it makes classify cheaper.
            zones = vec![Zone::root()];
        }
        // Rule 2 matches only zones listed explicitly, and never through the root: all of
        // cluster.local's SOA and NS would leave the cluster.
        let discovery_zones = self
            .zones
            .iter()
            .filter(|z| !z.is_root())
            .cloned()
            .collect();
        // Ancestors (not the root) of delegated zones, for rule 2.
        let mut delegated_ancestors: Vec<Zone> = Vec::new();
        for d in &self.delegated {
            for ancestor in name::ancestors(d.wire()) {
                let z = Zone {
                    wire: ancestor.into(),
                };
                if !delegated_ancestors.contains(&z) {
                    delegated_ancestors.push(z);
                }
            }
        }
        Ok(Config {
            zones,
            upstreams: self.upstreams.clone(),
            tls_upstreams: self.tls_upstreams.clone(),
            timeout: self.timeout,
            max_ttl: self.max_ttl,
            discovery: self.discovery,
            discovery_zones,
            delegated: self.delegated.clone(),
            delegated_ancestors,
            upstream_mode: self.upstream_mode,
            max_learned: self.max_learned,
            hairpin: self.hairpin.clone(),
            protected: self.protected.clone(),
            allow_ns: self.allow_ns.clone(),
            max_time: self.max_time,
            max_concurrent: self.max_concurrent,
            labels: self.labels.clone(),
            public_hosts: self.public_hosts.clone(),
        })
    }
}

fn parse_port(s: &str) -> Result<u16, ConfigError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::PortInvalid);
    }
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(ConfigError::PortInvalid),
        Ok(p) => Ok(p),
    }
}

/// Parses `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`.
pub(crate) fn parse_upstream(s: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(ConfigError::AddressInvalid)?;
        let ip: Ipv6Addr = host.parse().map_err(|_| ConfigError::AddressInvalid)?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => parse_port(after.strip_prefix(':').ok_or(ConfigError::AddressInvalid)?)?,
        };
        return Ok(SocketAddr::new(IpAddr::V6(ip), port));
    }
    let (host, port) = s.rsplit_once(':').ok_or(ConfigError::AddressInvalid)?;
    let ip: Ipv4Addr = host.parse().map_err(|_| ConfigError::AddressInvalid)?;
    Ok(SocketAddr::new(IpAddr::V4(ip), parse_port(port)?))
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
