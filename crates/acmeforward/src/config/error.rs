//! Why a configuration value was rejected: one variant per C result code. Below the
//! configuration and the hairpin table, which both report with it.

use core::fmt;

use crate::wire::name::NameError;

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
    /// max_learned is not within 16 ..= 1048576.
    MaxLearnedOutOfRange,
    /// `delegated .`: the root would forward every question of every type.
    DelegatedRoot,
    /// A hairpin NAME is an IP literal (the IP literals go last, as targets).
    HairpinNameIsAddress,
    /// A hairpin line without at least one NAME and one TARGET.
    HairpinMissingTarget,
    /// A `*` in a hairpin NAME other than a leading `*.` (or a wildcard of the root).
    HairpinBadWildcard,
    /// The hairpin target name is not a valid domain name.
    HairpinTargetInvalid,
    /// A hairpin NAME given twice (in one line or in two).
    HairpinDuplicateName,
    /// `protect .`: nothing could be forwarded.
    ProtectedRoot,
    /// A listed zone is at or below a protected zone.
    ZoneProtected,
    /// A delegated zone is at or below a protected zone.
    DelegatedProtected,
    /// An `allow_ns` network is not `IP/PREFIX` or `IP`.
    NetInvalid,
    /// max_time is not within 10ms ..= 300s.
    MaxTimeOutOfRange,
    /// max_concurrent is not within 1 ..= 1000000.
    MaxConcurrentOutOfRange,
    /// A hairpin NAME is the root.
    HairpinRootName,
    /// A challenge label (`labels`) is empty.
    LabelEmpty,
    /// A challenge label does not start with `_`.
    LabelNoUnderscore,
    /// A challenge label is longer than 63 characters.
    LabelTooLong,
    /// A challenge label has a character other than letters, digits, `-` and `_`.
    LabelBadCharacter,
    /// A challenge label given twice (letter case aside).
    LabelDuplicate,
    /// More than 16 challenge labels.
    TooManyLabels,
    /// The hairpin target is neither IP literals nor a host name (e.g. an address with a port).
    HairpinTargetNotHostName,
    /// A hairpin NAME is not a host name (e.g. an address with a port before the targets).
    HairpinNameNotHostName,
    /// A hairpin NAME is at or below a protected zone.
    HairpinProtected,
    /// A `public_hosts` name is the root.
    PublicHostRoot,
    /// A `public_hosts` name is at or below a protected zone.
    PublicHostProtected,
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
            ConfigError::MaxLearnedOutOfRange => {
                "max_learned out of range: must be from 16 to 1048576 entries"
            }
            ConfigError::DelegatedRoot => {
                "delegated zone cannot be the root: it would forward every question"
            }
            ConfigError::HairpinNameIsAddress => {
                "hairpin NAME is an IP address: the NAMEs come first and must be domain names (or *.zone); the IP addresses go last, as the targets"
            }
            ConfigError::HairpinMissingTarget => {
                "hairpin needs at least one NAME and one TARGET: hairpin NAME... TARGET... (TARGET: IP addresses, or one domain name)"
            }
            ConfigError::HairpinBadWildcard => {
                "bad hairpin wildcard: `*` is only allowed as the whole first label, as in *.example.com (and not *. for the root)"
            }
            ConfigError::HairpinTargetInvalid => {
                "hairpin target is not a valid domain name: the target is the trailing IP addresses, or else the last argument, one domain name (no wildcard, not the root)"
            }
            ConfigError::HairpinDuplicateName => {
                "hairpin NAME given twice: each name (and each *.zone) may appear only once, in one hairpin line"
            }
            ConfigError::ProtectedRoot => {
                "protected zone cannot be the root: nothing could be forwarded"
            }
            ConfigError::ZoneProtected => {
                "a listed zone is inside a protected zone (cluster.local, in-addr.arpa, ip6.arpa, localhost, or one given with `protect`): its names are never answered from outside"
            }
            ConfigError::DelegatedProtected => {
                "a delegated zone is inside a protected zone (cluster.local, in-addr.arpa, ip6.arpa, localhost, or one given with `protect`): its names are never answered from outside"
            }
            ConfigError::NetInvalid => {
                "not a network: expected IP/PREFIX or IP, e.g. 127.0.0.0/8 or 2001:db8::/32"
            }
            ConfigError::MaxTimeOutOfRange => "max_time out of range: must be from 10ms to 300s",
            ConfigError::HairpinRootName => {
                "hairpin NAME cannot be the root: name the public names the ingress serves"
            }
            ConfigError::MaxConcurrentOutOfRange => {
                "max_concurrent out of range: must be from 1 to 1000000"
            }
            ConfigError::LabelEmpty => "challenge label is empty: e.g. _acme-challenge",
            ConfigError::LabelNoUnderscore => {
                "challenge label must start with `_`, e.g. _acme-challenge"
            }
            ConfigError::LabelTooLong => "challenge label longer than 63 characters",
            ConfigError::LabelBadCharacter => {
                "challenge label may only hold letters, digits, `-` and `_`: one label, no dots or escapes"
            }
            ConfigError::LabelDuplicate => {
                "challenge label given twice (labels compare case-insensitively)"
            }
            ConfigError::TooManyLabels => "too many challenge labels: at most 16",
            ConfigError::HairpinTargetNotHostName => {
                "hairpin target is neither an IP address nor a host name: give IP addresses without port, brackets, prefix length, zone or leading zeros (e.g. 10.1.2.3 or 2001:db8::5), or one host name of letters, digits, `-` and `_`, not ending in a numeric label (e.g. ingress-nginx-controller.ingress-nginx.svc.cluster.local)"
            }
            ConfigError::HairpinNameNotHostName => {
                "hairpin NAME is not a host name: each NAME is a host name (or *.zone) of letters, digits, `-` and `_`, not ending in a numeric label; the targets go last, as IP addresses without port, brackets, prefix length or zone"
            }
            ConfigError::HairpinProtected => {
                "a hairpin NAME is at or below a protected zone (cluster.local, in-addr.arpa, ip6.arpa, localhost, or one given with `protect`): its names keep their internal answers"
            }
            ConfigError::PublicHostRoot => {
                "public_hosts name cannot be the root: name the nameserver hosts, e.g. ns1.example.com"
            }
            ConfigError::PublicHostProtected => {
                "a public_hosts name is inside a protected zone (cluster.local, in-addr.arpa, ip6.arpa, localhost, or one given with `protect`): its names are never answered from outside"
            }
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
