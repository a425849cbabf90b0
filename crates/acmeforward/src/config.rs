//! Validated configuration: the zones to watch, the external nameservers, and the limits.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::name::{self, NameError};

/// Default per-try upstream timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Smallest accepted timeout.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// Largest accepted timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap on the TTLs handed to the client.
pub const DEFAULT_MAX_TTL: u32 = 30;
/// Largest accepted `max_ttl` (one week).
pub const MAX_MAX_TTL: u32 = 604_800;
/// The port used when an upstream address has none.
pub const DEFAULT_PORT: u16 = 53;

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

/// Collects and validates settings one at a time (as the Corefile is parsed), then builds a
/// [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigBuilder {
    zones: Vec<Zone>,
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
    max_ttl: u32,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        ConfigBuilder {
            zones: Vec::new(),
            upstreams: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_ttl: DEFAULT_MAX_TTL,
        }
    }
}

impl ConfigBuilder {
    /// A builder with no zones (meaning: the root), no upstreams, timeout 2s and max_ttl 30.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a zone in presentation format (`.` is the root). Adding a zone twice is harmless.
    pub fn zone(&mut self, zone: &str) -> Result<&mut Self, ConfigError> {
        let zone = Zone::parse(zone)?;
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

    /// Sets the per-try upstream timeout: 1ms ..= 60s.
    pub fn timeout(&mut self, t: Duration) -> Result<&mut Self, ConfigError> {
        if !(MIN_TIMEOUT..=MAX_TIMEOUT).contains(&t) {
            return Err(ConfigError::TimeoutOutOfRange);
        }
        self.timeout = t;
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

    /// Builds the configuration. Fails with [`ConfigError::NoUpstream`] when no upstream was
    /// added. With no zone added, the root zone is used: every name is in scope.
    pub fn build(&self) -> Result<Config, ConfigError> {
        if self.upstreams.is_empty() {
            return Err(ConfigError::NoUpstream);
        }
        let mut zones = self.zones.clone();
        if zones.is_empty() || zones.iter().any(Zone::is_root) {
            // The root covers everything; keeping only it makes classify cheaper.
            zones = vec![Zone::root()];
        }
        Ok(Config {
            zones,
            upstreams: self.upstreams.clone(),
            timeout: self.timeout,
            max_ttl: self.max_ttl,
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

/// The validated configuration. Cheap to share; [`Config::classify`] is the per-query hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    zones: Vec<Zone>,
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
    max_ttl: u32,
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

    /// The per-try upstream timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The cap on TTLs handed to clients.
    pub fn max_ttl(&self) -> u32 {
        self.max_ttl
    }

    /// The hot path: no allocation. `qname` is in presentation format (as miekg/dns gives it:
    /// trailing dot optional, `\.` and `\DDD` escapes).
    ///
    /// [`Verdict::Forward`] iff `qclass` is IN, the first label is `_acme-challenge` (ASCII
    /// case-insensitive, after unescaping) and the name is at or below one of the zones. Any
    /// `qtype`. Malformed names pass.
    pub fn classify(&self, qname: &[u8], qtype: u16, qclass: u16) -> Verdict {
        crate::classify::classify(&self.zones, qname, qtype, qclass)
    }
}

/// What to do with a query.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Not ours: hand the query to the next plugin.
    Pass = 0,
    /// An ACME challenge lookup in scope: forward it to the upstreams.
    Forward = 1,
}

/// A configuration value that was rejected. Fieldless: each is one C result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigError {
    /// The zone name is empty.
    NameEmpty,
    /// The zone name has an empty label.
    NameEmptyLabel,
    /// A label of the zone name is longer than 63 octets.
    NameLabelTooLong,
    /// The zone name is longer than 255 octets.
    NameTooLong,
    /// The zone name has a bad `\` escape.
    NameBadEscape,
    /// The upstream is not an IP address (or `[IPv6]`), optionally with a port.
    AddressInvalid,
    /// The upstream's port is not a number from 1 to 65535.
    PortInvalid,
    /// The timeout is not within 1ms ..= 60s.
    TimeoutOutOfRange,
    /// max_ttl is above 604800.
    MaxTtlOutOfRange,
    /// No upstream was given.
    NoUpstream,
}

impl ConfigError {
    /// A static, operator-readable description (the FFI hands it out as is).
    pub fn as_str(&self) -> &'static str {
        match self {
            ConfigError::NameEmpty => NameError::Empty.as_str(),
            ConfigError::NameEmptyLabel => NameError::EmptyLabel.as_str(),
            ConfigError::NameLabelTooLong => NameError::LabelTooLong.as_str(),
            ConfigError::NameTooLong => NameError::TooLong.as_str(),
            ConfigError::NameBadEscape => NameError::BadEscape.as_str(),
            ConfigError::AddressInvalid => {
                "not an IP address: expected IP or IP:PORT, e.g. 192.0.2.53 or [2001:db8::53]:53"
            }
            ConfigError::PortInvalid => "port must be a number from 1 to 65535",
            ConfigError::TimeoutOutOfRange => "timeout out of range: must be from 1ms to 60s",
            ConfigError::MaxTtlOutOfRange => {
                "max_ttl out of range: must be from 0 to 604800 seconds (one week)"
            }
            ConfigError::NoUpstream => "no upstream: add `to ADDRESS`",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ConfigError {}

impl From<NameError> for ConfigError {
    fn from(e: NameError) -> Self {
        match e {
            NameError::Empty => ConfigError::NameEmpty,
            NameError::EmptyLabel => ConfigError::NameEmptyLabel,
            NameError::LabelTooLong => ConfigError::NameLabelTooLong,
            NameError::TooLong => ConfigError::NameTooLong,
            NameError::BadEscape => ConfigError::NameBadEscape,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    #[test]
    fn defaults() {
        let mut b = ConfigBuilder::new();
        let c = b.upstream("192.0.2.53").and_then(|b| b.build());
        let c = c.ok();
        assert_eq!(
            c.as_ref().map(Config::timeout),
            Some(Duration::from_secs(2))
        );
        assert_eq!(c.as_ref().map(Config::max_ttl), Some(30));
        assert_eq!(
            c.as_ref().map(|c| c.zones().to_vec()),
            Some(vec![Zone::root()]),
            "no zone configured means the root"
        );
        assert_eq!(
            c.as_ref().map(|c| c.upstreams().to_vec()),
            Some(vec![addr("192.0.2.53:53")])
        );
    }

    #[test]
    fn no_upstream() {
        let mut b = ConfigBuilder::new();
        assert!(b.zone("example.com").is_ok());
        assert_eq!(b.build().err(), Some(ConfigError::NoUpstream));
        assert_eq!(
            ConfigError::NoUpstream.to_string(),
            "no upstream: add `to ADDRESS`"
        );
    }

    #[test]
    fn upstream_forms() {
        let cases = [
            ("192.0.2.53", "192.0.2.53:53"),
            ("192.0.2.53:5353", "192.0.2.53:5353"),
            ("2001:db8::53", "[2001:db8::53]:53"),
            ("[2001:db8::53]", "[2001:db8::53]:53"),
            ("[2001:db8::53]:8053", "[2001:db8::53]:8053"),
            ("::1", "[::1]:53"),
            ("127.0.0.1:65535", "127.0.0.1:65535"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_upstream(input), Ok(addr(want)), "{input}");
        }
    }

    #[test]
    fn upstream_errors() {
        for bad in [
            "",
            "example.com",
            "example.com:53",
            "192.0.2",
            "192.0.2.256",
            "[192.0.2.53]:53",
            "[2001:db8::53",
            "[2001:db8::53]53",
            "2001:db8::53:53:53:53:53:53",
            " 192.0.2.53",
            "fe80::1%eth0",
        ] {
            assert_eq!(
                parse_upstream(bad),
                Err(ConfigError::AddressInvalid),
                "{bad:?}"
            );
        }
        for bad in [
            "192.0.2.53:",
            "192.0.2.53:0",
            "192.0.2.53:65536",
            "192.0.2.53:+53",
            "192.0.2.53:dns",
            "[2001:db8::53]:",
            "[2001:db8::53]:99999",
        ] {
            assert_eq!(
                parse_upstream(bad),
                Err(ConfigError::PortInvalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn upstream_order_kept_duplicates_dropped() {
        let mut b = ConfigBuilder::new();
        let r = b
            .upstream("192.0.2.2")
            .and_then(|b| b.upstream("192.0.2.1"))
            .and_then(|b| b.upstream("192.0.2.2:53"))
            .and_then(|b| b.build());
        assert_eq!(
            r.map(|c| c.upstreams().to_vec()),
            Ok(vec![addr("192.0.2.2:53"), addr("192.0.2.1:53")])
        );
    }

    #[test]
    fn zones_lowercased_wire_deduplicated() {
        let mut b = ConfigBuilder::new();
        let r = b
            .zone("Example.COM.")
            .and_then(|b| b.zone("example.com"))
            .and_then(|b| b.zone(r"a\.b.org"))
            .and_then(|b| b.upstream("192.0.2.53"))
            .and_then(|b| b.build());
        let zones: Vec<Vec<u8>> = r
            .map(|c| c.zones().iter().map(|z| z.wire().to_vec()).collect())
            .unwrap_or_default();
        assert_eq!(
            zones,
            vec![
                b"\x07example\x03com\x00".to_vec(),
                b"\x03a.b\x03org\x00".to_vec()
            ]
        );
    }

    #[test]
    fn root_zone_subsumes_others() {
        let mut b = ConfigBuilder::new();
        let r = b
            .zone("example.com")
            .and_then(|b| b.zone("."))
            .and_then(|b| b.upstream("192.0.2.53"))
            .and_then(|b| b.build());
        assert_eq!(r.map(|c| c.zones().to_vec()), Ok(vec![Zone::root()]));
    }

    #[test]
    fn zone_errors_map_to_config_errors() {
        let mut b = ConfigBuilder::new();
        assert_eq!(b.zone("").err(), Some(ConfigError::NameEmpty));
        assert_eq!(b.zone("a..b").err(), Some(ConfigError::NameEmptyLabel));
        assert_eq!(
            b.zone(&"x".repeat(64)).err(),
            Some(ConfigError::NameLabelTooLong)
        );
        assert_eq!(
            b.zone(&"a.".repeat(128)).err(),
            Some(ConfigError::NameTooLong)
        );
        assert_eq!(b.zone("a\\").err(), Some(ConfigError::NameBadEscape));
        assert_eq!(
            ConfigError::NameLabelTooLong.to_string(),
            "label longer than 63 octets"
        );
    }

    #[test]
    fn timeout_range() {
        let mut b = ConfigBuilder::new();
        assert_eq!(
            b.timeout(Duration::ZERO).err(),
            Some(ConfigError::TimeoutOutOfRange)
        );
        assert_eq!(
            b.timeout(Duration::from_micros(999)).err(),
            Some(ConfigError::TimeoutOutOfRange)
        );
        assert_eq!(
            b.timeout(Duration::from_millis(60_001)).err(),
            Some(ConfigError::TimeoutOutOfRange)
        );
        assert!(b.timeout(Duration::from_millis(1)).is_ok());
        assert!(b.timeout(Duration::from_secs(60)).is_ok());
        let r = b
            .timeout(Duration::from_millis(1500))
            .and_then(|b| b.upstream("192.0.2.53"))
            .and_then(|b| b.build());
        assert_eq!(r.map(|c| c.timeout()), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn max_ttl_range() {
        let mut b = ConfigBuilder::new();
        assert_eq!(
            b.max_ttl(604_801).err(),
            Some(ConfigError::MaxTtlOutOfRange)
        );
        assert!(b.max_ttl(604_800).is_ok());
        let r = b
            .max_ttl(0)
            .and_then(|b| b.upstream("192.0.2.53"))
            .and_then(|b| b.build());
        assert_eq!(r.map(|c| c.max_ttl()), Ok(0));
    }

    #[test]
    fn failed_setter_leaves_builder_unchanged() {
        let mut b = ConfigBuilder::new();
        let before = b.clone();
        assert!(b.zone("a..b").is_err());
        assert!(b.upstream("nope").is_err());
        assert!(b.timeout(Duration::ZERO).is_err());
        assert!(b.max_ttl(u32::MAX).is_err());
        assert_eq!(b, before);
    }

    #[test]
    fn every_error_has_a_distinct_message() {
        let all = [
            ConfigError::NameEmpty,
            ConfigError::NameEmptyLabel,
            ConfigError::NameLabelTooLong,
            ConfigError::NameTooLong,
            ConfigError::NameBadEscape,
            ConfigError::AddressInvalid,
            ConfigError::PortInvalid,
            ConfigError::TimeoutOutOfRange,
            ConfigError::MaxTtlOutOfRange,
            ConfigError::NoUpstream,
        ];
        let mut msgs: Vec<&str> = all.iter().map(ConfigError::as_str).collect();
        msgs.sort_unstable();
        msgs.dedup();
        assert_eq!(msgs.len(), all.len());
        assert_eq!(
            ConfigError::AddressInvalid.to_string(),
            "not an IP address: expected IP or IP:PORT, e.g. 192.0.2.53 or [2001:db8::53]:53"
        );
    }

    #[test]
    fn zone_display() {
        assert_eq!(Zone::root().to_string(), ".");
        assert_eq!(
            Zone::parse(r"A\.b.Example.com").map(|z| z.to_string()),
            Ok(r"a\.b.example.com.".to_string())
        );
    }
}
