//! The name prefilter: a fixed hash of a name to one of [`FILTER_BITS`] bits ([`filter_bit`],
//! also on the fly with the name's letters lower-cased), and [`Filter`], the exact counting
//! filter of the learned names' bits that the hot path ([`crate::Engine`]) and the pass filter
//! read without taking the lock.

use crate::wire::name;

/// The number of bits of the name prefilter (see [`filter_bit`]).
pub(crate) const FILTER_BITS: usize = 4096;
/// The prefilter's 64-bit words.
pub(crate) const FILTER_WORDS: usize = FILTER_BITS / 64;

/// The prefilter bit of a lower-cased wire-form name: a fixed FxHash-style hash over its bytes,
/// eight at a time, top bits kept (`< FILTER_BITS`). Deterministic, no allocation, never panics.
/// Distinct names may share a bit; that only costs the hot path a lookup.
pub(crate) fn filter_bit(key: &[u8]) -> usize {
    hash_bit(key, 0, key.len(), |w| w)
}

/// [`filter_bit`] of `buf[start..end]` with its ASCII letters lower-cased, without copying it:
/// the lower-casing is done on each 8-byte word as it is hashed, and the bytes of `buf` around
/// the key let its last word be read at once. A range outside `buf` hashes as empty.
#[inline]
pub(crate) fn filter_bit_lower(buf: &[u8], start: usize, end: usize) -> usize {
    hash_bit(buf, start, end, ascii_lower_word)
}

/// The ASCII upper-case letters of the 8 bytes of `w` in lower case (bytes of 0x80 and above
/// unchanged), all bytes at once: bit 7 of a byte's `ge_a` / `gt_z` says whether its low 7 bits
/// are at least `A` / above `Z` (no carry crosses bytes, as each is at most 0x7f + 0x3f).
#[inline]
pub(crate) fn ascii_lower_word(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = w & !HIGH;
    let ge_a = low7.wrapping_add(ONES * u64::from(0x80 - b'A'));
    let gt_z = low7.wrapping_add(ONES * u64::from(0x7f - b'Z'));
    let upper = (ge_a ^ gt_z) & !w & HIGH;
    w | (upper >> 2)
}

/// The little-endian word of `buf[at..at + n]` (`n` below 8), zero-padded: one 8-byte load from
/// `buf` where it has the bytes after or before the range, else byte by byte.
#[inline(always)]
fn partial_word(buf: &[u8], at: usize, n: usize) -> u64 {
    let word = |b: &[u8]| b.try_into().map_or(0, u64::from_le_bytes);
    // `n` is 1 ..= 7: the shifts stay below 64.
    let shift = (64 - 8 * n as u32) & 63;
    if let Some(after) = buf.get(at..at + 8) {
        word(after) & (u64::MAX >> shift)
    } else if let Some(before) = (at + n).checked_sub(8).and_then(|s| buf.get(s..at + n)) {
        word(before) >> shift
    } else {
        let bytes = buf.get(at..at + n).unwrap_or(&[]);
        bytes.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b))
    }
}

/// The hash behind [`filter_bit`]: FxHash-style over `buf[start..end]` (an empty key when the
/// range is outside `buf`) as 8-byte little-endian words, each passed through `map`, then mixed;
/// all 64 bits.
#[inline(always)]
pub(crate) fn fx_hash(buf: &[u8], start: usize, end: usize, map: impl Fn(u64) -> u64) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let end = if start <= end && end <= buf.len() {
        end
    } else {
        start
    };
    let mut h = ((end - start) as u64).wrapping_mul(K);
    let mut at = start;
    while end - at >= 8 {
        let w = buf
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes);
        h = (h.rotate_left(26) ^ map(w)).wrapping_mul(K);
        at += 8;
    }
    if at != end {
        h = (h.rotate_left(26) ^ map(partial_word(buf, at, end - at))).wrapping_mul(K);
    }
    h ^= h >> 29;
    h.wrapping_mul(K)
}

#[inline(always)]
fn hash_bit(buf: &[u8], start: usize, end: usize, map: impl Fn(u64) -> u64) -> usize {
    (fx_hash(buf, start, end, map) >> (64 - FILTER_BITS.trailing_zeros())) as usize
}

/// Counts per bit of [`FILTER_BITS`], and the bits with a non-zero count as words. Exact: a bit
/// is set if and only if its count is not zero.
#[derive(Clone)]
struct Counts {
    counts: Box<[u32]>,
    words: [u64; FILTER_WORDS],
}

impl Counts {
    fn new() -> Counts {
        Counts {
            counts: vec![0; FILTER_BITS].into_boxed_slice(),
            words: [0; FILTER_WORDS],
        }
    }

    fn add(&mut self, bit: usize) {
        if let Some(c) = self.counts.get_mut(bit) {
            // At most MAX_MAX_LEARNED entries: never saturates.
            *c = c.saturating_add(1);
        }
        if let Some(w) = self.words.get_mut(bit / 64) {
            *w |= 1 << (bit % 64);
        }
    }

    fn remove(&mut self, bit: usize) {
        let Some(c) = self.counts.get_mut(bit) else {
            return;
        };
        *c = c.saturating_sub(1);
        if *c == 0
            && let Some(w) = self.words.get_mut(bit / 64)
        {
            *w &= !(1 << (bit % 64));
        }
    }
}

/// The pass filter's bit of a name's first and last labels, from their [`filter_bit`]s:
/// `(31 * first + last) mod FILTER_BITS`.
pub(crate) fn pair_bit(first: usize, last: usize) -> usize {
    first.wrapping_mul(31).wrapping_add(last) % FILTER_BITS
}

/// A counting filter over the entries' names (bit [`filter_bit`] of each name), over their last
/// labels (bit [`filter_bit`] of the label's bytes: the pass filter's label bits), and over the
/// first and last labels together ([`pair_bit`]: the pass filter's pair bits) of the nameserver
/// hosts among them. The pair bits rule out A and AAAA questions, and of the learned and
/// prefetched names only a nameserver host's A and AAAA are forwarded (rule 3): a CNAME target
/// or an ancestor needs no pair bit, and leaving it out keeps the pair bits sparse.
#[derive(Clone)]
pub(crate) struct Filter {
    names: Counts,
    labels: Counts,
    pairs: Counts,
}

impl Filter {
    pub(crate) fn new() -> Filter {
        Filter {
            names: Counts::new(),
            labels: Counts::new(),
            pairs: Counts::new(),
        }
    }

    /// The label bit of `key`, when it has a label.
    fn label_bit(key: &[u8]) -> Option<usize> {
        Some(filter_bit(name::labels(key).last()?))
    }

    /// The pair bit of `key`, when it has a label.
    pub(crate) fn pair_bit(key: &[u8]) -> Option<usize> {
        let first = filter_bit(name::labels(key).next()?);
        Some(pair_bit(first, Filter::label_bit(key)?))
    }

    /// An entry named `key` came.
    pub(crate) fn add(&mut self, key: &[u8]) {
        self.names.add(filter_bit(key));
        if let Some(label) = Filter::label_bit(key) {
            self.labels.add(label);
        }
    }

    /// An entry named `key` went.
    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.names.remove(filter_bit(key));
        if let Some(label) = Filter::label_bit(key) {
            self.labels.remove(label);
        }
    }

    /// The entry named `key` became a nameserver host (it stays one until it goes).
    pub(crate) fn add_host(&mut self, key: &[u8]) {
        if let Some(pair) = Filter::pair_bit(key) {
            self.pairs.add(pair);
        }
    }

    /// The bits of the names, as words.
    pub(crate) fn name_words(&self) -> &[u64; FILTER_WORDS] {
        &self.names.words
    }

    /// The bits of the last labels, as words.
    pub(crate) fn label_words(&self) -> &[u64; FILTER_WORDS] {
        &self.labels.words
    }

    /// The pair bits of the nameserver hosts, as words.
    pub(crate) fn pair_words(&self) -> &[u64; FILTER_WORDS] {
        &self.pairs.words
    }

    /// The nameserver host named `key` went.
    pub(crate) fn remove_host(&mut self, key: &[u8]) {
        if let Some(pair) = Filter::pair_bit(key) {
            self.pairs.remove(pair);
        }
    }
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: u32 = self.names.words.iter().map(|w| w.count_ones()).sum();
        f.debug_struct("Filter").field("bits_set", &set).finish()
    }
}

#[cfg(test)]
#[path = "prefilter_tests.rs"]
mod tests;
