//! Presentation-format domain names, scanned into wire form in a fixed stack buffer.
//!
//! This is the one place that understands the text form of a name, as miekg/dns (and so CoreDNS)
//! produces it and as an operator writes it in a Corefile:
//!
//! * labels are separated by `.`; the trailing dot is optional; `.` alone is the root;
//! * `\DDD` (exactly three decimal digits, at most 255) is the byte with that value;
//! * `\X` for any other character X is X itself, so `\.` is a dot *inside* a label.
//!
//! Both the configuration (zones, once) and the classifier (every query) use [`scan`], which never
//! allocates: the result is at most 255 octets and lives in a [`WireName`] on the stack.

use core::fmt;

use hickory_proto::rr::Name;

use crate::wire::{MAX_LABEL_LEN, MAX_WIRE_LEN};

/// Why a presentation-format name was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameError {
    /// The input was empty.
    Empty,
    /// Two dots in a row, or a leading dot before another label.
    EmptyLabel,
    /// A label longer than 63 octets (after unescaping).
    LabelTooLong,
    /// The whole name is longer than 255 octets in wire form.
    TooLong,
    /// A `\` at the end, or a `\DDD` escape that is not three digits or is above 255.
    BadEscape,
}

impl NameError {
    /// A static, operator-readable description.
    pub fn as_str(&self) -> &'static str {
        match self {
            NameError::Empty => "name is empty: use `.` for the root zone",
            NameError::EmptyLabel => "name has an empty label: two dots in a row, or a leading dot",
            NameError::LabelTooLong => "label longer than 63 octets",
            NameError::TooLong => "name longer than 255 octets",
            NameError::BadEscape => {
                "bad escape in name: use \\X for a literal character or \\DDD (three digits, at most 255)"
            }
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for NameError {}

/// A name in lower-cased wire form (length-prefixed labels ending in the root label), on the stack.
pub(crate) struct WireName {
    buf: [u8; MAX_WIRE_LEN],
    len: usize,
}

impl WireName {
    /// The wire-form bytes, ending in the zero root label.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Scans a presentation-format name into lower-cased wire form. Never allocates, never panics.
pub(crate) fn scan(input: &[u8]) -> Result<WireName, NameError> {
    let mut out = WireName {
        buf: [0; MAX_WIRE_LEN],
        len: 0,
    };
    if input.is_empty() {
        return Err(NameError::Empty);
    }
    if input == b"." {
        // buf[0] is already the root label.
        out.len = 1;
        return Ok(out);
    }

    // `len_at` is where the current label's length octet goes, `pos` where its next octet goes.
    let mut len_at = 0usize;
    let mut pos = 1usize;
    let mut label_len = 0usize;
    // Whether the last thing seen was an unescaped dot (then there is no open label at the end).
    let mut after_dot = false;
    let mut i = 0usize;

    while let Some(&c) = input.get(i) {
        i += 1;
        let byte = match c {
            b'.' => {
                if label_len == 0 {
                    return Err(NameError::EmptyLabel);
                }
                close_label(&mut out.buf, &mut len_at, &mut pos, &mut label_len)?;
                after_dot = true;
                continue;
            }
            b'\\' => {
                let (b, used) = unescape(input.get(i..).unwrap_or(&[]))?;
                i += used;
                b
            }
            other => other,
        };
        after_dot = false;
        label_len += 1;
        if label_len > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        // The root label still has to fit after this octet.
        if pos + 1 >= MAX_WIRE_LEN {
            return Err(NameError::TooLong);
        }
        let slot = out.buf.get_mut(pos).ok_or(NameError::TooLong)?;
        *slot = byte.to_ascii_lowercase();
        pos += 1;
    }

    if !after_dot {
        // Input ended inside a label (no trailing dot): close it. It is not empty, since the input
        // is non-empty and did not end with a dot.
        close_label(&mut out.buf, &mut len_at, &mut pos, &mut label_len)?;
    }
    // The root label: buf[len_at] is still zero from initialisation, but write it to be explicit.
    let root = out.buf.get_mut(len_at).ok_or(NameError::TooLong)?;
    *root = 0;
    out.len = len_at + 1;
    Ok(out)
}

fn close_label(
    buf: &mut [u8; MAX_WIRE_LEN],
    len_at: &mut usize,
    pos: &mut usize,
    label_len: &mut usize,
) -> Result<(), NameError> {
    let slot = buf.get_mut(*len_at).ok_or(NameError::TooLong)?;
    // label_len <= 63 is checked before every octet is written.
    *slot = u8::try_from(*label_len).map_err(|_| NameError::LabelTooLong)?;
    *len_at = *pos;
    *pos += 1;
    *label_len = 0;
    if *len_at >= MAX_WIRE_LEN {
        return Err(NameError::TooLong);
    }
    Ok(())
}

/// Decodes the escape after a `\`. Returns the byte and how many input bytes it used.
fn unescape(rest: &[u8]) -> Result<(u8, usize), NameError> {
    match rest {
        [] => Err(NameError::BadEscape),
        [d0, ..] if d0.is_ascii_digit() => match rest {
            [d0, d1, d2, ..] if d1.is_ascii_digit() && d2.is_ascii_digit() => {
                let v =
                    u16::from(d0 - b'0') * 100 + u16::from(d1 - b'0') * 10 + u16::from(d2 - b'0');
                u8::try_from(v)
                    .map(|b| (b, 3))
                    .map_err(|_| NameError::BadEscape)
            }
            _ => Err(NameError::BadEscape),
        },
        [c, ..] => Ok((*c, 1)),
    }
}

/// Iterates over the labels of a wire-form name (without the root label). Stops at the first
/// malformed length octet; names produced by [`scan`] are always well formed.
pub(crate) fn labels(wire: &[u8]) -> Labels<'_> {
    Labels { rest: wire }
}

pub(crate) struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let len = usize::from(len);
        if len == 0 || len > MAX_LABEL_LEN {
            self.rest = &[];
            return None;
        }
        let label = tail.get(..len)?;
        self.rest = tail.get(len..).unwrap_or(&[]);
        Some(label)
    }
}

/// Whether the wire-form `name` is at or below the wire-form `zone`, label-aware. Both must be in
/// the same letter case (the callers keep both lower-cased).
pub(crate) fn is_at_or_below(name: &[u8], zone: &[u8]) -> bool {
    if zone.len() > name.len() {
        return false;
    }
    let mut off = 0usize;
    loop {
        let Some(rest) = name.get(off..) else {
            return false;
        };
        if rest.len() == zone.len() {
            return rest == zone;
        }
        if rest.len() < zone.len() {
            // A label boundary was skipped past: zone is not a suffix of whole labels.
            return false;
        }
        match rest.first() {
            Some(&len) if len != 0 => off += 1 + usize::from(len),
            _ => return false,
        }
    }
}

/// The strict ancestors of a well-formed wire-form name, nearest first, without the root.
pub(crate) fn ancestors(wire: &[u8]) -> Ancestors<'_> {
    Ancestors { rest: wire }
}

pub(crate) struct Ancestors<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Ancestors<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, _) = self.rest.split_first()?;
        if len == 0 {
            return None;
        }
        self.rest = self.rest.get(1 + usize::from(len)..).unwrap_or(&[]);
        match self.rest.first() {
            Some(&n) if n != 0 => Some(self.rest),
            _ => {
                self.rest = &[];
                None
            }
        }
    }
}

/// Checks that `input` is a well-formed uncompressed wire-form name (labels of 1..=63 octets,
/// at most 255 octets, ending in the root label exactly at its end) and returns it lower-cased,
/// on the stack. Never allocates.
pub(crate) fn normalize_wire(input: &[u8]) -> Option<WireName> {
    if input.is_empty() || input.len() > MAX_WIRE_LEN {
        return None;
    }
    let mut out = WireName {
        buf: [0; MAX_WIRE_LEN],
        len: input.len(),
    };
    let mut i = 0usize;
    loop {
        let len = usize::from(*input.get(i)?);
        if len == 0 {
            return (i + 1 == input.len()).then_some(out);
        }
        if len > MAX_LABEL_LEN {
            return None;
        }
        let end = i + 1 + len;
        let src = input.get(i..end)?;
        let dst = out.buf.get_mut(i..end)?;
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.to_ascii_lowercase();
        }
        i = end;
    }
}

/// Writes a wire-form name in presentation format, escaping like miekg/dns does.
pub(crate) fn write_presentation(wire: &[u8], f: &mut impl fmt::Write) -> fmt::Result {
    let mut any = false;
    for label in labels(wire) {
        any = true;
        for &b in label {
            match b {
                b'.' | b' ' | b'\'' | b'@' | b';' | b'(' | b')' | b'"' | b'\\' => {
                    f.write_char('\\')?;
                    f.write_char(char::from(b))?;
                }
                0x21..=0x7e => f.write_char(char::from(b))?,
                _ => write!(f, "\\{b:03}")?,
            }
        }
        f.write_char('.')?;
    }
    if !any {
        f.write_char('.')?;
    }
    Ok(())
}

/// Appends the wire form of a parsed name, each octet passed through `octet`.
pub(crate) fn push_name(out: &mut Vec<u8>, n: &Name, mut octet: impl FnMut(u8) -> u8) {
    for label in n.iter() {
        // Hickory only holds labels of 1 ..= 63 octets.
        let label = label.get(..label.len().min(MAX_LABEL_LEN)).unwrap_or(&[]);
        out.push(label.len() as u8);
        out.extend(label.iter().map(|&b| octet(b)));
    }
    out.push(0);
}

/// Lower-cased wire form of a parsed name.
pub(crate) fn name_wire(n: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    push_name(&mut out, n, |b| b.to_ascii_lowercase());
    out
}

#[cfg(test)]
#[path = "name_tests.rs"]
mod tests;
