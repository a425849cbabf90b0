//! The first labels that make a name a challenge name (rule 1): `_acme-challenge` (DNS-01) and
//! `_validation-persist` (dns-persist-01) by default, or the set given with `labels`; and, while
//! `_acme-challenge` is in the set, the dns-account-01 shape `_<account>._acme-challenge`.
//!
//! The classifier asks this for every name that starts with `_` or `\`, so a match compares the
//! first label only with the labels of its own length (one, in the default set) and never walks
//! the whole set.

use crate::config::error::ConfigError;
use crate::wire::{ACME_LABEL, MAX_LABEL_LEN, PERSIST_LABEL};

/// The most labels `labels` may list: enough for every challenge type there is, and small
/// enough that the set stays a few cache lines.
pub const MAX_CHALLENGE_LABELS: usize = 16;

/// The default challenge labels, in presentation format.
pub const DEFAULT_CHALLENGE_LABELS: [&str; 2] = ["_acme-challenge", "_validation-persist"];

/// The length of a dns-account-01 account label: `_` and 16 base32 characters.
const ACCOUNT_LABEL_LEN: usize = 17;

/// A set of challenge labels, lower case, each at most 63 octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChallengeLabels {
    labels: Vec<Box<[u8]>>,
    /// Bit `i` of `by_len[n]` is set when `labels[i]` is `n` octets long.
    by_len: [u16; MAX_LABEL_LEN + 1],
    /// The shortest label's length: a shorter presentation-format name cannot hold one.
    min_len: usize,
    /// Whether `_acme-challenge` is in the set: then the dns-account-01 shape matches too.
    account: bool,
}

impl Default for ChallengeLabels {
    fn default() -> Self {
        let mut set = ChallengeLabels::empty();
        for label in [ACME_LABEL, PERSIST_LABEL] {
            set.insert(label.into());
        }
        set
    }
}

impl ChallengeLabels {
    fn empty() -> Self {
        ChallengeLabels {
            labels: Vec::new(),
            by_len: [0; MAX_LABEL_LEN + 1],
            min_len: MAX_LABEL_LEN,
            account: false,
        }
    }

    /// A set of the one label `label` (replacing the defaults), or why `label` is refused.
    pub(crate) fn only(label: &str) -> Result<Self, ConfigError> {
        let label = check(label)?;
        let mut set = ChallengeLabels::empty();
        set.insert(label);
        Ok(set)
    }

    /// Adds `label`, or says why not (the set is unchanged then).
    pub(crate) fn add(&mut self, label: &str) -> Result<(), ConfigError> {
        let label = check(label)?;
        if self.labels.contains(&label) {
            return Err(ConfigError::LabelDuplicate);
        }
        if self.labels.len() >= MAX_CHALLENGE_LABELS {
            return Err(ConfigError::TooManyLabels);
        }
        self.insert(label);
        Ok(())
    }

    fn insert(&mut self, label: Box<[u8]>) {
        let index = self.labels.len();
        if let Some(bits) = self.by_len.get_mut(label.len()) {
            *bits |= 1 << index;
        }
        self.min_len = self.min_len.min(label.len());
        self.account |= *label == *ACME_LABEL;
        self.labels.push(label);
    }

    /// The labels, lower case, in the order added.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.labels.iter().map(|l| &**l)
    }

    /// Whether a presentation-format name can be a challenge name at all, judged without
    /// scanning it: it has to start with `_` or with an escape that may decode to `_` (`\095`,
    /// `\_`), and have room for the shortest label. Most names of a cluster fail here, on their
    /// first byte.
    #[inline]
    pub(crate) fn may_match(&self, qname: &[u8]) -> bool {
        matches!(qname.first(), Some(b'_' | b'\\')) && qname.len() >= self.min_len
    }

    /// Whether the lower-cased wire-form `wire` has a challenge label first, or is of the
    /// dns-account-01 shape (`_acme-challenge` in the set).
    pub(crate) fn matches(&self, wire: &[u8]) -> bool {
        let Some((&len, rest)) = wire.split_first() else {
            return false;
        };
        let len = usize::from(len);
        let Some(first) = rest.get(..len) else {
            return false;
        };
        let mut bits = self.by_len.get(len).copied().unwrap_or(0);
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            if self.labels.get(i).is_some_and(|l| **l == *first) {
                return true;
            }
            bits &= bits - 1;
        }
        self.account && len == ACCOUNT_LABEL_LEN && is_account(first, rest.get(len..))
    }
}

/// dns-account-01: `first` is `_` and 16 characters of the RFC 4648 base32 alphabet (the name
/// is lower-cased already, so an upper-case account label matches too, as DNS compares ASCII
/// case-insensitively), and the next label of `after` is `_acme-challenge`.
fn is_account(first: &[u8], after: Option<&[u8]>) -> bool {
    let Some((b'_', chars)) = first.split_first() else {
        return false;
    };
    if !chars.iter().all(|c| matches!(c, b'a'..=b'z' | b'2'..=b'7')) {
        return false;
    }
    let Some((&next_len, next)) = after.and_then(<[u8]>::split_first) else {
        return false;
    };
    usize::from(next_len) == ACME_LABEL.len() && next.get(..ACME_LABEL.len()) == Some(ACME_LABEL)
}

/// A label as the Corefile gives it, checked and lower-cased: `_` first, then letters, digits,
/// `-` and `_`, at most 63 characters. No dots and no escapes: one plain label.
fn check(label: &str) -> Result<Box<[u8]>, ConfigError> {
    let bytes = label.as_bytes();
    match bytes.first() {
        None => return Err(ConfigError::LabelEmpty),
        Some(b'_') => {}
        Some(_) => return Err(ConfigError::LabelNoUnderscore),
    }
    if bytes.len() > MAX_LABEL_LEN {
        return Err(ConfigError::LabelTooLong);
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        return Err(ConfigError::LabelBadCharacter);
    }
    Ok(bytes.to_ascii_lowercase().into())
}

#[cfg(test)]
#[path = "labels_tests.rs"]
mod tests;
