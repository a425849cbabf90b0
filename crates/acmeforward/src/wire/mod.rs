//! The DNS wire format's numbers, in one place: record types and classes, header flag bits,
//! message sizes, and how a message travels. The lowest layer of the crate: these numbers import
//! nothing of it, and every other module takes its constants from here; [`name`] reads
//! presentation-format names into wire form.

pub(crate) mod name;

/// The label that marks an ACME DNS-01 challenge name (RFC 8555 §8.4), lower case.
pub(crate) const ACME_LABEL: &[u8] = b"_acme-challenge";
/// The label of a dns-persist-01 record (`_validation-persist.<name>`), lower case.
pub(crate) const PERSIST_LABEL: &[u8] = b"_validation-persist";

// Record types (RFC 1035 and later), as they appear on the wire and in the C ABI's `qtype`.
pub(crate) const TYPE_A: u16 = 1;
pub(crate) const TYPE_NS: u16 = 2;
pub(crate) const TYPE_CNAME: u16 = 5;
pub(crate) const TYPE_SOA: u16 = 6;
pub(crate) const TYPE_TXT: u16 = 16;
pub(crate) const TYPE_AAAA: u16 = 28;
pub(crate) const TYPE_DNAME: u16 = 39;
pub(crate) const TYPE_OPT: u16 = 41;
#[cfg(test)]
pub(crate) const TYPE_MX: u16 = 15;
#[cfg(test)]
pub(crate) const TYPE_RRSIG: u16 = 46;
#[cfg(test)]
pub(crate) const TYPE_NSEC: u16 = 47;

/// Class IN, the only class anything is forwarded for.
pub(crate) const CLASS_IN: u16 = 1;
#[cfg(test)]
pub(crate) const CLASS_CH: u16 = 3;

/// The NXDOMAIN response code.
#[cfg(test)]
pub(crate) const RCODE_NXDOMAIN: u16 = 3;

/// The fixed header in front of every message.
pub(crate) const HEADER_LEN: usize = 12;

// Header flag bits, first flags octet.
pub(crate) const FLAG_QR: u8 = 0x80;
pub(crate) const OPCODE_MASK: u8 = 0x78;
#[cfg(test)]
pub(crate) const FLAG_AA: u8 = 0x04;
pub(crate) const FLAG_TC: u8 = 0x02;
pub(crate) const FLAG_RD: u8 = 0x01;
// Second flags octet.
#[cfg(test)]
pub(crate) const FLAG_RA: u8 = 0x80;
pub(crate) const FLAG_AD: u8 = 0x20;
pub(crate) const FLAG_CD: u8 = 0x10;

/// The DO bit in the first octet of an OPT record's flags (its TTL field's third octet).
pub(crate) const OPT_FLAG_DO: u8 = 0x80;

/// The EDNS0 UDP payload size advertised upstream and to clients (DNS flag day 2020).
pub const UPSTREAM_UDP_PAYLOAD: u16 = 1232;

/// A DNS message's limit over UDP without EDNS0, and the smallest EDNS0 size honoured (RFC 6891).
pub const MIN_UDP_PAYLOAD: u16 = 512;

/// The largest UDP reply taken from an upstream (asked with [`UPSTREAM_UDP_PAYLOAD`]): a bigger
/// one is treated as truncated and asked again over TCP. (A client's UDP reply is as big as the
/// client's EDNS0 size, as CoreDNS's own replies are: its `bufsize` plugin caps that size.)
pub const MAX_UPSTREAM_UDP_REPLY: u16 = 4096;

/// A DNS message's limit over TCP.
pub const MAX_TCP_MESSAGE: u16 = 65535;

/// The longest name in wire form, root label included (RFC 1035 §2.3.4).
pub(crate) const MAX_WIRE_LEN: usize = 255;

/// The longest label (RFC 1035 §2.3.4).
pub(crate) const MAX_LABEL_LEN: usize = 63;

/// How a message travels: how the client's query arrived (and so how big its answer may be), or
/// how to send a query upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: the reply must fit the client's EDNS0 size, or 512 without EDNS0.
    Udp,
    /// TCP (2-byte length framing): the reply must fit 65535 octets.
    Tcp,
}
