//! Building the queries an exchange sends: a fresh ID and a fresh 0x20 letter case for every
//! send, both from splitmix64 over the caller's one random word.

use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::wire::name::push_name;
use crate::wire::{
    FLAG_AD, FLAG_CD, FLAG_RD, HEADER_LEN, MAX_WIRE_LEN, OPT_FLAG_DO, TYPE_OPT,
    UPSTREAM_UDP_PAYLOAD,
};

/// splitmix64: expands the caller's one random word into as many as needed.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// How [`build_query`] builds a query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryFlags {
    /// RD.
    pub(crate) rd: bool,
    /// The second flags octet: only AD and CD are kept.
    pub(crate) flags2: u8,
    /// The DO bit of the OPT record.
    pub(crate) dnssec_ok: bool,
    /// Random letter case (DNS 0x20); else the name as given.
    pub(crate) mix_case: bool,
}

/// Builds a query: header (fresh ID; RD as asked; AD/CD from `flags2`), the question (with random
/// letter case, DNS 0x20, when asked), an OPT record (payload UPSTREAM_UDP_PAYLOAD, DO as asked,
/// no options). Returns the query, its ID and the length of its question section.
pub(crate) fn build_query(
    rng: &mut SplitMix64,
    name: &Name,
    qtype: RecordType,
    qclass: DNSClass,
    flags: QueryFlags,
) -> (Vec<u8>, u16, usize) {
    let QueryFlags {
        rd,
        flags2,
        dnssec_ok,
        mix_case,
    } = flags;
    // The ID takes the low 16 bits of one word; the case bits start on a fresh word.
    let id = rng.next_u64() as u16;
    let mut q = Vec::with_capacity(HEADER_LEN + MAX_WIRE_LEN + 4 + 11);
    // Header: ID, flags, QD=1, AN=0, NS=0, AR=1.
    q.extend_from_slice(&id.to_be_bytes());
    q.push(if rd { FLAG_RD } else { 0 });
    q.push(flags2 & (FLAG_AD | FLAG_CD));
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);

    let mut bits = rng.next_u64();
    let mut bits_left = 64u32;
    push_name(&mut q, name, |b| {
        if !(mix_case && b.is_ascii_alphabetic()) {
            return b;
        }
        if bits_left == 0 {
            bits = rng.next_u64();
            bits_left = 64;
        }
        let flip = (bits & 1) as u8;
        bits >>= 1;
        bits_left -= 1;
        b ^ (flip << 5)
    });
    q.extend_from_slice(&u16::from(qtype).to_be_bytes());
    q.extend_from_slice(&u16::from(qclass).to_be_bytes());
    let question_len = q.len() - HEADER_LEN;

    // OPT: root owner, type 41, class = payload, TTL = ext-rcode 0, version 0, DO, no options.
    q.push(0);
    q.extend_from_slice(&TYPE_OPT.to_be_bytes());
    q.extend_from_slice(&UPSTREAM_UDP_PAYLOAD.to_be_bytes());
    let do_bit = if dnssec_ok { OPT_FLAG_DO } else { 0 };
    q.extend_from_slice(&[0, 0, do_bit, 0, 0, 0]);
    (q, id, question_len)
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
