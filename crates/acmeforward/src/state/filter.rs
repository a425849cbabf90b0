//! The pass filter: a compact summary of every question the engine could take other than a
//! challenge name, computed by the engine from its configuration and its learned and prefetched
//! state ([`crate::Engine::pass_filter`]). A question it rules out is [`crate::Verdict::Pass`]
//! for sure, decided from the name's first byte, the type, and a hash of the name's last label,
//! without scanning the name or touching the engine's state.
//!
//! It exists so that a caller across an FFI boundary can keep a copy and answer most questions
//! of a cluster (names under `cluster.local`, types the rules never take) without a call. The
//! copy may be stale in one direction only: the state grows only through calls the caller makes
//! (replies handed to exchanges, prefetch polls), after which it takes a fresh copy; a shrinking
//! state leaves the copy conservative.

use crate::state::prefilter::{FILTER_BITS, FILTER_WORDS, filter_bit, filter_bit_lower, pair_bit};
use crate::wire::{CLASS_IN, MAX_LABEL_LEN, TYPE_A, TYPE_AAAA};

/// The pass filter. Plain data: copy it freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassFilter {
    /// Bit `t` (word `t / 64`, bit `t % 64`) is set when some rule other than the challenge rule
    /// may take a question of type `t` (below 256).
    pub types: [u64; 4],
    /// Bit [`label_bit`] of the last label of every name that a rule other than the challenge
    /// rule may take (word `bit / 64`, bit `bit % 64`); all bits when such a name is the root.
    pub labels: [u64; FILTER_WORDS],
    /// Bit [`label_bit`] of the last label of every hairpin name and wildcard zone.
    pub hairpin_labels: [u64; FILTER_WORDS],
    /// Bit [`pair_bit`] of the first and last labels of every learned and prefetched
    /// nameserver host (the only names whose A and AAAA questions a rule other than hairpin
    /// takes).
    pub pairs: [u64; FILTER_WORDS],
}

/// The bit sets of a [`PassFilter`], read one bit at a time (so that the engine can read the
/// one word it needs from its atomics).
pub(crate) trait Bits {
    fn label(&self, bit: usize) -> bool;
    fn hairpin_label(&self, bit: usize) -> bool;
    fn pair(&self, bit: usize) -> bool;
}

impl Bits for PassFilter {
    fn label(&self, bit: usize) -> bool {
        bit_set(&self.labels, bit)
    }
    fn hairpin_label(&self, bit: usize) -> bool {
        bit_set(&self.hairpin_labels, bit)
    }
    fn pair(&self, bit: usize) -> bool {
        bit_set(&self.pairs, bit)
    }
}

impl PassFilter {
    /// Whether the question (name in presentation format, as for [`crate::Engine::classify`])
    /// passes for sure. The rule, which callers that keep a copy implement as is:
    ///
    /// 1. class other than IN: passes;
    /// 2. empty name, or first byte `_` or `\`: may be a challenge name, not ruled out;
    /// 3. type 256 or above: not ruled out; type bit clear: passes;
    /// 4. the last label (after one trailing `.` is dropped, the bytes after the last `.`):
    ///    not ruled out when it is empty, longer than 63 bytes, holds a `\`, or follows a `\`
    ///    (an escaped dot); else passes when its [`label_bit`] is clear in `labels`;
    /// 5. types A (1) and AAAA (28) only, else not ruled out: not ruled out when the label bit
    ///    is set in `hairpin_labels`; the first label (the bytes before the first `.`): not
    ///    ruled out when it is empty, longer than 63 bytes or holds a `\`; else passes when
    ///    [`pair_bit`]`(label_bit(first label), label_bit(last label))` is clear in `pairs`.
    pub fn passes(&self, qname: &[u8], qtype: u16, qclass: u16) -> bool {
        passes(&self.types, self, qname, qtype, qclass)
    }

    /// Sets the bit of type `t`.
    pub(crate) fn add_type(&mut self, t: u16) {
        set_bit(&mut self.types, usize::from(t));
    }

    /// Sets the bit of the last label of a lower-cased wire-form name (every bit for the root).
    pub(crate) fn add_name(&mut self, wire: &[u8]) {
        match crate::wire::name::labels(wire).last() {
            Some(label) => set_bit(&mut self.labels, filter_bit(label)),
            None => self.labels = [u64::MAX; FILTER_WORDS],
        }
    }

    /// Sets the bit of a hairpin name's lower-cased last label, in `labels` and
    /// `hairpin_labels`.
    pub(crate) fn add_hairpin_label(&mut self, label: &[u8]) {
        set_bit(&mut self.labels, filter_bit(label));
        set_bit(&mut self.hairpin_labels, filter_bit(label));
    }
}

/// [`PassFilter::passes`] on `types` and the bit sets of `bits`.
#[inline]
pub(crate) fn passes(
    types: &[u64; 4],
    bits: &impl Bits,
    qname: &[u8],
    qtype: u16,
    qclass: u16,
) -> bool {
    if qclass != CLASS_IN {
        return true;
    }
    if matches!(qname.first(), None | Some(b'_' | b'\\')) {
        return false;
    }
    if qtype >= 256 {
        return false;
    }
    if !bit_set(types, usize::from(qtype)) {
        return true;
    }
    // Labels are hashed in place in `qname`, whose bytes around them spare a copy.
    let name = qname.strip_suffix(b".").unwrap_or(qname);
    let Some(start) = last_label(name) else {
        return false;
    };
    let label = label_bit_in(qname, start, name.len());
    if !bits.label(label) {
        return true;
    }
    if !matches!(qtype, TYPE_A | TYPE_AAAA) || bits.hairpin_label(label) {
        return false;
    }
    let Some(end) = first_label(name) else {
        return false;
    };
    !bits.pair(pair_bit(label_bit_in(qname, 0, end), label))
}

/// The label bit of a label as it appears in a presentation-format name (no escapes): the
/// learned names' prefilter hash ([`filter_bit`], FxHash-style over 8-byte little-endian words,
/// 4096 bits) of its bytes in ASCII lower case.
pub fn label_bit(label: &[u8]) -> usize {
    label_bit_in(label, 0, label.len().min(MAX_LABEL_LEN))
}

/// [`label_bit`] of the label `name[start..end]`, reading the bytes around it.
#[inline]
fn label_bit_in(name: &[u8], start: usize, end: usize) -> usize {
    filter_bit_lower(name, start, end)
}

/// Where the last label of a presentation-format name without its trailing dot starts, when it
/// can be had without unescaping: see [`PassFilter::passes`], step 4. The last 8 bytes are
/// searched at once; a longer label is searched byte by byte, at most 64.
#[inline]
fn last_label(name: &[u8]) -> Option<usize> {
    let n = name.len();
    let start = match word_at(name, n.wrapping_sub(8)).map(dots_and_escapes) {
        // The nearest `.` or `\` is byte 7 - leading_zeros / 8 of the word.
        Some(hits) if hits != 0 => n - 1 - (hits.leading_zeros() as usize / 8),
        _ => name
            .iter()
            .rev()
            .take(MAX_LABEL_LEN + 1)
            .position(|&b| b == b'.' || b == b'\\')
            .map_or(n.saturating_sub(MAX_LABEL_LEN + 1), |back| n - 1 - back),
    };
    // `start` is the `.` or `\` before the label, or the name's start.
    let (label_start, stop) = match name.get(start) {
        Some(&b'.') if n - start > 1 => (start + 1, b'.'),
        Some(&b'.' | &b'\\') => return None,
        _ => (start, 0),
    };
    let len = n - label_start;
    let escaped_dot = stop == b'.' && start >= 1 && name.get(start - 1) == Some(&b'\\');
    if len == 0 || len > MAX_LABEL_LEN || escaped_dot {
        return None;
    }
    Some(label_start)
}

/// Where the first label of a presentation-format name without its trailing dot ends, when it
/// can be had without unescaping: see [`PassFilter::passes`], step 5. The first 8 bytes are
/// searched at once; a longer label is searched byte by byte, at most 64.
#[inline(always)]
fn first_label(name: &[u8]) -> Option<usize> {
    let end = match word_at(name, 0).map(dots_and_escapes) {
        Some(hits) if hits != 0 => hits.trailing_zeros() as usize / 8,
        _ => name
            .iter()
            .take(MAX_LABEL_LEN + 1)
            .position(|&b| b == b'.' || b == b'\\')
            .unwrap_or(name.len().min(MAX_LABEL_LEN + 1)),
    };
    if name.get(end) == Some(&b'\\') || end == 0 || end > MAX_LABEL_LEN {
        return None;
    }
    Some(end)
}

/// The 8 bytes of `name` at `at`, as a little-endian word.
#[inline]
fn word_at(name: &[u8], at: usize) -> Option<u64> {
    let bytes = name.get(at..at.checked_add(8)?)?;
    bytes.try_into().ok().map(u64::from_le_bytes)
}

/// Bit 7 of each byte of `w` that is `.` or `\` (exact: no carry crosses bytes).
#[inline]
fn dots_and_escapes(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let zero = |x: u64| !(((x & LOW7).wrapping_add(LOW7)) | x) & !LOW7;
    zero(w ^ (ONES * u64::from(b'.'))) | zero(w ^ (ONES * u64::from(b'\\')))
}

fn bit_set(words: &[u64], bit: usize) -> bool {
    words
        .get(bit / 64)
        .is_some_and(|w| w & (1 << (bit % 64)) != 0)
}

fn set_bit(words: &mut [u64], bit: usize) {
    if let Some(w) = words.get_mut(bit / 64) {
        *w |= 1 << (bit % 64);
    }
}

const _: () = assert!(FILTER_BITS == FILTER_WORDS * 64);

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
