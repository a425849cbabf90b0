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

use crate::learned::{FILTER_BITS, FILTER_WORDS, filter_bit, pair_bit};
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
    /// Bit [`pair_bit`] of the first and last labels of every learned and prefetched name
    /// (among them the nameserver hosts, the only names whose A and AAAA questions a rule
    /// other than hairpin takes).
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
        match crate::name::labels(wire).last() {
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
    let Some(label) = last_label(qname) else {
        return false;
    };
    let label = label_bit(label);
    if !bits.label(label) {
        return true;
    }
    if !matches!(qtype, TYPE_A | TYPE_AAAA) || bits.hairpin_label(label) {
        return false;
    }
    let name = qname.strip_suffix(b".").unwrap_or(qname);
    let first = match name.iter().position(|&b| b == b'.') {
        Some(dot) => name.get(..dot).unwrap_or(&[]),
        None => name,
    };
    if first.is_empty() || first.len() > MAX_LABEL_LEN || first.contains(&b'\\') {
        return false;
    }
    !bits.pair(pair_bit(label_bit(first), label))
}

/// The label bit of a label as it appears in a presentation-format name (no escapes): the
/// learned names' prefilter hash ([`filter_bit`], FxHash-style over 8-byte little-endian words,
/// 4096 bits) of its bytes in ASCII lower case.
pub fn label_bit(label: &[u8]) -> usize {
    let mut lower = [0u8; MAX_LABEL_LEN];
    let n = label.len().min(MAX_LABEL_LEN);
    for (d, s) in lower.iter_mut().zip(label) {
        *d = s.to_ascii_lowercase();
    }
    filter_bit(lower.get(..n).unwrap_or(&[]))
}

/// The last label of a presentation-format name, when it can be had without unescaping: see
/// [`PassFilter::passes`], step 4.
fn last_label(qname: &[u8]) -> Option<&[u8]> {
    let name = qname.strip_suffix(b".").unwrap_or(qname);
    let start = name
        .iter()
        .rposition(|&b| b == b'.')
        .map_or(0, |dot| dot + 1);
    let label = name.get(start..)?;
    let escaped_dot = start >= 2 && name.get(start - 2) == Some(&b'\\');
    if label.is_empty() || label.len() > MAX_LABEL_LEN || escaped_dot || label.contains(&b'\\') {
        return None;
    }
    Some(label)
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
